/*
 * labdeck designer — the canvas: the steps of a phase as nested lists, and drag and drop.
 *
 * Owns the DOM of the steps (a header with the step's kind, title and a one-line summary,
 * its problems, its form when open, and the bodies of blocks as nested lists) and the
 * SortableJS wiring: palette items are cloned onto the canvas; steps move between lists and
 * into blocks. After every drop the phase's lists are read back from the DOM into the
 * document (`syncFromDom`), then the phase is drawn again from the document, which stays the
 * one source of truth.
 */
(function () {
  "use strict";
  const LD = window.LabdeckDesigner;
  const el = LD.el;

  const KIND_WORDS = {
    call: "Do", workflow: "Run workflow", if: "If", while: "Repeat while", repeat: "Repeat",
    wait: "Wait", set: "Set", comment: "Log", input: "Ask", pause: "Pause",
  };
  const BRANCH_WORDS = { then: "If true, do:", else: "Otherwise, do:", do: "Do:" };

  function summary(ctx, step) {
    switch (step.kind) {
      case "call": {
        const args = Object.keys(step.args || {}).map(function (k) {
          return (k === "set" ? "to " : k + " = ") + LD.valueText(step.args[k]);
        });
        let text = args.join(", ");
        const saved = LD.definedNames(step);
        if (saved.length) text += (text ? "  " : "") + "→ " + saved.map(function (n) { return "$" + n; }).join(", ");
        return text;
      }
      case "if": case "while": return step.condition || "(no condition yet)";
      case "repeat": return LD.valueText(step.times) + " times" + (step.index ? ", counter $" + step.index : "");
      case "wait": return LD.valueText(step.seconds) + " s";
      case "set": return (step.name || "?") + " = " + LD.valueText(step.value);
      case "comment": return step.text || "";
      case "input": return (step.prompt || "") + (step.save ? "  → $" + step.save : "");
      case "pause": return step.message || "";
      case "workflow": return (step.workflow || "?") + (step.version ? " v" + step.version : "");
      default: return "";
    }
  }

  function title(ctx, step) {
    if (step.kind === "call") {
      const info = LD.targetInfo(ctx.deck, step.target);
      if (info && info.kind === "property") return (step.args && "set" in step.args ? "set " : "read ") + step.target;
      return step.target;
    }
    return "";
  }

  LD.refreshSummary = function (ctx, li, step) {
    const node = li.querySelector(":scope > .step-head .step-summary");
    if (node) node.textContent = summary(ctx, step);
  };

  function actionButton(label, action, hint) {
    return el("button", { type: "button", className: "btn btn-small step-action", "data-action": action, title: hint, textContent: label });
  }

  LD.renderStep = function (ctx, step) {
    const open = ctx.open.has(step.id);
    const li = el("li", { className: "step step-" + step.kind + (step.disabled ? " is-disabled" : "") + (open ? " is-open" : ""), "data-id": step.id });
    const head = el("div", { className: "step-head" },
      el("span", { className: "grip", "aria-hidden": "true", title: "Drag to move", textContent: "⠿" }),
      el("button", { type: "button", className: "step-toggle", "data-action": "toggle", "aria-expanded": open ? "true" : "false", title: open ? "Close the form" : "Open the form", textContent: open ? "▾" : "▸" }),
      el("span", { className: "step-kind kind-" + step.kind, textContent: KIND_WORDS[step.kind] || step.kind }),
      el("span", { className: "step-title", textContent: title(ctx, step) }),
      el("span", { className: "step-summary", textContent: summary(ctx, step) }),
      step.disabled ? el("span", { className: "badge badge-skipped", textContent: "skipped" }) : null,
      el("span", { className: "badge badge-problems", hidden: true }),
      ctx.canEdit ? el("span", { className: "step-actions" },
        actionButton(step.disabled ? "Turn on" : "Skip", "disable", step.disabled ? "Run this step again" : "Keep the step but do not run it"),
        actionButton("Duplicate", "duplicate", "Add a copy below"),
        actionButton("Delete", "delete", "Remove this step")) : null);
    li.appendChild(head);
    li.appendChild(el("ul", { className: "step-problems", hidden: true }));
    if (open) li.appendChild(LD.stepForm(ctx, step));
    LD.childLists(step).forEach(function (pair) {
      const list = el("ol", { className: "steps nested", "data-parent": step.id, "data-branch": pair[0], "data-empty": "Drag steps here" });
      pair[1].forEach(function (child) { list.appendChild(LD.renderStep(ctx, child)); });
      li.appendChild(el("div", { className: "branch branch-" + pair[0] }, el("div", { className: "branch-label", textContent: BRANCH_WORDS[pair[0]] }), list));
    });
    return li;
  };

  /** Draws one phase into its list element and makes every list in it sortable. */
  LD.renderPhase = function (ctx, phase) {
    const root = ctx.phaseList(phase);
    const frag = document.createDocumentFragment();
    ctx.doc[phase].forEach(function (step) { frag.appendChild(LD.renderStep(ctx, step)); });
    root.replaceChildren(frag);
    if (ctx.canEdit) {
      makeSortable(ctx, root);
      root.querySelectorAll("ol.steps").forEach(function (list) { makeSortable(ctx, list); });
    }
  };

  LD.makeSortable = makeSortable;

  function makeSortable(ctx, list) {
    if (list._sortable) list._sortable.destroy();
    list._sortable = new window.Sortable(list, {
      group: { name: "steps", pull: true, put: true },
      handle: ".step-head",
      filter: "button, input, select, textarea",
      preventOnFilter: false,
      draggable: ".step",
      animation: 120,
      forceFallback: true,
      fallbackOnBody: true,
      fallbackTolerance: 4,
      swapThreshold: 0.65,
      emptyInsertThreshold: 12,
      onEnd: function () { ctx.dropped(); },
    });
  }

  LD.makePalette = function (ctx, lists) {
    lists.forEach(function (list) {
      new window.Sortable(list, {
        group: { name: "steps", pull: "clone", put: false },
        sort: false,
        draggable: ".palette-item",
        forceFallback: true,
        fallbackOnBody: true,
        fallbackTolerance: 4,
        onEnd: function (evt) { if (evt.to !== evt.from) ctx.dropped(); },
      });
    });
  };

  /** Reads a phase's lists back from the DOM into ctx.doc; returns the ids of new steps. */
  LD.syncFromDom = function (ctx, phase) {
    const known = {};
    LD.walk(ctx.doc, function (step) { known[step.id] = step; });
    const taken = LD.allIds(ctx.doc);
    const created = [];
    function read(list) {
      const steps = [];
      Array.prototype.forEach.call(list.children, function (li) {
        if (li.classList.contains("palette-item")) {
          const step = LD.newStep(ctx.doc, { kind: li.dataset.kind, target: li.dataset.target, set: li.dataset.set === "true" }, taken);
          created.push(step.id);
          steps.push(step);
        } else if (li.dataset.id && known[li.dataset.id]) {
          const step = known[li.dataset.id];
          li.querySelectorAll(":scope > .branch > ol.steps").forEach(function (child) {
            step[child.dataset.branch] = read(child);
          });
          steps.push(step);
        }
      });
      return steps;
    }
    ctx.doc[phase] = read(ctx.phaseList(phase));
    return created;
  };

  /** Shows problems on their steps; returns {phase: count} (document-level under ""). */
  LD.showProblems = function (ctx, problems) {
    const byStep = {};
    problems.forEach(function (p) { (byStep[p.step || ""] = byStep[p.step || ""] || []).push(p); });
    const perPhase = { prep: 0, script: 0, cleanup: 0, "": (byStep[""] || []).length };
    document.querySelectorAll(".designer .step").forEach(function (li) {
      const mine = byStep[li.dataset.id] || [];
      const badge = li.querySelector(":scope > .step-head .badge-problems");
      const list = li.querySelector(":scope > .step-problems");
      li.classList.toggle("has-problems", mine.length > 0);
      badge.hidden = mine.length === 0;
      badge.textContent = mine.length === 1 ? "1 problem" : mine.length + " problems";
      list.hidden = mine.length === 0;
      list.replaceChildren.apply(list, mine.map(function (p) {
        const where = (p.field || "").replace(/^args\./, "");
        return el("li", null, where && where !== "id" ? el("code", { textContent: where }) : null, where && where !== "id" ? ": " : null, p.message);
      }));
      li.querySelectorAll(":scope > .step-form .field-error[data-problem-for]").forEach(function (slot) {
        const key = slot.dataset.problemFor;
        const hits = mine.filter(function (p) { const f = (p.field || "").replace(/^args\./, ""); return f === key || f.split(".")[0] === key || f.split("[")[0] === key; });
        slot.textContent = hits.map(function (p) { return p.message; }).join("; ");
      });
    });
    Object.keys(byStep).forEach(function (id) {
      if (!id) return;
      const found = LD.find(ctx.doc, id);
      if (found) perPhase[found.phase] += byStep[id].length;
    });
    return perPhase;
  };
})();
