/*
 * labdeck designer — the document model (labdeck.workflow/1, see WORKFLOW_FORMAT.md).
 *
 * Owns every change to the working document held in the browser: finding steps, creating
 * steps from palette items, unique step ids, duplicating (with fresh ids), deleting, the
 * variables visible before a step, run parameters referenced by `{"param": …}` values, and
 * the deck lookups (what a call target is, its argument schema, what it returns).
 * No DOM here: canvas.js and fields.js render, main.js talks to the server.
 */
(function () {
  "use strict";
  const LD = (window.LabdeckDesigner = window.LabdeckDesigner || {});

  const NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;
  LD.NAME_RE = NAME_RE;
  LD.PHASES = ["prep", "script", "cleanup"];
  LD.BLOCK_BRANCHES = { if: ["then", "else"], while: ["do"], repeat: ["do"] };

  // --- values -------------------------------------------------------------------------------

  /** "literal" | "param" | "var" | "expr" for a value of the document. */
  LD.valueMode = function (value) {
    if (value && typeof value === "object" && !Array.isArray(value)) {
      const keys = Object.keys(value);
      if (keys.length === 1 && ["param", "var", "expr"].indexOf(keys[0]) !== -1) {
        return keys[0];
      }
    }
    return "literal";
  };

  /** A short text for a value: #param, $var, a formula or the literal JSON. */
  LD.valueText = function (value) {
    const mode = LD.valueMode(value);
    if (mode === "param") return "#" + value.param;
    if (mode === "var") return "$" + value.var;
    if (mode === "expr") return "= " + value.expr;
    return typeof value === "string" ? JSON.stringify(value) : JSON.stringify(value);
  };

  /** The designer's shortcuts: "#name" is a run parameter, "$name" a saved result. */
  LD.shortcut = function (text) {
    const trimmed = String(text).trim();
    if (trimmed.length > 1 && (trimmed[0] === "#" || trimmed[0] === "$")) {
      const name = trimmed.slice(1);
      if (NAME_RE.test(name)) {
        return trimmed[0] === "#" ? { param: name } : { var: name };
      }
    }
    return null;
  };

  // --- walking ------------------------------------------------------------------------------

  /** [[branch, list]] of a block step; creates missing lists so they can take drops. */
  LD.childLists = function (step) {
    const branches = LD.BLOCK_BRANCHES[step.kind] || [];
    return branches.map(function (branch) {
      if (!Array.isArray(step[branch])) step[branch] = [];
      return [branch, step[branch]];
    });
  };

  /** Calls visit(step, list, index, phase, parents) for every step, depth first. */
  LD.walk = function (doc, visit, phases) {
    function walkList(list, phase, parents) {
      for (let i = 0; i < list.length; i++) {
        const step = list[i];
        if (visit(step, list, i, phase, parents) === false) return false;
        const lists = LD.childLists(step);
        for (let j = 0; j < lists.length; j++) {
          if (walkList(lists[j][1], phase, parents.concat([step])) === false) return false;
        }
      }
      return true;
    }
    (phases || LD.PHASES).forEach(function (phase) {
      if (!Array.isArray(doc[phase])) doc[phase] = [];
      walkList(doc[phase], phase, []);
    });
  };

  LD.find = function (doc, id) {
    let found = null;
    LD.walk(doc, function (step, list, index, phase, parents) {
      if (step.id === id) {
        found = { step: step, list: list, index: index, phase: phase, parents: parents };
        return false;
      }
      return true;
    });
    return found;
  };

  LD.allIds = function (doc) {
    const ids = new Set();
    LD.walk(doc, function (step) { ids.add(step.id); });
    return ids;
  };

  LD.uniqueId = function (doc, base, taken) {
    const ids = taken || LD.allIds(doc);
    let stem = String(base || "step").replace(/[^A-Za-z0-9_-]/g, "_").slice(0, 56) || "step";
    let candidate = stem;
    for (let n = 2; ids.has(candidate); n++) candidate = stem + "_" + n;
    ids.add(candidate);
    return candidate;
  };

  LD.countSteps = function (list) {
    let n = 0;
    (list || []).forEach(function (step) {
      n += 1;
      LD.childLists(step).forEach(function (pair) { n += LD.countSteps(pair[1]); });
    });
    return n;
  };

  // --- the deck -----------------------------------------------------------------------------

  /** What a call target is on the deck: {kind, schema, instrument, member} or null. */
  LD.targetInfo = function (deck, target) {
    if (!target) return null;
    const dot = target.indexOf(".");
    if (dot === -1) {
      const fn = (deck.functions || {})[target];
      return fn ? { kind: "function", schema: fn, instrument: "", member: target } : null;
    }
    const instrument = (deck.instruments || {})[target.slice(0, dot)];
    const member = target.slice(dot + 1);
    if (!instrument) return null;
    if (instrument.methods && instrument.methods[member]) {
      return { kind: "method", schema: instrument.methods[member], instrument: target.slice(0, dot), member: member };
    }
    if (instrument.properties && instrument.properties[member]) {
      return { kind: "property", schema: instrument.properties[member], instrument: target.slice(0, dot), member: member };
    }
    return null;
  };

  /** How many values a call gives back: 0 (nothing), 1, or n for a tuple. */
  LD.returnArity = function (info, step) {
    if (!info) return Array.isArray(step.save) ? step.save.length : 1;
    if (info.kind === "property") return step.args && "set" in step.args ? 0 : 1;
    const returns = info.schema.returns || {};
    if (returns.kind === "none") return 0;
    if (returns.kind === "tuple" && returns.arity) return returns.arity;
    return 1;
  };

  // --- creating, copying, deleting ---------------------------------------------------------

  const BLOCK_DEFAULTS = {
    if: function () { return { condition: "", then: [], else: [] }; },
    while: function () { return { condition: "", do: [], max_iterations: 100 }; },
    repeat: function () { return { times: 3, do: [] }; },
    wait: function () { return { seconds: 10 }; },
    set: function () { return { name: "", value: 0 }; },
    comment: function () { return { text: "" }; },
    input: function () { return { prompt: "", save: "", type: "number" }; },
    pause: function () { return { message: "" }; },
    workflow: function () { return { workflow: "", args: {} }; },
  };

  /** A new step from a palette item: {kind, target, set}. */
  LD.newStep = function (doc, item, taken) {
    if (item.kind === "call") {
      const member = item.target.split(".").pop();
      const step = { id: LD.uniqueId(doc, member, taken), kind: "call", target: item.target };
      if (item.set) step.args = { set: null };
      return step;
    }
    const step = { id: LD.uniqueId(doc, item.kind, taken), kind: item.kind };
    return Object.assign(step, (BLOCK_DEFAULTS[item.kind] || function () { return {}; })());
  };

  /** A deep copy of a step with fresh ids for it and everything inside it. */
  LD.copyStep = function (doc, step) {
    const copy = JSON.parse(JSON.stringify(step));
    const taken = LD.allIds(doc);
    (function renumber(s) {
      s.id = LD.uniqueId(doc, s.id.replace(/_\d+$/, ""), taken);
      LD.childLists(s).forEach(function (pair) { pair[1].forEach(renumber); });
    })(copy);
    return copy;
  };

  LD.removeStep = function (doc, id) {
    const found = LD.find(doc, id);
    if (found) found.list.splice(found.index, 1);
    return found;
  };

  // --- names: saved results, variables in scope, run parameters ------------------------------

  /** The variable names a step defines (saves, set, input, a repeat's counter). */
  LD.definedNames = function (step) {
    const names = [];
    if ((step.kind === "call" || step.kind === "workflow") && step.save) {
      (Array.isArray(step.save) ? step.save : [step.save]).forEach(function (n) { if (n) names.push(n); });
    }
    if (step.kind === "set" && step.name) names.push(step.name);
    if (step.kind === "input" && step.save) names.push(step.save);
    if (step.kind === "repeat" && step.index) names.push(step.index);
    return names;
  };

  /**
   * Variables a step may use: prep variables (in script and cleanup), names defined by steps
   * earlier in its own phase (document order), and the counters of repeat blocks around it.
   */
  LD.variablesBefore = function (doc, id) {
    const found = LD.find(doc, id);
    if (!found) return [];
    const names = [];
    function add(n) { if (names.indexOf(n) === -1) names.push(n); }
    if (found.phase !== "prep") {
      LD.walk(doc, function (step) { LD.definedNames(step).forEach(add); }, ["prep"]);
    }
    LD.walk(doc, function (step) {
      if (step.id === id) return false;
      if (step.kind !== "repeat") LD.definedNames(step).forEach(add);
      return true;
    }, [found.phase]);
    found.parents.forEach(function (parent) {
      if (parent.kind === "repeat" && parent.index) add(parent.index);
    });
    return names;
  };

  /** Every saved name in the document (for the outputs list). */
  LD.allSavedNames = function (doc, phases) {
    const names = [];
    LD.walk(doc, function (step) {
      LD.definedNames(step).forEach(function (n) { if (names.indexOf(n) === -1) names.push(n); });
    }, phases);
    return names;
  };

  function forEachValue(step, visit) {
    if (step.args) Object.keys(step.args).forEach(function (k) { visit(step.args[k], k); });
    ["times", "seconds", "value"].forEach(function (k) { if (k in step) visit(step[k], k); });
  }

  /** {name: count} of parameters referenced anywhere in the document. */
  LD.paramUses = function (doc) {
    const uses = {};
    LD.walk(doc, function (step) {
      forEachValue(step, function (value) {
        if (LD.valueMode(value) === "param") uses[value.param] = (uses[value.param] || 0) + 1;
      });
    });
    return uses;
  };

  /** Adds every referenced parameter to `parameters` (the designer lists them for you). */
  LD.ensureParameters = function (doc, defaults) {
    if (!Array.isArray(doc.parameters)) doc.parameters = [];
    const listed = new Set(doc.parameters.map(function (p) { return p.name; }));
    let added = false;
    Object.keys(LD.paramUses(doc)).forEach(function (name) {
      if (!listed.has(name)) {
        const entry = { name: name };
        if (defaults && defaults[name] !== undefined && defaults[name] !== null) entry.default = defaults[name];
        doc.parameters.push(entry);
        listed.add(name);
        added = true;
      }
    });
    return added;
  };
})();
