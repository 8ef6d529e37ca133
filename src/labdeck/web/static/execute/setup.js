/*
 * labdeck Execute page — "Start a run": choosing a workflow, the parameter table, CSV, submit.
 *
 * The parameter table has one column per workflow parameter and one row per iteration,
 * pre-filled with the defaults; a CSV file (read by the server's CSV reader at
 * POST /execute/csv) replaces its rows. Submit sends POST /api/runs with a `repeat` or
 * `table` mode (or the `campaign` of campaign_form.js) and the options; problems come back
 * per row and column (or per campaign field) and are shown on the cells. On success the page
 * opens the new run.
 */
(function () {
  "use strict";
  const X = window.LabdeckExecute;
  const el = X.el;
  const setup = X.boot.setup;

  // --- choosing the workflow and version --------------------------------------------------

  const choose = document.getElementById("choose-form");
  if (choose) {
    const workflowSelect = document.getElementById("choose-workflow");
    const versionSelect = document.getElementById("choose-version");
    workflowSelect.addEventListener("change", function () {
      versionSelect.disabled = true; // a new workflow starts at its newest version
      choose.submit();
    });
    versionSelect.addEventListener("change", function () { choose.submit(); });
  }

  const form = document.getElementById("run-form");
  if (!form || !setup) return;
  const params = setup.parameters;

  // --- the parameter table ------------------------------------------------------------------

  const resolved = X.resolvedSchema;

  function cellText(value) {
    if (value === null || value === undefined) return "";
    if (typeof value === "object") return JSON.stringify(value);
    return String(value);
  }

  function typeHint(schema) {
    const s = resolved(schema);
    if (s.type === "integer") return "whole number";
    if (s.type === "number") return "number";
    if (s.type === "string") return "text";
    if (s.type === "array") return "list, e.g. [1, 2]";
    return "value";
  }

  function cellInput(param, value, rowNo) {
    const s = resolved(param.schema);
    const label = param.name + ", row " + rowNo;
    let input;
    const choices = Array.isArray(s.enum) ? s.enum : s.type === "boolean" ? [true, false] : null;
    if (choices) {
      input = el("select", { "aria-label": label });
      input.append(el("option", { value: "", textContent: param.has_default ? "default (" + cellText(param.default) + ")" : "— choose —" }));
      choices.forEach(function (c) { input.append(el("option", { value: cellText(c), textContent: cellText(c) })); });
      input.value = cellText(value);
      if (input.value !== cellText(value)) input.value = "";
    } else {
      const numeric = s.type === "number" || s.type === "integer";
      input = el("input", {
        type: "text",
        value: cellText(value),
        "aria-label": label,
        placeholder: param.has_default ? cellText(param.default) : typeHint(param.schema),
        inputMode: numeric ? "decimal" : "text",
        autocomplete: "off",
      });
    }
    input.dataset.param = param.name;
    return input;
  }

  const tbody = document.querySelector("#param-table tbody");

  function renumber() {
    Array.from(tbody.rows).forEach(function (tr, i) {
      tr.cells[0].textContent = String(i + 1);
      tr.querySelectorAll("[data-param]").forEach(function (input) {
        input.setAttribute("aria-label", input.dataset.param + ", row " + (i + 1));
      });
    });
  }

  function addRow(values) {
    const rowNo = tbody.rows.length + 1;
    const tr = el("tr", null, el("td", { className: "row-no", textContent: String(rowNo) }));
    params.forEach(function (p) {
      const given = values && Object.prototype.hasOwnProperty.call(values, p.name) ? values[p.name] : p.default;
      tr.append(el("td", null, cellInput(p, given, rowNo)));
    });
    tr.append(el("td", null, el("button", {
      type: "button", className: "btn btn-icon remove-row", title: "Remove this row", "aria-label": "Remove row",
      textContent: "✕",
      onclick: function () { tr.remove(); renumber(); },
    })));
    tbody.append(tr);
  }

  function tableRows() {
    return Array.from(tbody.rows).map(function (tr) {
      const row = {};
      tr.querySelectorAll("[data-param]").forEach(function (input) {
        const text = input.value.trim();
        if (text !== "") row[input.dataset.param] = text; // empty: the default applies
      });
      return row;
    });
  }

  if (tbody) {
    addRow(null);
    document.getElementById("add-row").addEventListener("click", function () { addRow(null); });
    const csvError = document.getElementById("csv-error");
    document.getElementById("csv-file").addEventListener("change", async function (event) {
      const file = event.target.files && event.target.files[0];
      csvError.textContent = "";
      if (!file) return;
      try {
        const response = await fetch("/execute/csv", {
          method: "POST", body: await file.text(), credentials: "same-origin",
          headers: { "Content-Type": "text/csv" },
        });
        const body = await response.json();
        if (!response.ok) throw new X.ApiError(response.status, body);
        const known = params.map(function (p) { return p.name; });
        const columns = body.rows.length ? Object.keys(body.rows[0]) : [];
        const unknown = columns.filter(function (c) { return known.indexOf(c) === -1; });
        if (unknown.length) {
          throw new Error("The file has columns this workflow does not know: " + unknown.join(", ") +
            ". Its parameters are: " + known.join(", ") + ".");
        }
        if (!body.rows.length) throw new Error("The file has a header but no rows.");
        tbody.replaceChildren();
        body.rows.forEach(function (row) {
          const values = {};
          Object.keys(row).forEach(function (k) { if (row[k] !== "") values[k] = row[k]; });
          addRow(values);
        });
        csvError.textContent = "";
        say("Loaded " + body.rows.length + (body.rows.length === 1 ? " row" : " rows") + " from " + file.name + ".");
      } catch (err) {
        const extra = err.problems && err.problems.length ? " " + err.problems.slice(0, 5).join("; ") : "";
        csvError.textContent = "Could not use " + file.name + ": " + err.message + extra;
      } finally {
        event.target.value = "";
      }
    });
  }

  // --- submitting ----------------------------------------------------------------------------

  const problemsBox = document.getElementById("submit-problems");
  function say(text) {
    problemsBox.hidden = false;
    problemsBox.className = "alert alert-info";
    problemsBox.replaceChildren(el("p", { textContent: text }));
  }

  const MARKED = "Problems of the campaign settings are marked above.";
  function showProblems(err) {
    problemsBox.hidden = false;
    problemsBox.className = "alert alert-error";
    const fields = err.body && err.body.error && err.body.error.detail && err.body.error.detail.fields;
    let problems = err.problems || [];
    if (campaign() && Array.isArray(fields)) { // shown next to their inputs when they can be
      problems = X.campaignForm.markFields(fields).map(function (f) { return f.message || f.field; });
      if (problems.length < fields.length) problems.unshift(MARKED);
    }
    // when every problem sits next to its input, fixing them all hides this box (campaign_form.js)
    problemsBox.dataset.allMarked = String(campaign() && problems.every(function (p) { return p === MARKED; }));
    const list = el("ul", { className: "problem-list" });
    problems.slice(0, 20).forEach(function (p) { list.append(el("li", { textContent: p })); });
    problemsBox.replaceChildren(el("p", { textContent: err.message }), problems.length ? list : null);
    (fields || []).forEach(function (f) {
      const match = /^rows\[(\d+)\]\.(.+)$/.exec(f.field || "");
      if (!match || !tbody) return;
      const tr = tbody.rows[Number(match[1]) - 1];
      const input = tr && tr.querySelector('[data-param="' + CSS.escape(match[2]) + '"]');
      if (input) { input.classList.add("is-invalid"); input.title = f.message; }
    });
  }

  function numberOf(id, fallback) {
    const value = Number(document.getElementById(id).value);
    return Number.isFinite(value) ? value : fallback;
  }

  form.addEventListener("input", function (event) { event.target.classList && event.target.classList.remove("is-invalid"); });

  function campaign() { return Boolean(X.campaignForm && X.campaignForm.active()); }

  form.addEventListener("submit", async function (event) {
    event.preventDefault();
    problemsBox.hidden = true;
    let mode;
    if (campaign()) {
      try { mode = X.campaignForm.mode(); } catch (err) { showProblems(err); return; }
    } else if (tbody) {
      const rows = tableRows();
      if (!rows.length) { showProblems({ message: "Add at least one row to the table." }); return; }
      mode = { table: rows };
    } else {
      const count = numberOf("repeat-count", 1);
      if (!Number.isInteger(count) || count < 1) { showProblems({ message: "“How many times?” must be a whole number of at least 1." }); return; }
      mode = { repeat: count };
    }
    const body = {
      workflow: setup.workflow,
      version: setup.version,
      mode: mode,
      batch_size: numberOf("batch-size", 1),
      on_error: document.getElementById("on-error").value,
      retries: numberOf("retries", 0),
      cleanup_on_failure: document.getElementById("cleanup-on-failure").checked,
    };
    const name = document.getElementById("run-name").value.trim();
    if (name) body.name = name;
    const button = document.getElementById("submit-run");
    button.disabled = true;
    try {
      const run = await X.api("POST", "/api/runs", body);
      const query = "?workflow=" + encodeURIComponent(setup.workflow) + "&version=" + setup.version;
      window.location.assign("/execute/runs/" + encodeURIComponent(run.id) + query);
    } catch (err) {
      showProblems(err);
      button.disabled = false;
    }
  });
})();
