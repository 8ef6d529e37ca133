/*
 * labdeck Data pages — what happens in the browser:
 * - times (`.when[data-utc]`) are shown in the browser's time zone, with the date;
 * - filter forms leave empty fields out of the address, so links stay short and shareable;
 * - the run page's results table is drawn from the rows the page embeds (#data-boot);
 * - `table.sortable`: a click on a column title sorts by it (numbers as numbers), again to
 *   reverse; the first order comes back on the third click;
 * - the run page's plot (ECharts): any numeric output against the iteration or any
 *   parameter or other output, from the rows the page embeds (#data-boot);
 * - the run's control buttons POST to /api/runs/{id}/<verb>; replay opens the new run.
 * Everything from people or instruments is set as text, never as HTML.
 */
(function () {
  "use strict";

  // --- local times -----------------------------------------------------------------------------

  const DATE_TIME = { year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" };
  const TIME = { hour: "2-digit", minute: "2-digit", second: "2-digit" };

  function localize(root) {
    root.querySelectorAll(".when[data-utc]").forEach(function (node) {
      const when = new Date(node.dataset.utc.endsWith("Z") || /[+-]\d\d:\d\d$/.test(node.dataset.utc) ? node.dataset.utc : node.dataset.utc + "Z");
      if (isNaN(when.getTime())) return;
      node.textContent = when.toLocaleString([], node.dataset.style === "time" ? TIME : DATE_TIME);
      node.title = when.toString();
    });
  }

  // --- filter forms ------------------------------------------------------------------------------

  function tidyFilters(form) {
    form.addEventListener("submit", function () {
      form.querySelectorAll("input[name], select[name]").forEach(function (field) {
        if (!field.value) field.disabled = true;
      });
    });
    // back to a page kept in the browser's cache: the fields must be usable again
    window.addEventListener("pageshow", function () {
      form.querySelectorAll("input[name], select[name]").forEach(function (field) { field.disabled = false; });
    });
  }

  // --- sortable tables ---------------------------------------------------------------------------

  function cellValue(cell) {
    if (!cell) return null;
    if (cell.dataset.value !== undefined) return Number(cell.dataset.value);
    const text = cell.textContent.trim();
    return text === "—" || text === "" ? null : text;
  }

  function compare(a, b) {
    if (a === null || b === null) return a === b ? 0 : a === null ? 1 : -1; // empty cells last
    if (typeof a === "number" && typeof b === "number") return a - b;
    return String(a).localeCompare(String(b), undefined, { numeric: true });
  }

  function makeSortable(table) {
    const body = table.tBodies[0];
    const original = Array.from(body.rows);
    table.querySelectorAll("th .sort-button").forEach(function (button) {
      button.addEventListener("click", function () {
        const th = button.closest("th");
        const column = Number(button.dataset.column);
        const next = { none: "ascending", ascending: "descending", descending: "none" }[th.getAttribute("aria-sort") || "none"];
        table.querySelectorAll("th[aria-sort]").forEach(function (other) { other.setAttribute("aria-sort", "none"); });
        th.setAttribute("aria-sort", next);
        let rows = original.slice();
        if (next !== "none") {
          rows.sort(function (r, s) {
            const order = compare(cellValue(r.cells[column]), cellValue(s.cells[column]));
            return next === "ascending" ? order : -order;
          });
          if (next === "descending") { // empty cells stay last either way
            rows = rows.filter(function (r) { return cellValue(r.cells[column]) !== null; })
              .concat(rows.filter(function (r) { return cellValue(r.cells[column]) === null; }));
          }
        }
        body.replaceChildren.apply(body, rows);
        table.dataset.sortedBy = next === "none" ? "" : column + ":" + next;
      });
    });
  }

  // --- the run's results table --------------------------------------------------------------------

  const STATUS_WORDS = { pending: "waiting in queue" };

  /** 8.923418089348907 -> "8.92342": six significant digits (the exact value is the title). */
  function shortNumber(value) {
    if (Number.isInteger(value)) return String(value);
    return value.toLocaleString("en-US", { maximumSignificantDigits: 6, useGrouping: false });
  }

  function resultCell(column, value) {
    const td = document.createElement("td");
    td.dataset.label = column;
    if (value === null || value === undefined) {
      const empty = document.createElement("span");
      empty.className = "muted";
      empty.textContent = "—";
      td.append(empty);
    } else if (typeof value === "number") {
      td.className = "num";
      td.dataset.value = String(value);
      td.textContent = shortNumber(value);
      if (td.textContent !== String(value)) td.title = String(value);
    } else if (typeof value === "object") {
      const code = document.createElement("code");
      const json = JSON.stringify(value);
      code.textContent = json.length > 60 ? json.slice(0, 59) + "…" : json;
      code.title = json;
      td.append(code);
    } else {
      td.textContent = String(value);
    }
    return td;
  }

  function fillResults(boot) {
    const table = document.getElementById("results-table");
    if (!table) return;
    const rows = (boot.rows || []).map(function (row) {
      const tr = document.createElement("tr");
      boot.columns.forEach(function (column) { tr.append(resultCell(column, row[column])); });
      const status = document.createElement("td");
      status.dataset.label = "status";
      const badge = document.createElement("span");
      badge.className = "badge status status-" + row.status;
      badge.textContent = STATUS_WORDS[row.status] || row.status;
      status.append(badge);
      tr.append(status);
      return tr;
    });
    table.tBodies[0].replaceChildren.apply(table.tBodies[0], rows);
  }

  // --- the run's plot ----------------------------------------------------------------------------

  function option(value, label) {
    const node = document.createElement("option");
    node.value = value;
    node.textContent = label;
    return node;
  }

  function group(label, names) {
    const node = document.createElement("optgroup");
    node.label = label;
    names.forEach(function (name) { node.append(option(name, name)); });
    return node;
  }

  function setupPlot(boot) {
    const box = document.getElementById("plot-results");
    const ySelect = document.getElementById("plot-y");
    const xSelect = document.getElementById("plot-x");
    if (!box || !ySelect || !xSelect) return;
    const rows = boot.rows || [];
    const numeric = function (name) { return rows.some(function (r) { return typeof r[name] === "number"; }); };
    const outputs = boot.outputs.filter(numeric);
    const numericParams = boot.parameters.filter(numeric);
    if (!outputs.length && !numericParams.length) {
      document.getElementById("plot-empty").hidden = false;
      box.hidden = true;
      ySelect.disabled = xSelect.disabled = true;
      return;
    }
    if (outputs.length) ySelect.append(group("Outputs", outputs));
    if (numericParams.length) ySelect.append(group("Parameters", numericParams));
    xSelect.append(option("iteration", "iteration"));
    if (boot.parameters.length) xSelect.append(group("Parameters", boot.parameters));
    if (boot.outputs.length) xSelect.append(group("Outputs", boot.outputs));
    if (!window.echarts) {
      document.getElementById("plot-empty").textContent = "The plotting library is missing on this server (run `make setup` to install it).";
      document.getElementById("plot-empty").hidden = false;
      return;
    }
    const chart = window.echarts.init(box, null, { renderer: "canvas" });
    if (window.ResizeObserver) new ResizeObserver(function () { chart.resize(); }).observe(box);

    function draw() {
      const y = ySelect.value;
      const x = xSelect.value;
      const points = rows.filter(function (r) { return typeof r[y] === "number" && r[x] !== null && r[x] !== undefined; });
      const categorical = points.some(function (r) { return typeof r[x] !== "number"; });
      const data = points.map(function (r) { return { value: [categorical ? String(r[x]) : r[x], r[y]], row: r }; });
      if (x === "iteration") data.sort(function (a, b) { return a.value[0] - b.value[0]; });
      const axis = function (name, gap) {
        return { name: name, nameLocation: "middle", nameGap: gap, nameTextStyle: { fontWeight: 600, color: "#1d2329" },
          axisLabel: { color: "#3b4650", hideOverlap: true }, splitLine: { lineStyle: { color: "#edf0f3" } } };
      };
      chart.setOption({
        animation: false,
        textStyle: { fontFamily: getComputedStyle(document.body).fontFamily },
        grid: { left: 40, right: 24, top: 24, bottom: 48, containLabel: true },
        tooltip: { trigger: "item", confine: true, formatter: function (item) {
          const r = item.data.row;
          const lines = ["iteration " + r.iteration + (boot.columns.indexOf("sample") >= 0 ? " · sample " + r.sample : "")];
          [y, x].filter(function (name, i, all) { return name !== "iteration" && all.indexOf(name) === i; })
            .forEach(function (name) { lines.push(name + " = " + r[name]); });
          const tip = document.createElement("div");
          lines.forEach(function (line, i) { if (i) tip.append(document.createElement("br")); tip.append(line); });
          return tip.innerHTML; // built from text nodes: names and values are escaped
        } },
        xAxis: Object.assign(axis(x, 30), categorical ? { type: "category" } : { type: "value", scale: true, minInterval: x === "iteration" ? 1 : 0, boundaryGap: ["4%", "4%"] }),
        yAxis: Object.assign(axis(y, 52), { type: "value", scale: true, boundaryGap: ["6%", "6%"] }),
        series: [{ type: x === "iteration" ? "line" : "scatter", symbolSize: 8, showSymbol: true, data: data,
          itemStyle: { color: "#1f5f8b" }, lineStyle: { color: "#9ec3de", width: 1.5 } }],
      }, true);
      box.dataset.points = String(data.length);
      box.dataset.x = x;
      box.dataset.y = y;
    }
    ySelect.addEventListener("change", draw);
    xSelect.addEventListener("change", draw);
    draw();
  }

  // --- control buttons ---------------------------------------------------------------------------

  const CONFIRM = {
    cancel: "Stop this run now? The remaining steps are skipped.",
    "stop-pending": "Stop after the current iteration? The remaining iterations are skipped.",
  };
  const BODY = { replay: { version: "same" }, cancel: {}, "stop-pending": {} };

  async function act(runId, verb, button) {
    if (CONFIRM[verb] && !window.confirm(CONFIRM[verb])) return;
    const alertBox = document.getElementById("action-error");
    alertBox.hidden = true;
    button.disabled = true;
    const init = { method: "POST", credentials: "same-origin", headers: { Accept: "application/json" } };
    if (BODY[verb]) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(BODY[verb]);
    }
    try {
      const response = await fetch("/api/runs/" + encodeURIComponent(runId) + "/" + verb, init);
      let body = null;
      try { body = await response.json(); } catch (err) { body = null; }
      if (!response.ok) {
        const message = body && body.error ? body.error.message : "the server answered HTTP " + response.status;
        throw new Error(message.charAt(0).toUpperCase() + message.slice(1));
      }
      if (verb === "replay" && body && body.id) window.location.assign("/data/runs/" + encodeURIComponent(body.id));
      else window.location.reload();
    } catch (err) {
      alertBox.textContent = err.message || "The server cannot be reached. Is labdeck still running?";
      alertBox.hidden = false;
      button.disabled = false;
    }
  }

  function setupActions(box) {
    box.querySelectorAll("button[data-verb]").forEach(function (button) {
      button.addEventListener("click", function () { act(box.dataset.runId, button.dataset.verb, button); });
    });
  }

  // --- start ---------------------------------------------------------------------------------------

  function start() {
    localize(document);
    document.querySelectorAll("form.filters").forEach(tidyFilters);
    const bootNode = document.getElementById("data-boot");
    const boot = bootNode ? JSON.parse(bootNode.textContent) : null;
    if (boot) fillResults(boot);
    document.querySelectorAll("table.sortable").forEach(makeSortable);
    const actions = document.getElementById("run-actions");
    if (actions) setupActions(actions);
    if (boot) setupPlot(boot);
  }

  document.addEventListener("htmx:afterSettle", function (event) { localize(event.target); });
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
