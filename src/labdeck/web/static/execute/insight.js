/*
 * labdeck Execute page — optimization results of a campaign run, plotted with ECharts.
 *
 * Reads GET /api/runs/{id}/campaign and draws: each experiment's result with the best so far;
 * the result against one parameter; every experiment at a glance (parallel coordinates);
 * which parameters matter (when the optimizer estimates it); the trade-off between two goals
 * (when there are several); and a "best so far" card. live.js announces each re-read of the
 * run (a `labdeck:run` event); when the run's iteration count or status changed, the campaign
 * is re-read (debounced) so the plots grow as experiments finish. `data-observations` on the
 * section and on the first plot says how many observations are drawn (tests wait on it).
 */
(function () {
  "use strict";
  const X = window.LabdeckExecute;
  const el = X.el;
  const root = document.getElementById("insight");
  if (!root || !X.boot.run) return;
  const runId = X.boot.run.id;
  const $ = function (id) { return document.getElementById(id); };
  const COLORS = { run: "#1f5f8b", history: "#7d8893", best: "#1a7f37", failed: "#b42318", muted: "#c5ccd5" };
  const CROSS = "path://M2,0L5,3L8,0L10,2L7,5L10,8L8,10L5,7L2,10L0,8L3,5L0,2Z";
  const TEXT = { color: "#1d2329", fontSize: 12 };
  const charts = {};
  let data = null;
  let lastKey = null;
  let timer = null;
  let seq = 0;

  const resizer = window.ResizeObserver ? new ResizeObserver(function (entries) {
    entries.forEach(function (entry) { const c = charts[entry.target.id]; if (c) c.resize(); });
  }) : null;

  function chart(id) {
    if (!charts[id]) {
      charts[id] = window.echarts.init($(id), null, { renderer: "canvas" });
      if (resizer) resizer.observe($(id));
    }
    return charts[id];
  }

  function fmt(v) {
    if (typeof v !== "number") return v === null || v === undefined ? "—" : String(v);
    if (Number.isInteger(v)) return String(v);
    const opts = Math.abs(v) >= 1000 ? { maximumFractionDigits: 1 } : { maximumSignificantDigits: 4 };
    return v.toLocaleString("en-US", Object.assign({ useGrouping: false }, opts));
  }

  // The run's experiments count from 1; earlier (warm-start) results all sit at 0, "earlier".
  let numbers = {};
  function experiment(o) { return numbers[o.index] || 0; }
  function numberExperiments() {
    numbers = {};
    let n = 0;
    data.observations.forEach(function (o) { if (o.source !== "history") numbers[o.index] = ++n; });
  }

  function aim(objective) { return objective.direction === "minimize" ? "lower is better" : "higher is better"; }

  function chosenObjective() {
    const select = $("insight-objective");
    return data.objectives.find(function (o) { return o.name === select.value; }) || data.objectives[0];
  }

  function tunable() { return data.parameters.filter(function (p) { return p.type !== "fixed"; }); }

  function axisBase(name) {
    return {
      name: name, nameLocation: "middle", nameMoveOverlap: true, nameTextStyle: { fontWeight: 600, color: TEXT.color },
      axisLabel: { color: "#3b4650", hideOverlap: true }, splitLine: { lineStyle: { color: "#edf0f3" } },
    };
  }

  function paramAxis(p, observations) {
    const base = axisBase(p.name);
    if (p.type === "choice") return Object.assign(base, { type: "category", data: (p.choices || []).map(String) });
    const positive = observations.every(function (o) { return typeof o.params[p.name] === "number" && o.params[p.name] > 0; });
    return Object.assign(base, { type: p.log && positive ? "log" : "value", scale: true });
  }

  function tooltipFor(o) {
    const lines = [o.source === "history" ? "<b>Earlier result</b> (warm start)" : "<b>Experiment " + experiment(o) + "</b>" + (o.iteration ? " · iteration " + o.iteration : "")];
    if (o.failed) lines.push("failed: no result");
    data.objectives.forEach(function (obj) {
      if (o.values && o.values[obj.name] !== undefined) lines.push(esc(obj.name) + ": <b>" + fmt(o.values[obj.name]) + "</b>");
    });
    tunable().forEach(function (p) { lines.push(esc(p.name) + " = " + esc(fmt(o.params[p.name]))); });
    return lines.join("<br>");
  }

  function esc(text) {
    return String(text).replace(/[&<>"']/g, function (c) { return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]; });
  }

  function base() {
    return {
      animation: false,
      textStyle: { fontFamily: getComputedStyle(document.body).fontFamily },
      tooltip: { trigger: "item", confine: true, formatter: function (item) {
        const o = item.data && item.data.obs;
        return o ? tooltipFor(o) : esc(item.seriesName) + (Array.isArray(item.value) ? ": " + fmt(item.value[1]) : "");
      } },
    };
  }

  function point(o, x, y) { return { value: [x, y], obs: o }; }

  // --- (a) each experiment's result, with the best so far ------------------------------------

  function drawProgress(objective) {
    const obs = data.observations;
    const ok = obs.filter(function (o) { return !o.failed && typeof o.values[objective.name] === "number"; });
    const ys = ok.map(function (o) { return o.values[objective.name]; });
    const lo = ys.length ? Math.min.apply(null, ys) : 0;
    const hi = ys.length ? Math.max.apply(null, ys) : 1;
    const floor = lo - ((hi - lo) || Math.abs(lo) || 1) * 0.08; // where failed experiments are marked
    const failed = obs.filter(function (o) { return o.failed || typeof o.values[objective.name] !== "number"; });
    const best = (data.best_so_far && data.best_so_far[objective.name]) || [];
    const line = obs.map(function (o, i) { return best[i] === null || best[i] === undefined ? null : [experiment(o), best[i]]; }).filter(Boolean);
    const series = [
      { name: "Experiment", type: "scatter", symbolSize: 9, itemStyle: { color: COLORS.run },
        data: ok.filter(function (o) { return o.source !== "history"; }).map(function (o) { return point(o, experiment(o), o.values[objective.name]); }) },
      { name: "Earlier result", type: "scatter", symbol: "diamond", symbolSize: 10, itemStyle: { color: "#fff", borderColor: COLORS.history, borderWidth: 1.5 },
        data: ok.filter(function (o) { return o.source === "history"; }).map(function (o) { return point(o, experiment(o), o.values[objective.name]); }) },
      { name: "Best so far", type: "line", step: "end", showSymbol: false, lineStyle: { color: COLORS.best, width: 2 }, itemStyle: { color: COLORS.best }, data: line, tooltip: { show: false } },
      { name: "Failed (no result)", type: "scatter", symbol: CROSS, symbolSize: 9, itemStyle: { color: COLORS.failed },
        data: failed.map(function (o) { return point(o, experiment(o), floor); }) },
    ];
    if (objective.threshold !== null && objective.threshold !== undefined) {
      series[2].markLine = { silent: true, symbol: "none", label: { formatter: "good enough", color: COLORS.best, position: "insideEndTop" },
        lineStyle: { type: "dashed", color: COLORS.best }, data: [{ yAxis: objective.threshold }] };
    }
    const count = Math.max(data.budget || 0, obs.length ? experiment(obs[obs.length - 1]) : 0);
    const earlier = obs.some(function (o) { return o.source === "history"; });
    chart("plot-progress").setOption(Object.assign(base(), {
      grid: { left: 20, right: 24, top: 28, bottom: 64 },
      legend: { bottom: 0, itemGap: 16, data: series.filter(function (s) { return s.data.length; }).map(function (s) { return s.name; }) },
      graphic: obs.length ? [] : [{ type: "text", left: "center", top: "middle", style: { text: "Waiting for the first result…", fill: "#5f6b77", fontSize: 14 } }],
      xAxis: Object.assign(axisBase("Experiment"), { type: "value", min: earlier ? 0 : 1, max: Math.max(count, 1), minInterval: 1, nameGap: 26,
        axisLabel: { color: "#3b4650", formatter: function (v) { return v === 0 ? "earlier" : String(v); } } }),
      yAxis: Object.assign(axisBase(objective.name + " (" + aim(objective) + ")"), { type: "value", scale: true, nameGap: 44 }),
      series: series,
    }), true);
    $("progress-note").textContent = failed.length ? "(" + failed.length + " failed, marked × at the bottom)" : "";
  }

  // --- (b) the result against one parameter ----------------------------------------------------

  function drawScatter(objective) {
    const select = $("scatter-param");
    const params = tunable();
    const wanted = select.value;
    if (select.options.length !== params.length) {
      select.replaceChildren.apply(select, params.map(function (p) { return el("option", { value: p.name, textContent: p.name }); }));
      if (wanted) select.value = wanted;
    }
    const p = params.find(function (q) { return q.name === select.value; }) || params[0];
    if (!p) return;
    const ok = data.observations.filter(function (o) { return !o.failed && typeof o.values[objective.name] === "number"; });
    const x = function (o) { return p.type === "choice" ? String(o.params[p.name]) : o.params[p.name]; };
    const best = data.best && data.best[objective.name];
    chart("plot-scatter").setOption(Object.assign(base(), {
      grid: { left: 20, right: 24, top: 28, bottom: 40 },
      xAxis: Object.assign(paramAxis(p, ok), { nameGap: 26 }),
      yAxis: Object.assign(axisBase(objective.name), { type: "value", scale: true, nameGap: 44 }),
      series: [
        { name: "Experiment", type: "scatter", symbolSize: 9, itemStyle: { color: COLORS.run, opacity: 0.8 },
          data: ok.filter(function (o) { return o.source !== "history"; }).map(function (o) { return point(o, x(o), o.values[objective.name]); }) },
        { name: "Earlier result", type: "scatter", symbol: "diamond", symbolSize: 10, itemStyle: { color: "#fff", borderColor: COLORS.history, borderWidth: 1.5 },
          data: ok.filter(function (o) { return o.source === "history"; }).map(function (o) { return point(o, x(o), o.values[objective.name]); }) },
        { name: "Best", type: "scatter", symbolSize: 16, itemStyle: { color: "rgba(26,127,55,0.15)", borderColor: COLORS.best, borderWidth: 2 }, z: 1,
          data: best ? ok.filter(function (o) { return o.index === best.index; }).map(function (o) { return point(o, x(o), o.values[objective.name]); }) : [] },
      ],
    }), true);
  }

  // --- (c) every experiment at a glance ---------------------------------------------------------

  function drawParallel(objective) {
    const params = tunable();
    const ok = data.observations.filter(function (o) { return !o.failed && typeof o.values[objective.name] === "number"; });
    $("box-parallel").hidden = !ok.length || params.length < 2; // with one parameter: the scatter says it all
    if ($("box-parallel").hidden) return;
    const axes = params.map(function (p, i) {
      const axis = paramAxis(p, ok);
      return { dim: i, name: p.name, type: axis.type, data: axis.data, scale: true, nameTextStyle: { fontWeight: 600, color: TEXT.color } };
    });
    axes.push({ dim: params.length, name: objective.name, type: "value", scale: true, nameTextStyle: { fontWeight: 700, color: COLORS.best } });
    const row = function (o) { return params.map(function (p) { return p.type === "choice" ? String(o.params[p.name]) : o.params[p.name]; }).concat([o.values[objective.name]]); };
    const ys = ok.map(function (o) { return o.values[objective.name]; });
    const best = data.best && data.best[objective.name];
    const good = objective.direction === "minimize" ? ["#1f5f8b", "#9ec3de", "#e3eef6"] : ["#e3eef6", "#9ec3de", "#1f5f8b"];
    chart("plot-parallel").setOption({
      animation: false,
      textStyle: { fontFamily: getComputedStyle(document.body).fontFamily },
      parallel: { left: 48, right: 150, top: 40, bottom: 28, parallelAxisDefault: { nameLocation: "end", nameGap: 14, axisLabel: { color: "#3b4650", hideOverlap: true } } },
      parallelAxis: axes,
      visualMap: { type: "continuous", dimension: params.length, min: Math.min.apply(null, ys), max: Math.max.apply(null, ys), right: 8, top: "middle",
        itemHeight: 180, text: ["high", "low"], textStyle: { fontSize: 11 }, calculable: false, seriesIndex: 0, inRange: { color: good } },
      series: [
        { name: "Experiments", type: "parallel", lineStyle: { width: 1.6, opacity: 0.75 }, data: ok.map(row) },
        { name: "Best", type: "parallel", lineStyle: { width: 3.5, color: COLORS.best, opacity: 1 }, z: 3,
          data: best ? ok.filter(function (o) { return o.index === best.index; }).map(row) : [] },
      ],
    }, true);
  }

  // --- (d) which parameters matter; (e) the trade-off between two goals -------------------------

  function drawImportance() {
    const shares = data.importance;
    $("box-importance").hidden = !shares || Object.keys(shares).length < 2; // one parameter: 100 %, says nothing
    if ($("box-importance").hidden) return;
    const names = Object.keys(shares).sort(function (a, b) { return shares[a] - shares[b]; });
    $("plot-importance").style.height = Math.max(160, 70 + 34 * names.length) + "px";
    chart("plot-importance").setOption(Object.assign(base(), {
      grid: { left: 20, right: 48, top: 16, bottom: 40 },
      tooltip: { trigger: "item", formatter: function (item) { return esc(item.name) + ": " + fmt(item.value) + " % of the effect"; } },
      xAxis: Object.assign(axisBase("share of the effect on the result (%)"), { type: "value", min: 0, max: 100, nameGap: 26 }),
      yAxis: { type: "category", data: names, axisLabel: { fontFamily: "monospace", color: TEXT.color } },
      series: [{ type: "bar", barMaxWidth: 26, itemStyle: { color: COLORS.run, borderRadius: [0, 3, 3, 0] },
        label: { show: true, position: "right", formatter: function (item) { return fmt(item.value) + " %"; } },
        data: names.map(function (n) { return Math.round(shares[n] * 1000) / 10; }) }],
    }), true);
  }

  function drawPareto() {
    const show = Array.isArray(data.pareto) && data.objectives.length >= 2;
    $("box-pareto").hidden = !show;
    if (!show) return;
    const a = data.objectives[0];
    const b = data.objectives[1];
    const ok = data.observations.filter(function (o) { return !o.failed && typeof o.values[a.name] === "number" && typeof o.values[b.name] === "number"; });
    const front = ok.filter(function (o) { return data.pareto.indexOf(o.index) !== -1; })
      .sort(function (p, q) { return p.values[a.name] - q.values[a.name]; });
    const others = ok.filter(function (o) { return data.pareto.indexOf(o.index) === -1; });
    const pt = function (o) { return point(o, o.values[a.name], o.values[b.name]); };
    chart("plot-pareto").setOption(Object.assign(base(), {
      grid: { left: 20, right: 24, top: 28, bottom: 64 },
      legend: { bottom: 0, data: ["Other experiments", "Best compromises"] },
      xAxis: Object.assign(axisBase(a.name + " (" + aim(a) + ")"), { type: "value", scale: true, nameGap: 26 }),
      yAxis: Object.assign(axisBase(b.name + " (" + aim(b) + ")"), { type: "value", scale: true, nameGap: 44 }),
      series: [
        { name: "Other experiments", type: "scatter", symbolSize: 8, itemStyle: { color: COLORS.muted }, data: others.map(pt) },
        { name: "Best compromises", type: "line", symbolSize: 10, lineStyle: { color: COLORS.best, width: 1.5, type: "dashed" },
          itemStyle: { color: COLORS.best }, data: front.map(pt) },
      ],
    }), true);
  }

  // --- the words around the plots ---------------------------------------------------------------

  function bestCard(objective) {
    const best = data.best && data.best[objective.name];
    const card = el("div", { className: "best-card" }, el("h3", { textContent: "Best so far" + (data.objectives.length > 1 ? ": " + objective.name : "") }));
    if (!best) {
      card.append(el("p", { className: "empty-note", textContent: "No result yet for " + objective.name + "." }));
      return card;
    }
    const o = data.observations.find(function (q) { return q.index === best.index; });
    card.append(el("p", { className: "best-value" }, fmt(best.value), " ", el("span", { className: "unit", textContent: objective.name })));
    const where = o && o.source === "history" ? "from an earlier result (warm start)" : "found in experiment " + (o ? experiment(o) : "?");
    card.append(el("p", { className: "best-where", textContent: where }));
    if (objective.threshold !== null && objective.threshold !== undefined) {
      const minimize = objective.direction === "minimize";
      const met = minimize ? best.value <= objective.threshold : best.value >= objective.threshold;
      const level = (minimize ? "≤ " : "≥ ") + fmt(objective.threshold);
      card.append(el("p", { className: "best-goal" + (met ? " is-met" : ""), textContent: met ? "✓ Good enough (" + level + ") reached" : "Good enough at " + level + ": not reached yet" }));
    }
    const table = el("table", { className: "best-params" });
    tunable().forEach(function (p) {
      table.append(el("tr", null, el("th", { scope: "row", textContent: p.name }), el("td", { textContent: fmt(best.params[p.name]) })));
    });
    card.append(table);
    return card;
  }

  function summary() {
    const obs = data.observations;
    const ran = obs.filter(function (o) { return o.source !== "history"; }).length;
    const failed = obs.filter(function (o) { return o.failed; }).length;
    const earlier = obs.length - ran;
    const parts = [ran + " of " + data.budget + " experiments done"];
    if (failed) parts.push(failed + " failed");
    if (earlier) parts.push(earlier + " earlier results");
    parts.push("optimizer: " + data.optimizer);
    $("insight-summary").textContent = parts.join(" · ");
    const stopped = $("insight-stopped");
    stopped.hidden = !data.stopped_reason;
    stopped.textContent = data.stopped_reason ? "Stopped: " + data.stopped_reason : "";
  }

  function draw() {
    if (!data) return;
    const select = $("insight-objective");
    if (select.options.length !== data.objectives.length) {
      const wanted = select.value;
      select.replaceChildren.apply(select, data.objectives.map(function (o) { return el("option", { value: o.name, textContent: o.name }); }));
      if (wanted) select.value = wanted;
    }
    $("insight-objective-field").hidden = data.objectives.length < 2;
    numberExperiments();
    summary();
    const objective = chosenObjective();
    const stack = el("div", { className: "best-stack" });
    data.objectives.forEach(function (o) { stack.append(bestCard(o)); });
    $("best-card").replaceWith(Object.assign(stack, { id: "best-card" }));
    if (!window.echarts) {
      showError("The plotting library is missing on this server (run `make setup` to install it).");
    } else if (objective) {
      const grid = root.querySelector(".plot-grid");
      grid.hidden = !data.observations.some(function (o) { return !o.failed; }); // nothing to scatter yet
      drawProgress(objective);
      if (!grid.hidden) {
        drawScatter(objective);
        drawParallel(objective);
        drawImportance();
        drawPareto();
      }
    }
    const boxes = Array.from(root.querySelectorAll(".plot-grid .plot-box:not([hidden])"));
    const halves = boxes.filter(function (b) { return b.id !== "box-parallel"; });
    halves.forEach(function (b, i) { b.classList.toggle("plot-wide", halves.length % 2 === 1 && i === halves.length - 1); });
    Object.keys(charts).forEach(function (id) { charts[id].resize(); });
    const count = String(data.observations.length);
    root.dataset.observations = count;
    $("plot-progress").dataset.observations = count;
  }

  function showError(text) {
    const box = $("insight-error");
    box.hidden = !text;
    box.textContent = text || "";
  }

  async function read() {
    const mine = ++seq;
    try {
      const answer = await X.api("GET", "/api/runs/" + encodeURIComponent(runId) + "/campaign");
      if (mine !== seq) return;
      data = answer;
      showError("");
      draw();
    } catch (err) {
      if (mine === seq) showError("The optimization results cannot be read: " + err.message);
    }
  }

  function readSoon() { clearTimeout(timer); timer = setTimeout(read, 200); }

  document.addEventListener("labdeck:run", function (event) {
    const run = event.detail || {};
    const key = [run.status, run.progress && run.progress.iteration, run.progress && run.progress.done, run.ended_at].join("|");
    if (key !== lastKey) { lastKey = key; readSoon(); }
  });
  ["insight-objective", "scatter-param"].forEach(function (id) { $(id).addEventListener("change", draw); });
  read();
})();
