/*
 * labdeck designer — the inline form of a step.
 *
 * Owns the inputs under a step: its name, the arguments of a call generated from the deck's
 * JSON Schema (the widget rules of web/forms.py: select for choices, yes/no, number with its
 * range, text, JSON), where each argument is a fixed value, a run parameter (#name), a saved
 * result ($name, chosen from the names defined before the step) or a formula; the "save as"
 * names (one per item of a tuple); and the fields of flow-control steps.
 *
 * Typing "#name" or "$name" in a value box is a shortcut for a run parameter or a saved
 * result. Every input writes straight into the step object and calls ctx.changed(step).
 * DOM is built with textContent only: no user text is ever parsed as HTML.
 */
(function () {
  "use strict";
  const LD = window.LabdeckDesigner;

  /** el("div", {className: "x", onclick: f}, child, "text", …) */
  LD.el = function (tag, props) {
    const node = document.createElement(tag);
    if (props) {
      Object.keys(props).forEach(function (key) {
        const value = props[key];
        if (value === undefined || value === null || value === false) return;
        if (key.slice(0, 2) === "on") node.addEventListener(key.slice(2), value);
        else if (key === "className" || key === "textContent" || key === "value" || key === "checked") node[key] = value;
        else node.setAttribute(key, value === true ? "" : value);
      });
    }
    for (let i = 2; i < arguments.length; i++) {
      const child = arguments[i];
      if (child === null || child === undefined || child === false) continue;
      node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    }
    return node;
  };
  const el = LD.el;
  let uid = 0;
  function nextId(prefix) { uid += 1; return prefix + "-" + uid; }

  // --- schema helpers (the same rules as web/forms.py) ----------------------------------------

  function resolve(schema, root) {
    if (!schema || typeof schema !== "object") return {};
    let result = Object.assign({}, schema);
    if (typeof result.$ref === "string" && result.$ref.indexOf("#/") === 0) {
      let target = root;
      result.$ref.slice(2).split("/").forEach(function (part) { target = target && target[part]; });
      delete result.$ref;
      result = Object.assign({}, resolve(target, root), result);
    }
    if (Array.isArray(result.allOf) && result.allOf.length === 1) {
      const inner = result.allOf[0];
      delete result.allOf;
      result = Object.assign({}, resolve(inner, root), result);
    }
    return result;
  }

  function splitNull(schema, root) {
    const branches = schema.anyOf || schema.oneOf;
    if (Array.isArray(branches)) {
      const resolved = branches.map(function (b) { return resolve(b, root); });
      const others = resolved.filter(function (b) { return b.type !== "null"; });
      if (others.length === 1) {
        return { core: Object.assign({}, others[0], { description: schema.description, default: schema.default }), nullable: others.length < resolved.length };
      }
      return { core: schema, nullable: others.length < resolved.length };
    }
    if (Array.isArray(schema.type)) {
      const rest = schema.type.filter(function (t) { return t !== "null"; });
      return { core: Object.assign({}, schema, { type: rest.length === 1 ? rest[0] : undefined }), nullable: rest.length < schema.type.length };
    }
    return { core: schema, nullable: false };
  }

  /** Field descriptions of a method's arguments, in signature order. */
  LD.argFields = function (methodSchema) {
    const params = methodSchema.params_schema || {};
    const props = params.properties || {};
    const required = new Set(params.required || []);
    const order = (methodSchema.params || []).map(function (p) { return p.name; }).filter(function (n) { return n in props; });
    Object.keys(props).forEach(function (n) { if (order.indexOf(n) === -1) order.push(n); });
    return order.map(function (name) {
      const raw = resolve(props[name], params);
      const split = splitNull(raw, params);
      const core = split.core;
      let widget = "json";
      if (Array.isArray(core.enum) || "const" in core) widget = "select";
      else if (core.type === "boolean") widget = "yesno";
      else if (core.type === "integer" || core.type === "number") widget = "number";
      else if (core.type === "string") widget = "text";
      return {
        name: name, schema: core, widget: widget, required: required.has(name),
        nullable: split.nullable, hasDefault: "default" in raw, default: raw.default,
        doc: raw.description || "",
      };
    });
  };

  function rangeText(s) {
    const parts = [];
    if (s.minimum !== undefined) parts.push("at least " + s.minimum);
    if (s.exclusiveMinimum !== undefined) parts.push("above " + s.exclusiveMinimum);
    if (s.maximum !== undefined) parts.push("at most " + s.maximum);
    if (s.exclusiveMaximum !== undefined) parts.push("below " + s.exclusiveMaximum);
    return parts.join(", ");
  }

  function choiceOptions(field) {
    const values = Array.isArray(field.schema.enum) ? field.schema.enum : [field.schema.const];
    const names = field.schema["x-enum-names"] || [];
    return values.map(function (v, i) {
      const name = names[i];
      const label = typeof name === "string" && String(v).toLowerCase() !== name.toLowerCase() ? name : String(v);
      return [label, v];
    });
  }

  // --- one argument -----------------------------------------------------------------------------

  const MODES = [["literal", "value"], ["param", "#parameter"], ["var", "$saved result"], ["expr", "formula"]];

  function literalInput(field, value, commit, inputId) {
    const current = LD.valueMode(value) === "literal" ? value : undefined;
    const optionalText = field.hasDefault ? "default: " + JSON.stringify(field.default) : field.required ? "required" : "optional";
    if (field.widget === "select" || field.widget === "yesno") {
      const options = field.widget === "yesno" ? [["yes", true], ["no", false]] : choiceOptions(field);
      const select = el("select", { id: inputId, className: "arg-value" },
        el("option", { value: "" , textContent: field.required && !field.hasDefault ? "— choose —" : "— " + optionalText + " —" }));
      options.forEach(function (pair, i) {
        select.appendChild(el("option", { value: String(i), textContent: pair[0], selected: current !== undefined && current === pair[1] }));
      });
      select.addEventListener("change", function () {
        commit(select.value === "" ? undefined : options[Number(select.value)][1]);
      });
      return select;
    }
    const isJson = field.widget === "json";
    const text = current === undefined ? "" : field.widget === "text" && typeof current === "string" ? current : JSON.stringify(current);
    const input = isJson
      ? el("textarea", { id: inputId, className: "arg-value", rows: "1", spellcheck: "false", placeholder: optionalText })
      : el("input", { id: inputId, type: "text", className: "arg-value", spellcheck: "false", placeholder: optionalText, inputmode: field.widget === "number" ? "decimal" : null });
    input.value = text;
    input.addEventListener("change", function () {
      const raw = input.value;
      const shortcut = LD.shortcut(raw);
      if (shortcut) return commit(shortcut, true);
      if (raw.trim() === "") return commit(undefined);
      if (field.widget === "text") return commit(raw);
      if (field.widget === "number") {
        const n = Number(raw.trim().replace(",", "."));
        return commit(isFinite(n) ? n : raw);
      }
      try { commit(JSON.parse(raw)); } catch (err) { commit(raw); }
    });
    return input;
  }

  function refInput(mode, value, ctx, step, commit, inputId) {
    if (mode === "var") {
      const names = LD.variablesBefore(ctx.doc, step.id);
      const select = el("select", { id: inputId, className: "arg-value" },
        el("option", { value: "", textContent: names.length ? "— choose a saved result —" : "— nothing is saved before this step —" }));
      const chosen = LD.valueMode(value) === "var" ? value.var : "";
      if (chosen && names.indexOf(chosen) === -1) names.push(chosen);
      names.forEach(function (n) { select.appendChild(el("option", { value: n, textContent: "$" + n, selected: n === chosen })); });
      select.addEventListener("change", function () { commit(select.value ? { var: select.value } : undefined); });
      return select;
    }
    const input = el("input", { id: inputId, type: "text", className: "arg-value", spellcheck: "false" });
    if (mode === "param") {
      input.placeholder = "parameter name, e.g. amount_mg";
      input.value = LD.valueMode(value) === "param" ? value.param : "";
      input.setAttribute("list", "designer-param-names");
      input.addEventListener("change", function () {
        const name = input.value.trim().replace(/^#/, "");
        commit(name ? { param: name } : undefined);
      });
    } else {
      input.placeholder = "e.g. mass * 2";
      input.value = LD.valueMode(value) === "expr" ? value.expr : "";
      input.addEventListener("change", function () {
        commit(input.value.trim() ? { expr: input.value.trim() } : undefined);
      });
    }
    return input;
  }

  /**
   * A value field with its mode switch. get() reads the value, put(v) writes it (undefined
   * removes it); the row re-renders itself when the mode changes.
   */
  LD.valueField = function (ctx, step, field, get, put) {
    const row = el("div", { className: "arg", "data-arg": field.name });
    function render(modeOverride) {
      const value = get();
      const mode = modeOverride || LD.valueMode(value);
      const inputId = nextId("arg");
      const tag = field.required && !field.hasDefault ? el("span", { className: "tag tag-required", textContent: "required" }) : null;
      const label = el("label", { for: inputId, className: "arg-label" }, el("span", { className: "field-name", textContent: field.label || field.name }), tag);
      const modeSelect = el("select", { className: "arg-mode", "aria-label": "Kind of value for " + field.name, title: "A fixed value, a run parameter (#), a result saved by an earlier step ($) or a formula" });
      MODES.forEach(function (m) { modeSelect.appendChild(el("option", { value: m[0], textContent: m[1], selected: m[0] === mode })); });
      function commit(next, rerender) {
        put(next);
        ctx.changed(step, { values: true });
        if (rerender) render();
      }
      modeSelect.addEventListener("change", function () {
        const prev = get();
        if (LD.valueMode(prev) !== "literal") put(undefined);
        render(modeSelect.value);
        ctx.changed(step, { values: true });
        const focusable = row.querySelector(".arg-value");
        if (focusable) focusable.focus();
      });
      const input = mode === "literal" ? literalInput(field, value, commit, inputId) : refInput(mode, value, ctx, step, commit, inputId);
      const hints = [];
      if (field.doc) hints.push(field.doc);
      if (mode === "literal" && field.widget === "number") {
        const r = rangeText(field.schema);
        hints.push((field.schema.type === "integer" ? "whole number" : "number") + (r ? " " + r : ""));
      }
      if (mode === "param") hints.push("Each run fills this in (one value per sample, or suggested by an optimizer).");
      if (mode === "expr") hints.push("Use the names of parameters and saved results; e.g. round(mass * 2, 1).");
      row.replaceChildren(label, el("div", { className: "arg-input" }, modeSelect, input),
        hints.length ? el("p", { className: "help", textContent: hints.join(" · ") }) : null,
        el("p", { className: "field-error", "data-problem-for": field.name }));
    }
    render();
    return row;
  };

  // --- simple inputs -------------------------------------------------------------------------

  function textField(ctx, step, key, label, options) {
    const opts = options || {};
    const id = nextId("f");
    const input = el(opts.multiline ? "textarea" : "input", { id: id, type: opts.multiline ? null : "text", className: opts.className || "", spellcheck: opts.code ? "false" : null, placeholder: opts.placeholder || "", rows: opts.multiline ? "2" : null });
    input.value = step[key] === undefined || step[key] === null ? "" : String(step[key]);
    input.addEventListener(opts.live ? "input" : "change", function () {
      const raw = opts.trim === false ? input.value : input.value.trim();
      if (raw === "" && !opts.keepEmpty) delete step[key];
      else step[key] = opts.number ? (isFinite(Number(raw)) ? Number(raw) : raw) : raw;
      ctx.changed(step, { values: true, names: !!opts.names });
    });
    return el("div", { className: "arg", "data-arg": key },
      el("label", { for: id, className: "arg-label" }, el("span", { className: "field-name", textContent: label })),
      input,
      opts.help ? el("p", { className: "help", textContent: opts.help }) : null,
      el("p", { className: "field-error", "data-problem-for": key }));
  }

  function selectField(ctx, step, key, label, choices) {
    const id = nextId("f");
    const select = el("select", { id: id });
    choices.forEach(function (c) { select.appendChild(el("option", { value: c[0], textContent: c[1], selected: step[key] === c[0] })); });
    select.addEventListener("change", function () { step[key] = select.value; ctx.changed(step, { values: true, rerender: true }); });
    return el("div", { className: "arg", "data-arg": key },
      el("label", { for: id, className: "arg-label" }, el("span", { className: "field-name", textContent: label })), select);
  }

  function namesHint(ctx, step) {
    const vars = LD.variablesBefore(ctx.doc, step.id);
    const params = (ctx.doc.parameters || []).map(function (p) { return p.name; });
    const all = vars.concat(params.filter(function (p) { return vars.indexOf(p) === -1; }));
    return all.length ? "Names you can use here: " + all.join(", ") + ". Compare with > < == != and combine with and / or." : "Compare with > < == != and combine with and / or.";
  }

  function saveFields(ctx, step, arity, info) {
    if (arity === 0) return [];
    const rows = [];
    const tuple = arity > 1;
    const current = step.save;
    for (let i = 0; i < arity; i++) {
      const id = nextId("save");
      const value = tuple ? (Array.isArray(current) ? current[i] || "" : "") : (typeof current === "string" ? current : "");
      const input = el("input", { id: id, type: "text", className: "save-name", spellcheck: "false", placeholder: tuple ? "leave empty to skip" : "e.g. mass (leave empty to skip)", "data-save-index": String(i) });
      input.value = value;
      input.addEventListener("change", function () {
        const name = input.value.trim();
        if (tuple) {
          const list = Array.isArray(step.save) ? step.save.slice() : new Array(arity).fill(null);
          while (list.length < arity) list.push(null);
          list[i] = name || null;
          if (list.every(function (n) { return !n; })) delete step.save;
          else step.save = list;
        } else if (name) step.save = name;
        else delete step.save;
        ctx.changed(step, { values: true, names: true });
      });
      const label = tuple ? "Save value " + (i + 1) + " of " + arity + " as" : "Save the result as";
      rows.push(el("div", { className: "arg save-row" },
        el("label", { for: id, className: "arg-label" }, el("span", { className: "field-name", textContent: label })), input));
    }
    const what = info && info.kind === "method" && tuple ? "This method gives back " + arity + " values." : "";
    rows.push(el("p", { className: "help", textContent: (what + " A saved result can be used by later steps ($name) and recorded as a result of the run.").trim() }));
    rows.push(el("p", { className: "field-error", "data-problem-for": "save" }));
    return rows;
  }

  function callFields(ctx, step) {
    const info = LD.targetInfo(ctx.deck, step.target);
    const parts = [];
    if (!step.args) step.args = {};
    if (!info) {
      parts.push(el("p", { className: "alert alert-error", textContent: "The deck has no " + step.target + ". Delete this step or pick another method." }));
    } else if (info.kind === "property") {
      if ("set" in step.args) {
        const field = { name: "set", label: "new value", schema: info.schema.schema || {}, widget: "json", required: true };
        const core = field.schema;
        field.widget = Array.isArray(core.enum) ? "select" : core.type === "boolean" ? "yesno" : core.type === "number" || core.type === "integer" ? "number" : core.type === "string" ? "text" : "json";
        parts.push(LD.valueField(ctx, step, field, function () { return step.args.set; }, function (v) { step.args.set = v === undefined ? null : v; }));
      }
    } else {
      const fields = LD.argFields(info.schema);
      if (!fields.length) parts.push(el("p", { className: "muted no-params", textContent: "No settings." }));
      fields.forEach(function (field) {
        parts.push(LD.valueField(ctx, step, field,
          function () { return step.args[field.name]; },
          function (v) { if (v === undefined) delete step.args[field.name]; else step.args[field.name] = v; }));
      });
    }
    return parts.concat(saveFields(ctx, step, LD.returnArity(info, step), info));
  }

  function looseValueField(ctx, step, key, label, widget) {
    const field = { name: key, label: label, schema: { type: widget === "number" ? "number" : undefined }, widget: widget, required: true };
    return LD.valueField(ctx, step, field, function () { return step[key]; }, function (v) { if (v === undefined) delete step[key]; else step[key] = v; });
  }

  /** The body of a step's form (its name field comes first). */
  LD.stepForm = function (ctx, step) {
    const form = el("div", { className: "step-form" });
    const idInput = el("input", { type: "text", className: "step-id-input", spellcheck: "false", value: step.id, id: nextId("sid") });
    idInput.addEventListener("change", function () { ctx.rename(step, idInput.value.trim(), idInput); });
    const idField = el("div", { className: "arg arg-id" },
      el("label", { for: idInput.id, className: "arg-label" }, el("span", { className: "field-name", textContent: "Step name" })), idInput,
      el("p", { className: "help", textContent: "Shown in run records; unique in this workflow." }),
      el("p", { className: "field-error", "data-problem-for": "id" }));
    let parts = [];
    switch (step.kind) {
      case "call": parts = callFields(ctx, step); break;
      case "if": parts = [textField(ctx, step, "condition", "Condition", { code: true, className: "code-input", placeholder: "e.g. mass > 4.5", help: namesHint(ctx, step), keepEmpty: true })]; break;
      case "while": parts = [
        textField(ctx, step, "condition", "Keep going while", { code: true, className: "code-input", placeholder: "e.g. temperature < 80", help: namesHint(ctx, step), keepEmpty: true }),
        textField(ctx, step, "max_iterations", "At most this many times", { number: true, help: "A safety limit: reaching it stops the run and asks an operator." })]; break;
      case "repeat": parts = [looseValueField(ctx, step, "times", "How many times", "number"),
        textField(ctx, step, "index", "Name of the counter (optional)", { code: true, names: true, placeholder: "e.g. i", help: "Counts 1, 2, 3… inside the block." })]; break;
      case "wait": parts = [looseValueField(ctx, step, "seconds", "Seconds to wait", "number")]; break;
      case "set": parts = [textField(ctx, step, "name", "Name", { code: true, names: true, keepEmpty: true, placeholder: "e.g. target" }), looseValueField(ctx, step, "value", "Value", "json")]; break;
      case "comment": parts = [textField(ctx, step, "text", "Text for the run log", { multiline: true, keepEmpty: true, trim: false, help: "Write {name} to include a saved result." })]; break;
      case "input": parts = [
        textField(ctx, step, "prompt", "Question for the operator", { keepEmpty: true }),
        selectField(ctx, step, "type", "Answer is", [["number", "a number"], ["integer", "a whole number"], ["text", "text"], ["boolean", "yes / no"], ["choice", "one of a list"]]),
        step.type === "choice" ? choiceListField(ctx, step) : null,
        textField(ctx, step, "save", "Save the answer as", { code: true, names: true, keepEmpty: true, placeholder: "e.g. answer" })]; break;
      case "pause": parts = [textField(ctx, step, "message", "Message for the operator", { keepEmpty: true })]; break;
      case "workflow": parts = [
        textField(ctx, step, "workflow", "Workflow name", { keepEmpty: true }),
        textField(ctx, step, "version", "Version (empty: the one in use when this is published)", { number: true })]; break;
      default: parts = [];
    }
    parts.forEach(function (p) { if (p) form.appendChild(p); });
    const more = el("details", { className: "step-more" }, el("summary", { textContent: "More options" }));
    more.appendChild(idField);
    more.appendChild(textField(ctx, step, "note", "Note", { multiline: true }));
    if (step.kind === "call") {
      more.appendChild(textField(ctx, step, "timeout_s", "Time limit in seconds (optional)", { number: true }));
      more.appendChild(selectField(ctx, step, "per", "With several samples per batch, run this", [["sample", "for each sample"], ["batch", "once per batch"]]));
    }
    form.appendChild(more);
    return form;
  };

  function choiceListField(ctx, step) {
    const wrap = textField(ctx, step, "choices", "Choices (comma separated)", {});
    const input = wrap.querySelector("input");
    input.value = (step.choices || []).join(", ");
    input.addEventListener("change", function () {
      step.choices = input.value.split(",").map(function (s) { return s.trim(); }).filter(Boolean);
      ctx.changed(step, { values: true });
    });
    return wrap;
  }
})();
