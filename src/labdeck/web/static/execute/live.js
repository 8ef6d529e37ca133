/*
 * labdeck Execute page — live: the queue panel and the run panel, kept current.
 *
 * State comes from the JSON API (GET /api/queue, /api/runs/{id}, /api/runs/{id}/steps); what
 * changes is learned from the event stream (EventSource on /api/events): an event schedules a
 * short, debounced re-read of what it concerns. When the stream is down the page re-reads
 * every 2 s instead. A hidden tab closes its stream (browsers allow few connections per
 * server, and several tabs may be open) and catches up when shown again.
 *
 * Buttons exist only when the verb is valid for the run's state; every verb is a POST to the
 * run's API route, and a refusal (e.g. the run moved on meanwhile) is shown, not swallowed.
 */
(function () {
  "use strict";
  const X = window.LabdeckExecute;
  const el = X.el;
  const canRun = X.boot.can_run;
  const runId = X.boot.run ? X.boot.run.id : null;
  const POLL_MS = 2000;
  const DEBOUNCE_MS = 120;
  const LOG_LINES = 60;

  const liveState = document.getElementById("live-state");
  let source = null;
  let pollTimer = null;
  let refreshTimer = null;
  let wantQueue = false;
  let wantRun = false;
  let lastRun = null;
  let controlsKey = "";
  let promptKey = "";
  let dragging = false;
  let renaming = false;

  function setLive(text, tone) {
    liveState.textContent = text;
    liveState.className = "live-state" + (tone ? " tone-" + tone : "");
  }

  function runUrl(id) {
    const here = new URLSearchParams(location.search);
    const keep = new URLSearchParams();
    ["workflow", "version"].forEach(function (k) { if (here.get(k)) keep.set(k, here.get(k)); });
    const query = keep.toString();
    return "/execute/runs/" + encodeURIComponent(id) + (query ? "?" + query : "");
  }

  function flash(node, text) {
    const box = el("p", { className: "alert alert-error action-error", role: "alert", textContent: text });
    node.prepend(box);
    setTimeout(function () { box.remove(); }, 8000);
  }

  /** A button that POSTs a verb; failures are shown above `where`. */
  function verb(label, url, body, where, opts) {
    const o = opts || {};
    return el("button", {
      type: "button",
      className: "btn " + (o.className || ""),
      textContent: label,
      title: o.title || "",
      onclick: async function (event) {
        if (o.confirm && !window.confirm(o.confirm)) return;
        const button = event.currentTarget;
        button.disabled = true;
        try {
          await X.api("POST", url, typeof body === "function" ? body() : body);
        } catch (err) {
          flash(where, err.message);
        } finally {
          button.disabled = false;
          refreshSoon(true, true);
        }
      },
    });
  }

  // --- the queue -----------------------------------------------------------------------------

  const pendingList = document.getElementById("queue-pending");
  const activeBox = document.getElementById("queue-active");
  const queuePanel = document.querySelector(".queue .card-body");

  function planned(run) {
    const mode = run.mode || {};
    const batch = (run.options && run.options.batch_size) || 1;
    const count = mode.table ? mode.table.length : mode.repeat;
    return typeof count === "number" ? Math.ceil(count / batch) : null;
  }

  function progressText(run) {
    const p = Object.assign({ iterations: planned(run) }, run.progress || {});
    if (run.status === "pending") return "not started";
    // the runner reports the iteration in progress (and `done`, the finished ones)
    const i = Math.max(p.iteration || 0, run.started_at && p.iterations !== 0 ? 1 : 0);
    if (p.iterations) return "iteration " + i + " of " + p.iterations;
    return i ? "iteration " + i : "";
  }

  function runLink(run) {
    const link = el("a", { href: runUrl(run.id), className: "run-link", textContent: run.name });
    if (String(run.id) === String(runId)) link.setAttribute("aria-current", "true");
    return link;
  }

  function pendingItem(run) {
    const li = el("li", { className: "queue-item" + (String(run.id) === String(runId) ? " is-selected" : ""), dataset: { id: run.id } });
    if (canRun) li.append(el("span", { className: "drag-handle", title: "Drag to change the order", "aria-hidden": "true", textContent: "⠿" }));
    const nameSlot = el("span", { className: "queue-name" }, runLink(run));
    li.append(nameSlot);
    if (run.status === "paused") li.append(el("span", { className: "badge status status-paused", textContent: "held", title: "Held: it will not start until released" }));
    if (canRun) {
      li.append(el("span", { className: "queue-actions" },
        el("button", {
          type: "button", className: "btn btn-small", textContent: "Rename",
          onclick: function () { startRename(nameSlot, run); },
        }),
        verb("Remove", "/api/runs/" + run.id + "/cancel", { reason: "removed from the queue" }, queuePanel, {
          className: "btn-small btn-danger-quiet", confirm: "Remove “" + run.name + "” from the queue? It will not run.",
        })));
    }
    return li;
  }

  function startRename(slot, run) {
    renaming = true;
    const input = el("input", { type: "text", value: run.name, maxLength: 200, "aria-label": "New name", className: "rename-input" });
    async function save() {
      const name = input.value.trim();
      if (name && name !== run.name) {
        try { await X.api("PATCH", "/api/runs/" + run.id, { name: name }); } catch (err) { flash(queuePanel, err.message); }
      }
      renaming = false;
      refreshSoon(true, true);
    }
    input.addEventListener("keydown", function (e) {
      if (e.key === "Enter") { e.preventDefault(); save(); }
      if (e.key === "Escape") { renaming = false; refreshSoon(true, false); }
    });
    slot.replaceChildren(input, el("button", { type: "button", className: "btn btn-small", textContent: "Save", onclick: save }));
    input.focus();
    input.select();
  }

  function renderQueue(queue) {
    const banner = document.getElementById("queue-paused");
    banner.hidden = !queue.paused;
    banner.textContent = queue.paused
      ? "The queue is paused" + (queue.reason ? ": " + queue.reason : "") + ". Waiting runs will not start until it is resumed."
      : "";
    const toggle = document.getElementById("queue-toggle");
    if (toggle) {
      toggle.hidden = false;
      toggle.textContent = queue.paused ? "Resume queue" : "Pause queue";
      toggle.className = "btn " + (queue.paused ? "btn-primary" : "");
      toggle.title = queue.paused ? "Start waiting runs again" : "Let the current run finish, but start no new runs";
      toggle.dataset.paused = queue.paused ? "true" : "false";
    }
    if (queue.active) {
      const a = queue.active;
      activeBox.replaceChildren(el("div", { className: "queue-item active-item" + (String(a.id) === String(runId) ? " is-selected" : "") },
        runLink(a), " ", X.statusBadge(a.status), el("span", { className: "muted small", textContent: " " + progressText(a) })));
    } else {
      activeBox.replaceChildren(el("p", { className: "empty-note", textContent: "Nothing is running." }));
    }
    document.getElementById("queue-count").textContent = queue.pending.length ? "(" + queue.pending.length + ")" : "";
    document.getElementById("queue-help").hidden = queue.pending.length < 2;
    if (dragging || renaming) return;
    pendingList.replaceChildren.apply(pendingList, queue.pending.map(pendingItem));
    if (!queue.pending.length) pendingList.append(el("li", { className: "empty-note", textContent: "No runs are waiting." }));
  }

  const toggleButton = document.getElementById("queue-toggle");
  if (toggleButton) {
    toggleButton.addEventListener("click", async function () {
      toggleButton.disabled = true;
      try {
        const paused = toggleButton.dataset.paused === "true";
        renderQueue(await X.api("POST", paused ? "/api/queue/resume" : "/api/queue/pause"));
      } catch (err) {
        flash(queuePanel, err.message);
      } finally {
        toggleButton.disabled = false;
      }
    });
  }

  if (canRun && window.Sortable) {
    window.Sortable.create(pendingList, {
      handle: ".drag-handle",
      draggable: ".queue-item",
      animation: 150,
      forceFallback: true,
      onStart: function () { dragging = true; },
      onEnd: async function () {
        dragging = false;
        const ids = Array.from(pendingList.querySelectorAll(".queue-item")).map(function (li) { return Number(li.dataset.id); });
        try { renderQueue(await X.api("PUT", "/api/queue/order", { run_ids: ids })); } catch (err) { flash(queuePanel, err.message); refreshSoon(true, false); }
      },
    });
  }

  // --- the run --------------------------------------------------------------------------------

  const panel = document.getElementById("run-panel");
  const promptBox = document.getElementById("run-prompt");
  const controlsBox = document.getElementById("run-controls");
  const runBody = panel ? panel.querySelector(".card-body") : null;

  function stepName(path) { return path ? "“" + path + "”" : "the step"; }

  function renderPrompt(run) {
    const p = run.prompt;
    const key = run.status + "|" + (p ? JSON.stringify(p) : "");
    if (key === promptKey) return;
    promptKey = key;
    promptBox.replaceChildren();
    promptBox.hidden = true;
    promptBox.className = "run-prompt";
    if (!p) return;
    const url = "/api/runs/" + run.id;
    if (p.error) {
      promptBox.classList.add("prompt-error");
      promptBox.append(
        el("p", { className: "prompt-title", textContent: "Step " + stepName(p.step) + " failed — the run is paused and waits for you." }),
        el("p", { className: "error-message" }, el("code", { className: "error-code", textContent: p.error.code }), " ", p.error.message || ""),
        el("p", { className: "help", textContent: p.error.retryable
          ? "This kind of error often goes away on a second try (e.g. a loose connection)."
          : "Fix the cause at the instrument first, then retry; or skip this step and go on." }));
      if (canRun) {
        promptBox.append(el("div", { className: "button-row" },
          verb("Retry the step", url + "/retry", undefined, promptBox, { className: "btn-primary", title: "Run the failed step again" }),
          verb("Skip the step", url + "/skip", undefined, promptBox, { title: "Mark it skipped and go on with the next step" })));
      }
    } else if (p.kind === "input") {
      promptBox.classList.add("prompt-input");
      const input = answerField(p);
      const problem = el("p", { className: "field-error", role: "alert" });
      const form = el("form", { className: "answer-form" },
        el("label", { htmlFor: "answer-value", className: "prompt-title", textContent: p.text || "The run asks for a value." }),
        el("div", { className: "inline-row" }, input, canRun ? el("button", { type: "submit", className: "btn btn-primary", textContent: "Send answer" }) : null),
        problem);
      form.addEventListener("submit", async function (event) {
        event.preventDefault();
        problem.textContent = "";
        try {
          await X.api("POST", url + "/input", { value: input.value });
        } catch (err) {
          problem.textContent = err.message + (err.problems.length ? " (" + err.problems.join("; ") + ")" : "");
        }
        refreshSoon(true, true);
      });
      promptBox.append(form);
      if (!canRun) input.disabled = true;
    } else if (p.kind === "pause") {
      promptBox.classList.add("prompt-pause");
      promptBox.append(el("p", { className: "prompt-title", textContent: p.text || "The workflow pauses here for you." }));
      if (canRun) promptBox.append(el("div", { className: "button-row" }, verb("Continue", url + "/continue", undefined, promptBox, { className: "btn-primary" })));
    } else {
      return;
    }
    promptBox.hidden = false;
  }

  function answerField(p) {
    const type = p.type || "text";
    if (type === "choice" || type === "boolean") {
      const choices = type === "boolean" ? ["yes", "no"] : (p.choices || []);
      const select = el("select", { id: "answer-value" }, el("option", { value: "", textContent: "— choose —" }));
      choices.forEach(function (c) { select.append(el("option", { value: String(c), textContent: String(c) })); });
      return select;
    }
    if (type === "number" || type === "integer") {
      return el("input", { id: "answer-value", type: "text", inputMode: "decimal", autocomplete: "off",
        placeholder: type === "integer" ? "a whole number" : "a number" });
    }
    return el("input", { id: "answer-value", type: "text", autocomplete: "off" });
  }

  function stopOptions(kind) {
    const id = "opt-" + kind;
    const cleanup = el("input", { type: "checkbox", id: id + "-cleanup", checked: kind === "pending" });
    const cont = el("input", { type: "checkbox", id: id + "-continue", checked: true });
    const rows = [
      el("label", { className: "check-row" }, cleanup, " Run cleanup afterwards"),
      el("label", { className: "check-row" }, cont, " Then start the next run in the queue"),
    ];
    return { cleanup: cleanup, cont: cont, rows: rows };
  }

  // Replay never re-runs in place: it queues a new run with the same version and inputs.
  function replayButton(url) {
    return el("button", {
      type: "button",
      id: "btn-replay",
      className: "btn",
      textContent: "Run again",
      title: "A new run of the same version with the same inputs (recorded as a replay of this one)",
      onclick: async function (event) {
        const button = event.currentTarget;
        button.disabled = true;
        try {
          const created = await X.api("POST", url + "/replay", { version: "same" });
          window.location.assign(runUrl(created.id));
        } catch (err) {
          flash(controlsBox, err.message);
          button.disabled = false;
        }
      },
    });
  }

  // The buttons are exactly the verbs the server says are valid now (run.actions).
  function renderControls(run) {
    const can = function (verb) { return (run.actions || []).indexOf(verb) !== -1; };
    const started = Boolean(run.started_at);
    const key = [run.status, (run.actions || []).join(","), canRun].join("|");
    if (key === controlsKey) return;
    controlsKey = key;
    controlsBox.replaceChildren();
    if (!canRun) return;
    const url = "/api/runs/" + run.id;
    const row = el("div", { className: "button-row" });
    const remove = { className: "btn-danger-quiet", confirm: "Remove this run from the queue?" };
    if (!started && can("pause")) row.append(verb("Hold in queue", url + "/pause", undefined, controlsBox, { title: "Keep it in the queue without starting it" }));
    if (!started && can("resume")) row.append(verb("Release", url + "/resume", undefined, controlsBox, { className: "btn-primary", title: "Let the queue start it" }));
    if (!started && can("cancel")) row.append(verb("Remove from queue", url + "/cancel", { reason: "removed from the queue" }, controlsBox, remove));
    if (started && can("pause")) row.append(verb("Pause", url + "/pause", undefined, controlsBox, { title: "The step in progress finishes, then the run waits" }));
    if (started && can("resume")) row.append(verb("Resume", url + "/resume", undefined, controlsBox, { className: "btn-primary", title: "Continue where it stopped" }));
    if (can("replay")) row.append(replayButton(url));
    if (started && can("cancel") && !can("stop-pending")) {
      // Paused by a server restart: nothing can continue it; stopping it keeps the records.
      row.append(el("p", { className: "help", textContent: "The server stopped while this run was in progress, so it cannot continue. Stop it, then use Run again." }),
        verb("Stop this run", url + "/cancel", { reason: "stopped after a server restart" }, controlsBox, { className: "btn-danger", confirm: "Stop this run? It cannot be resumed." }));
    }
    if (row.childNodes.length) controlsBox.append(row);
    if (!started || !can("stop-pending")) return;

    const total = planned(run);
    const pending = stopOptions("pending");
    if (total === null || total > 1) controlsBox.append(el("details", { className: "stop-box" },
      el("summary", { textContent: "Stop after this iteration…" }),
      el("p", { className: "help", textContent: "The iteration in progress finishes; the remaining iterations are skipped." }),
      ...pending.rows,
      verb("Stop pending iterations", url + "/stop-pending", function () {
        return { cleanup: pending.cleanup.checked, continue_queue: pending.cont.checked };
      }, controlsBox, { className: "btn-warn" })));

    const current = stopOptions("current");
    const reason = el("input", { type: "text", id: "stop-reason", maxLength: 200, placeholder: "e.g. wrong vial", autocomplete: "off" });
    controlsBox.append(el("details", { className: "stop-box" },
      el("summary", { textContent: "Stop now…" }),
      el("p", { className: "help", textContent: "The step in progress finishes (nothing is force-killed); every remaining step is skipped." }),
      el("label", { htmlFor: "stop-reason", textContent: "Reason (for the record)" }), reason,
      ...current.rows,
      verb("Stop current run", url + "/cancel", function () {
        return { reason: reason.value.trim() || null, cleanup: current.cleanup.checked, continue_queue: current.cont.checked };
      }, controlsBox, { className: "btn-danger", confirm: "Stop this run now? Remaining steps will not run." })));
  }

  function modeText(run) {
    const mode = run.mode || {};
    if (mode.table) return mode.table.length + (mode.table.length === 1 ? " parameter row" : " parameter rows");
    if (mode.repeat !== undefined) return "repeat " + mode.repeat + (mode.repeat === 1 ? " time" : " times");
    if (mode.campaign) return "optimize, up to " + mode.campaign.budget + " experiments";
    return "";
  }

  function renderRun(run, records) {
    lastRun = run;
    document.getElementById("run-name-text").textContent = run.name;
    X.statusBadge(run.status, document.getElementById("run-status"));
    const who = run.trigger && run.trigger.by ? " by " + run.trigger.by : "";
    const when = run.started_at ? "started " + X.localTime(run.started_at) : "queued " + X.localTime(run.created_at);
    const ended = run.ended_at ? " · ended " + X.localTime(run.ended_at) : "";
    document.getElementById("run-meta").textContent =
      X.boot.run.workflow_name + " · version " + run.version + " · " + modeText(run) + " · " + when + who + ended;
    const reasonBox = document.getElementById("run-reason");
    let reason = run.status_reason || "";
    if (run.status === "failed" && run.error && reason.indexOf(run.error.message) === -1) reason += (reason ? " — " : "") + run.error.message;
    if (run.prompt && run.prompt.error) reason = "";
    reasonBox.hidden = !reason;
    reasonBox.textContent = reason ? reason.charAt(0).toUpperCase() + reason.slice(1) : "";
    reasonBox.className = "run-reason reason-" + run.status;
    const p = Object.assign({ iterations: planned(run) }, run.progress || {});
    const seen = records ? records.steps.reduce(function (m, s) { return s.iteration ? Math.max(m, s.iteration) : m; }, 0) : 0;
    if (seen > (p.iteration || 0)) p.iteration = seen;
    run = Object.assign({}, run, { progress: p });
    const bar = document.getElementById("run-progress");
    bar.max = p.iterations || 1;
    bar.value = run.status === "completed" ? bar.max : (p.done !== undefined ? p.done : Math.max(0, (p.iteration || 0) - 1));
    document.getElementById("run-progress-text").textContent = progressText(run) ? "Iteration " + progressText(run).replace("iteration ", "") : "";
    renderPrompt(run);
    renderControls(run);
    if (records) renderSteps(run, records);
    document.dispatchEvent(new CustomEvent("labdeck:run", { detail: lastRun })); // insight.js re-reads plots
  }

  function normal(path) { return String(path || "").replace(/\[\d+\]/g, ""); }

  function renderSteps(run, records) {
    const steps = records.steps || [];
    const last = steps[steps.length - 1];
    const iteration = steps.reduce(function (m, s) { return s.iteration ? Math.max(m, s.iteration) : m; }, 0);
    const state = {};
    steps.forEach(function (s) {
      if (s.phase === "script" && s.iteration !== iteration) return;
      state[s.phase + ":" + normal(s.path)] = s.status;
    });
    let current = null;
    if (last && ["running", "waiting", "paused"].indexOf(run.status) !== -1) current = last.phase + ":" + normal(last.path);
    document.querySelectorAll(".outline-step").forEach(function (li) {
      const key = li.dataset.phase + ":" + li.dataset.path;
      Array.from(li.classList).forEach(function (c) { if (c === "is-current" || c.startsWith("st-")) li.classList.remove(c); });
      if (state[key]) li.classList.add("st-" + state[key]);
      if (key === current) li.classList.add("is-current");
      li.title = key === current ? "in progress" : state[key] ? state[key] : "";
    });
    const lines = [];
    steps.forEach(function (s) {
      if (s.kind === "comment" && s.args && s.args.text !== undefined) lines.push({ at: s.started_at, text: s.args.text, tone: "" });
      if (s.status === "failed" && s.error) lines.push({ at: s.ended_at, text: "Step “" + s.path + "” failed (attempt " + s.attempt + "): " + s.error.message, tone: "fail" });
      if (s.kind === "input" && s.status === "completed") lines.push({ at: s.ended_at, text: "Answer to “" + (s.args && s.args.prompt) + "”: " + JSON.stringify(s.output), tone: "" });
    });
    const log = document.getElementById("run-log");
    log.replaceChildren.apply(log, lines.slice(-LOG_LINES).map(logLine));
    if (!lines.length) log.append(el("li", { className: "empty-note", textContent: "No log lines yet (“Write to the run log” steps and errors appear here)." }));
    log.scrollTop = log.scrollHeight;
  }

  function logLine(line) {
    return el("li", { className: line.tone ? "log-" + line.tone : "" }, el("time", { textContent: X.localTime(line.at) }), " ", line.text);
  }

  // --- reading, live ---------------------------------------------------------------------------

  let queueSeq = 0;
  let runSeq = 0;

  async function readQueue() {
    const seq = ++queueSeq;
    const queue = await X.api("GET", "/api/queue");
    if (seq === queueSeq) renderQueue(queue);
  }

  async function readRun() {
    if (!runId) return;
    const seq = ++runSeq;
    const both = await Promise.all([X.api("GET", "/api/runs/" + runId), X.api("GET", "/api/runs/" + runId + "/steps")]);
    if (seq === runSeq) renderRun(both[0], both[1]);
  }

  async function refreshNow() {
    const work = [];
    if (wantQueue) work.push(readQueue());
    if (wantRun) work.push(readRun());
    wantQueue = wantRun = false;
    try {
      await Promise.all(work);
    } catch (err) {
      setLive(err.message, "fail");
    }
  }

  function refreshSoon(queue, run) {
    wantQueue = wantQueue || queue;
    wantRun = wantRun || run;
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(refreshNow, DEBOUNCE_MS);
  }

  function mine(data) { return runId && data && String(data.run_id) === String(runId); }

  function onEvent(event) {
    let data = {};
    try { data = JSON.parse(event.data); } catch (err) { data = {}; }
    const kind = event.type;
    if (kind === "step.started" && mine(data)) {
      document.querySelectorAll(".outline-step.is-current").forEach(function (li) { li.classList.remove("is-current"); });
      document.querySelectorAll('.outline-step[data-path="' + CSS.escape(normal(data.path)) + '"]').forEach(function (li) { li.classList.add("is-current"); });
    }
    if (kind === "log" && mine(data)) {
      const log = document.getElementById("run-log");
      log.querySelectorAll(".empty-note").forEach(function (n) { n.remove(); });
      log.append(logLine({ at: new Date().toISOString(), text: data.message, tone: "" }));
      log.scrollTop = log.scrollHeight;
    }
    const queueToo = kind === "queue.changed" || kind === "run.status" || kind === "resync" || kind === "run.progress";
    refreshSoon(queueToo, kind === "resync" || mine(data));
  }

  function startPolling() {
    if (pollTimer) return;
    pollTimer = setInterval(function () { refreshSoon(true, true); }, POLL_MS);
  }
  function stopPolling() { clearInterval(pollTimer); pollTimer = null; }

  function connect() {
    if (source || !window.EventSource) { startPolling(); return; }
    source = new EventSource("/api/events");
    ["run.status", "run.progress", "step.started", "step.finished", "run.waiting", "queue.changed", "log", "resync"].forEach(function (k) {
      source.addEventListener(k, onEvent);
    });
    source.onopen = function () {
      setLive("Live", "ok");
      stopPolling();
      refreshSoon(true, true); // catch up on anything missed while connecting
    };
    source.onerror = function () {
      setLive("Reconnecting… (updating every 2 s)", "warn");
      startPolling();
    };
  }

  function disconnect() {
    if (source) { source.close(); source = null; }
    stopPolling();
  }

  document.addEventListener("visibilitychange", function () {
    if (document.hidden) { disconnect(); setLive("Paused while this tab is hidden", ""); }
    else { connect(); refreshSoon(true, true); }
  });
  window.addEventListener("pagehide", disconnect);

  refreshSoon(true, true);
  if (!document.hidden) connect(); else startPolling();
  if (runBody && !runId) panel.hidden = true;
  window.LabdeckExecute.lastRun = function () { return lastRun; };
})();
