/*
 * labdeck designer — the page: boot, phase tabs, palette search, side panels, and the server.
 *
 * Reads the draft and the deck's interface schema embedded in the page
 * (<script type="application/json" id="designer-boot">), keeps the working document, and
 * after every change (debounced) asks POST /api/workflows/preview for the problems (shown on
 * their steps) and the Python export (the code panel). Save draft = PUT .../draft, Publish =
 * save if needed, then POST .../publish. Unsaved changes are shown in the bar and guarded by
 * beforeunload; Ctrl+S saves.
 */
(function () {
  "use strict";
  const LD = window.LabdeckDesigner;
  const el = LD.el;
  const PREVIEW_DELAY_MS = 400;

  const boot = JSON.parse(document.getElementById("designer-boot").textContent);
  const wf = boot.workflow;
  const api = "/api/workflows/" + encodeURIComponent(wf.id);
  const ctx = {
    doc: boot.draft,
    deck: boot.deck,
    canEdit: boot.can_edit,
    open: new Set(),
    phase: "script",
    dirty: false,
    problems: boot.problems || [],
    phaseList: function (phase) { return document.getElementById("steps-" + phase); },
  };
  LD.PHASES.forEach(function (p) { if (!Array.isArray(ctx.doc[p])) ctx.doc[p] = []; });
  let previewTimer = null;
  let previewSeq = 0;
  let saving = false;

  // --- status bar ---------------------------------------------------------------------------

  const stateNode = document.getElementById("save-state");
  function say(text, tone) {
    stateNode.textContent = text;
    stateNode.className = "save-state" + (tone ? " tone-" + tone : "");
  }
  function problemWords(n) { return n === 0 ? "no problems" : n === 1 ? "1 problem to fix before publishing" : n + " problems to fix before publishing"; }
  function setDirty(dirty) {
    ctx.dirty = dirty;
    document.body.classList.toggle("has-unsaved", dirty);
    if (dirty) say("Unsaved changes", "dirty");
  }

  // --- drawing ------------------------------------------------------------------------------

  function drawPhase(phase) {
    LD.renderPhase(ctx, phase);
    document.querySelector('.phase-tab[data-phase="' + phase + '"] .tab-count').textContent = String(LD.countSteps(ctx.doc[phase]));
  }
  function drawAll() {
    LD.PHASES.forEach(drawPhase);
    drawProblems();
    drawSidePanels();
  }

  function drawProblems() {
    const perPhase = LD.showProblems(ctx, ctx.problems);
    LD.PHASES.forEach(function (phase) {
      const badge = document.querySelector('.phase-tab[data-phase="' + phase + '"] .tab-problems');
      badge.hidden = perPhase[phase] === 0;
      badge.textContent = perPhase[phase] === 1 ? "1 problem" : perPhase[phase] + " problems";
    });
    const general = ctx.problems.filter(function (p) { return !p.step; });
    const box = document.getElementById("doc-problems");
    box.hidden = general.length === 0;
    box.replaceChildren.apply(box, general.map(function (p) {
      return el("li", null, p.field ? el("code", { textContent: p.field }) : null, p.field ? ": " : null, p.message);
    }));
  }

  // --- changes ------------------------------------------------------------------------------

  /** A field changed: refresh what depends on it and schedule a preview. */
  ctx.changed = function (step, how) {
    const li = document.querySelector('.step[data-id="' + CSS.escape(step.id) + '"]');
    if (li) LD.refreshSummary(ctx, li, step);
    if (LD.ensureParameters(ctx.doc, paramDefaults())) drawSidePanels();
    else if (how && how.names) drawSidePanels();
    if (how && how.rerender) redrawStep(step);
    touched();
  };

  ctx.rename = function (step, next, input) {
    const slot = input.parentElement.querySelector(".field-error");
    if (next === step.id) return;
    if (!/^[A-Za-z0-9_-]+$/.test(next)) {
      slot.textContent = "Use letters, digits, _ and - only (no spaces).";
      return;
    }
    if (LD.allIds(ctx.doc).has(next)) {
      slot.textContent = "Another step already has this name.";
      return;
    }
    slot.textContent = "";
    if (ctx.open.delete(step.id)) ctx.open.add(next);
    step.id = next;
    drawPhase(ctx.phase);
    touched();
  };

  ctx.dropped = function () {
    const created = LD.syncFromDom(ctx, ctx.phase);
    created.forEach(function (id) { ctx.open.add(id); });
    drawPhase(ctx.phase);
    drawProblems();
    touched();
    if (created.length) {
      const li = document.querySelector('.step[data-id="' + CSS.escape(created[0]) + '"]');
      const first = li && li.querySelector(".step-form .arg:not(.arg-id) :is(input, select, textarea)");
      if (first) first.focus();
    }
  };

  function redrawStep(step) {
    const li = document.querySelector('.step[data-id="' + CSS.escape(step.id) + '"]');
    if (!li) return;
    const fresh = LD.renderStep(ctx, step);
    li.replaceWith(fresh);
    if (ctx.canEdit) fresh.querySelectorAll("ol.steps").forEach(function (list) { LD.makeSortable(ctx, list); });
    drawProblems();
  }

  function touched() {
    setDirty(true);
    clearTimeout(previewTimer);
    previewTimer = setTimeout(preview, PREVIEW_DELAY_MS);
  }

  function paramDefaults() {
    // A new parameter starts from the argument's default, when the deck gives one.
    const defaults = {};
    LD.walk(ctx.doc, function (step) {
      if (step.kind !== "call" || !step.args) return;
      const info = LD.targetInfo(ctx.deck, step.target);
      if (!info || info.kind === "property") return;
      LD.argFields(info.schema).forEach(function (f) {
        const v = step.args[f.name];
        if (LD.valueMode(v) === "param" && f.hasDefault) defaults[v.param] = f.default;
      });
    });
    return defaults;
  }

  // --- step buttons -------------------------------------------------------------------------

  document.addEventListener("click", function (event) {
    const button = event.target.closest("[data-action]");
    if (!button || !button.closest(".designer-canvas")) return;
    const li = button.closest(".step");
    const found = LD.find(ctx.doc, li.dataset.id);
    if (!found) return;
    const step = found.step;
    switch (button.dataset.action) {
      case "toggle":
        if (ctx.open.has(step.id)) ctx.open.delete(step.id); else ctx.open.add(step.id);
        redrawStep(step);
        return;
      case "disable":
        if (step.disabled) delete step.disabled; else step.disabled = true;
        redrawStep(step);
        break;
      case "duplicate": {
        const copy = LD.copyStep(ctx.doc, step);
        found.list.splice(found.index + 1, 0, copy);
        ctx.open.add(copy.id);
        drawPhase(ctx.phase);
        break;
      }
      case "delete":
        if (LD.childLists(step).some(function (p) { return p[1].length; }) &&
            !window.confirm("Delete this block and the " + (LD.countSteps([step]) - 1) + " steps inside it?")) return;
        LD.removeStep(ctx.doc, step.id);
        drawPhase(ctx.phase);
        break;
      default: return;
    }
    drawProblems();
    drawSidePanels();
    touched();
  });

  // --- tabs and palette search ----------------------------------------------------------------

  function showPhase(phase) {
    ctx.phase = phase;
    document.querySelectorAll(".phase-tab").forEach(function (tab) {
      const on = tab.dataset.phase === phase;
      tab.classList.toggle("active", on);
      tab.setAttribute("aria-selected", on ? "true" : "false");
    });
    document.querySelectorAll(".phase-panel").forEach(function (panel) { panel.hidden = panel.dataset.phase !== phase; });
  }
  document.querySelectorAll(".phase-tab").forEach(function (tab) {
    tab.addEventListener("click", function () { showPhase(tab.dataset.phase); });
  });

  const search = document.getElementById("palette-search");
  search.addEventListener("input", function () {
    const words = search.value.toLowerCase().split(/\s+/).filter(Boolean);
    document.querySelectorAll(".palette-group").forEach(function (group) {
      let any = false;
      group.querySelectorAll(".palette-item").forEach(function (item) {
        const text = item.dataset.search || "";
        const show = words.every(function (w) { return text.indexOf(w) !== -1; });
        item.hidden = !show;
        any = any || show;
      });
      group.hidden = !any;
      if (words.length && any) group.open = true;
    });
  });

  // --- side panels: about, parameters, results ------------------------------------------------

  function bindText(id, get, set) {
    const input = document.getElementById(id);
    input.value = get() || "";
    input.addEventListener("input", function () { set(input.value); touched(); });
  }
  bindText("wf-name", function () { return ctx.doc.name; }, function (v) { ctx.doc.name = v.trim(); });
  bindText("wf-description", function () { return ctx.doc.description; }, function (v) { if (v.trim()) ctx.doc.description = v; else delete ctx.doc.description; });
  bindText("wf-tags", function () { return (ctx.doc.tags || []).join(", "); }, function (v) {
    const tags = v.split(",").map(function (t) { return t.trim(); }).filter(Boolean);
    if (tags.length) ctx.doc.tags = tags; else delete ctx.doc.tags;
  });

  function drawSidePanels() {
    const uses = LD.paramUses(ctx.doc);
    const params = ctx.doc.parameters || [];
    const table = document.getElementById("param-list");
    const datalist = document.getElementById("designer-param-names");
    datalist.replaceChildren.apply(datalist, params.map(function (p) { return el("option", { value: p.name }); }));
    table.replaceChildren.apply(table, params.map(function (p, i) {
      const input = el("input", { type: "text", className: "param-default", id: "param-default-" + p.name, spellcheck: "false", placeholder: "no default", disabled: !ctx.canEdit });
      input.value = p.default === undefined || p.default === null ? "" : typeof p.default === "string" ? p.default : JSON.stringify(p.default);
      input.addEventListener("change", function () {
        const raw = input.value.trim();
        if (raw === "") delete p.default;
        else { try { p.default = JSON.parse(raw); } catch (err) { p.default = raw; } }
        touched();
      });
      const used = uses[p.name] || 0;
      return el("li", { className: "param-row" },
        el("label", { for: input.id, className: "field-name", textContent: "#" + p.name }),
        input,
        used ? el("span", { className: "muted param-uses", textContent: used === 1 ? "used once" : "used " + used + "×" })
          : ctx.canEdit ? el("button", { type: "button", className: "btn btn-small", textContent: "Remove", title: "Not used by any step", onclick: function () { params.splice(i, 1); drawSidePanels(); touched(); } }) : null);
    }));
    document.getElementById("param-empty").hidden = params.length > 0;

    const outputs = ctx.doc.outputs || [];
    const names = LD.allSavedNames(ctx.doc, ["prep", "script"]);
    outputs.forEach(function (n) { if (names.indexOf(n) === -1) names.push(n); });
    const outList = document.getElementById("output-list");
    outList.replaceChildren.apply(outList, names.map(function (n) {
      const box = el("input", { type: "checkbox", id: "output-" + n, checked: outputs.indexOf(n) !== -1, disabled: !ctx.canEdit });
      box.addEventListener("change", function () {
        const list = (ctx.doc.outputs || []).filter(function (o) { return o !== n; });
        if (box.checked) list.push(n);
        if (list.length) ctx.doc.outputs = list; else delete ctx.doc.outputs;
        touched();
      });
      return el("li", { className: "check-row" }, box, el("label", { for: box.id, className: "field-name", textContent: "$" + n }));
    }));
    document.getElementById("output-empty").hidden = names.length > 0;
  }

  // --- the server -------------------------------------------------------------------------------

  async function send(method, url, body) {
    const response = await fetch(url, {
      method: method,
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
    });
    let data = null;
    try { data = await response.json(); } catch (err) { data = null; }
    return { ok: response.ok, status: response.status, data: data };
  }

  function refusal(result) {
    const error = (result.data && result.data.error) || {};
    const fields = (error.detail && error.detail.fields) || [];
    return { message: error.message || "the server answered HTTP " + result.status, fields: fields };
  }

  /** Structural refusals (422 on the whole document) become document-level problems. */
  function structuralProblems(fields) {
    return fields.map(function (f) { return { step: f.step || null, field: f.field || "", message: f.message || "" }; });
  }

  async function preview() {
    const seq = ++previewSeq;
    const result = await send("POST", "/api/workflows/preview", ctx.doc).catch(function () { return null; });
    if (seq !== previewSeq || !result) return;
    const code = document.getElementById("python-code");
    if (result.ok) {
      ctx.problems = result.data.problems;
      code.textContent = result.data.python;
    } else {
      const r = refusal(result);
      ctx.problems = structuralProblems(r.fields.length ? r.fields : [{ message: r.message }]);
    }
    drawProblems();
    if (!ctx.dirty) return;
    say("Unsaved changes · " + problemWords(ctx.problems.length), "dirty");
  }

  async function save() {
    if (saving || !ctx.canEdit) return false;
    saving = true;
    say("Saving…", "busy");
    try {
      const result = await send("PUT", api + "/draft", ctx.doc);
      if (!result.ok) {
        const r = refusal(result);
        say("Not saved: " + r.message, "error");
        if (r.fields.length) { ctx.problems = structuralProblems(r.fields); drawProblems(); }
        return false;
      }
      ctx.problems = result.data.problems;
      drawProblems();
      setDirty(false);
      document.title = ctx.doc.name + " · Design";
      document.getElementById("wf-title").textContent = ctx.doc.name;
      say("Saved at " + new Date().toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }) + " · " + problemWords(ctx.problems.length), ctx.problems.length ? "warn" : "ok");
      return true;
    } catch (err) {
      say("Not saved: the server cannot be reached. Your changes are still here; try again.", "error");
      return false;
    } finally {
      saving = false;
    }
  }

  async function publish() {
    if (ctx.dirty && !(await save())) return;
    say("Publishing…", "busy");
    const result = await send("POST", api + "/publish");
    if (!result.ok) {
      const r = refusal(result);
      say("Not published: " + r.message, "error");
      if (result.status === 422 && r.fields.length) { ctx.problems = structuralProblems(r.fields); drawProblems(); }
      return;
    }
    wf.active_version = result.data.version;
    document.getElementById("wf-version").textContent = "Published: version " + result.data.version;
    say("Published version " + result.data.version + ". Runs now use it; further edits change the draft only.", "ok");
    document.body.dispatchEvent(new CustomEvent("labdeck:published", { bubbles: true }));
  }

  if (ctx.canEdit) {
    document.getElementById("btn-save").addEventListener("click", save);
    document.getElementById("btn-publish").addEventListener("click", publish);
    document.addEventListener("keydown", function (event) {
      if ((event.ctrlKey || event.metaKey) && event.key.toLowerCase() === "s") {
        event.preventDefault();
        save();
      }
    });
    window.addEventListener("beforeunload", function (event) {
      if (ctx.dirty) { event.preventDefault(); event.returnValue = ""; }
    });
    LD.makePalette(ctx, Array.prototype.slice.call(document.querySelectorAll(".palette-list")));
  }

  // --- start ----------------------------------------------------------------------------------

  // Marks for benchmarks/design_page.py: how long the first drawing of the canvas takes.
  performance.mark("labdeck:designer-start");
  drawAll();
  performance.mark("labdeck:designer-ready");
  say(ctx.problems.length ? "Draft · " + problemWords(ctx.problems.length) : "Draft saved · no problems", ctx.problems.length ? "warn" : "ok");
  document.body.classList.add("designer-ready");
  preview();
})();
