/*
 * labdeck Execute page — "Optimize (campaign)": the form for an optimization campaign.
 *
 * Built from two answers of the API, never from knowledge of a particular optimizer:
 * GET /api/optimizers (what each installed optimizer can do: parameter types, log scale,
 * several objectives, linear constraints, batches, and a JSON Schema of its extra settings)
 * and GET /api/workflows/{id}/campaign-template (a starting campaign for the chosen version).
 * A results CSV for a warm start is read by POST /api/campaigns/history.csv.
 *
 * setup.js asks `LabdeckExecute.campaignForm` for the run's `mode` on submit and hands it
 * the per-field problems of a refused run (`mode.campaign.parameters[1].low`, …), which are
 * shown next to the matching inputs. Typed values stay typed: choices and fixed values are
 * read as the workflow parameter's JSON Schema says (numbers as numbers, text as text).
 */
(function () {
  "use strict";
  const X = window.LabdeckExecute;
  const el = X.el;
  const setup = X.boot.setup;
  const panel = document.getElementById("campaign-panel");
  if (!panel || !setup) return;

  const TYPE_WORDS = { float: "Range: any number", int: "Range: whole numbers", choice: "One of a list", fixed: "Fixed value" };
  const $ = function (id) { return document.getElementById(id); };
  const byName = {};
  setup.parameters.forEach(function (p) { byName[p.name] = p; });

  let catalog = null; // GET /api/optimizers
  let state = null; // { optimizer, settings, parameters, objectives }
  let history = null; // { rows, file, ignored }
  let loading = null;
  let fields = {}; // a problem's field path (after "mode.campaign.") -> { input, slot }

  // --- values people type, read as the parameter's schema says --------------------------

  function schemaOf(name) { return X.resolvedSchema(byName[name] ? byName[name].schema : {}); }

  function numberFrom(text) {
    const t = String(text).trim().replace(/^(-?\d+),(\d+)$/, "$1.$2"); // a decimal comma
    if (t === "") return null;
    const n = Number(t);
    return Number.isFinite(n) ? n : NaN;
  }

  function looksTyped(text) { return /^(true|false|null)$/.test(text) || Number.isFinite(Number(text)); }

  /** One typed value from text: the schema decides; without one, numbers and true/false are guessed. */
  function typedValue(text, schema) {
    const t = String(text).trim();
    if (Array.isArray(schema.enum)) {
      const hit = schema.enum.find(function (v) { return String(v) === t || JSON.stringify(v) === t; });
      if (hit !== undefined) return hit;
    }
    if (/^".*"$/.test(t)) return t.slice(1, -1);
    if (schema.type === "string") return t;
    if (schema.type === "number" || schema.type === "integer") return numberFrom(t);
    if (schema.type === "boolean") return t === "true" ? true : t === "false" ? false : NaN;
    if (schema.type === "array" || schema.type === "object") {
      try { return JSON.parse(t); } catch (err) { return NaN; }
    }
    if (t === "true" || t === "false") return t === "true";
    const n = Number(t);
    return t !== "" && Number.isFinite(n) ? n : t;
  }

  function valueText(value, schema) {
    if (value === null || value === undefined) return "";
    if (typeof value === "string") return schema.type !== "string" && looksTyped(value) ? JSON.stringify(value) : value;
    if (typeof value === "object") return JSON.stringify(value);
    return String(value);
  }

  function bad(v) { return typeof v === "number" && Number.isNaN(v); }
  function str(v) { return v === undefined || v === null ? "" : String(v); }

  // --- reading the form back into `state` ----------------------------------------------------

  function readInto() {
    if (!state) return;
    document.querySelectorAll("#campaign-parameters .campaign-param").forEach(function (card, i) {
      const p = state.parameters[i];
      const get = function (key) { return card.querySelector('[data-key="' + key + '"]'); };
      ["type", "low", "high", "step", "choices", "value"].forEach(function (key) {
        const n = get(key);
        if (n) p.text[key] = n.value;
      });
      const log = get("log");
      if (log) p.log = log.checked;
      p.type = p.text.type || p.type;
    });
    document.querySelectorAll("#campaign-objectives .objective-row").forEach(function (row, i) {
      const o = state.objectives[i];
      o.include = row.querySelector('[data-key="include"]').checked;
      o.direction = row.querySelector('[data-key="direction"]').value;
      o.thresholdText = row.querySelector('[data-key="threshold"]').value;
    });
    document.querySelectorAll("#campaign-settings [data-setting]").forEach(function (input) {
      state.settings[input.dataset.setting] = input.type === "checkbox" ? input.checked : input.value;
    });
  }

  function optimizerInfo() {
    return catalog.optimizers.find(function (o) { return o.name === state.optimizer; }) || catalog.optimizers[0];
  }

  // --- rendering -----------------------------------------------------------------------------

  function errorSlot() { return el("p", { className: "field-error" }); }

  function textInput(key, text, label, extra) {
    return el("input", Object.assign({ type: "text", value: text, autocomplete: "off", "aria-label": label, dataset: { key: key } }, extra || {}));
  }

  function labelled(caption, input) {
    return el("label", { className: "mini-field" }, el("span", { className: "mini-label", textContent: caption }), input);
  }

  function paramCard(p, i, info) {
    const schema = schemaOf(p.name);
    const types = info.parameter_types.slice();
    if (types.indexOf("fixed") === -1) types.push("fixed");
    let note = "";
    if (types.indexOf(p.type) === -1) {
      note = "This optimizer cannot vary a parameter of this kind: it is kept at a fixed value.";
      p.type = "fixed";
      if (p.text.value === "") p.text.value = valueText(byName[p.name] ? byName[p.name].default : "", schema);
    }
    const typeSelect = el("select", { "aria-label": p.name + ": how it may vary", dataset: { key: "type" } });
    types.forEach(function (t) { typeSelect.append(el("option", { value: t, textContent: TYPE_WORDS[t] || t })); });
    typeSelect.value = p.type;
    typeSelect.addEventListener("change", function () {
      readInto();
      const t = p.text; // a new kind starts from what the workflow's schema allows
      if (t.low === "" && schema.minimum !== undefined) t.low = String(schema.minimum);
      if (t.high === "" && schema.maximum !== undefined) t.high = String(schema.maximum);
      if (t.choices === "" && Array.isArray(schema.enum)) t.choices = schema.enum.map(function (v) { return valueText(v, schema); }).join(", ");
      renderParameters();
    });
    const body = el("div", { className: "param-inputs" });
    if (p.type === "float" || p.type === "int") {
      body.append(
        labelled("From", textInput("low", p.text.low, p.name + ": lowest value", { inputMode: "decimal" })),
        labelled("To", textInput("high", p.text.high, p.name + ": highest value", { inputMode: "decimal" })),
        labelled("Step", textInput("step", p.text.step, p.name + ": step (optional)", { inputMode: "decimal", placeholder: "any" })));
      if (info.log_scale) {
        body.append(el("label", { className: "check-row log-row", title: "Try values evenly on a log scale, e.g. 0.1, 1, 10 (for ranges over several orders of magnitude)" },
          el("input", { type: "checkbox", checked: Boolean(p.log), dataset: { key: "log" }, "aria-label": p.name + ": log scale" }), " log scale"));
      }
    } else if (p.type === "choice") {
      body.append(labelled("Choices (comma-separated)", textInput("choices", p.text.choices, p.name + ": choices", { className: "wide-input" })));
    } else {
      body.append(labelled("Value", textInput("value", p.text.value, p.name + ": fixed value")));
    }
    const helpText = [schema.description, state.notes[p.name], note].filter(Boolean).join(" — ");
    return el("div", { className: "campaign-param", dataset: { param: p.name, index: String(i) } },
      el("div", { className: "param-head" }, el("span", { className: "field-name", textContent: p.name }), typeSelect),
      body, helpText ? el("p", { className: "help", textContent: helpText }) : null, errorSlot());
  }

  function renderParameters() {
    $("campaign-parameters").replaceChildren(...state.parameters.map(function (p, i) { return paramCard(p, i, optimizerInfo()); }));
  }

  function renderObjectives() {
    const info = optimizerInfo();
    const multi = Boolean(info.multi_objective);
    if (!multi) {
      let seen = false;
      state.objectives.forEach(function (o) { if (o.include && seen) o.include = false; if (o.include) seen = true; });
    }
    const box = $("campaign-objectives");
    box.replaceChildren();
    if (!state.objectives.length) {
      box.append(el("p", { className: "alert alert-warn", textContent: "This workflow saves no outputs. An optimizer needs a measured number to improve: in Design, save a step's result as an output and publish again." }));
    }
    state.objectives.forEach(function (o) {
      const include = el("input", { type: multi ? "checkbox" : "radio", name: "objective-include", checked: o.include, dataset: { key: "include" }, "aria-label": "Improve " + o.name });
      const direction = el("select", { dataset: { key: "direction" }, "aria-label": o.name + ": aim" },
        el("option", { value: "maximize", textContent: "as high as possible" }),
        el("option", { value: "minimize", textContent: "as low as possible" }));
      direction.value = o.direction;
      const threshold = textInput("threshold", o.thresholdText, o.name + ": good enough level (optional)", { inputMode: "decimal", placeholder: "optional" });
      box.append(el("div", { className: "objective-row", dataset: { objective: o.name } },
        el("div", { className: "param-head" },
          el("label", { className: "check-row objective-name" }, include, el("span", { className: "field-name", textContent: o.name })), direction),
        el("label", { className: "threshold-row" }, el("span", { className: "mini-label", textContent: "Good enough: stop when reached" }), threshold),
        errorSlot()));
    });
    $("campaign-objectives-help").textContent = state.objectives.length < 2 ? ""
      : multi ? "Tick several outputs to balance them: the results then show the best compromises."
        : "This optimizer improves one output at a time: choose one.";
  }

  function settingInput(name, prop, value) {
    const s = X.resolvedSchema(prop);
    const common = { id: "campaign-setting-" + name, dataset: { setting: name } };
    if (Array.isArray(s.enum)) {
      const select = el("select", common, ...s.enum.map(function (v) { return el("option", { value: String(v), textContent: String(v) }); }));
      select.value = str(value);
      return select;
    }
    if (s.type === "boolean") return el("input", Object.assign({ type: "checkbox", checked: Boolean(value) }, common));
    const numeric = s.type === "number" || s.type === "integer";
    return el("input", Object.assign(numeric ? { type: "number", step: s.type === "integer" ? "1" : "any", min: s.minimum, max: s.maximum }
      : { type: "text", autocomplete: "off" }, { value: str(value) }, common));
  }

  function words(name) { const t = name.replace(/_/g, " "); return t.charAt(0).toUpperCase() + t.slice(1); }

  function renderSettings() {
    const info = optimizerInfo();
    const props = (info.settings_schema && info.settings_schema.properties) || {};
    const box = el("details", { className: "options settings-details" }, el("summary", { textContent: "Optimizer settings" }));
    $("campaign-settings").replaceChildren(Object.keys(props).length ? box : "");
    Object.keys(props).forEach(function (name) {
      const prop = Object.assign({ $defs: info.settings_schema.$defs }, props[name]);
      const s = X.resolvedSchema(prop);
      if (!(name in state.settings) && s.default !== undefined) state.settings[name] = s.default;
      const input = settingInput(name, prop, state.settings[name]);
      const caption = s.title || prop.title || words(name);
      const help = s.description || prop.description;
      const field = input.type === "checkbox"
        ? el("div", { className: "field" }, el("label", { className: "check-row" }, input, " " + caption))
        : el("div", { className: "field" }, el("label", { htmlFor: input.id, textContent: caption }), input);
      if (help) field.append(el("p", { className: "help", textContent: help }));
      field.append(el("p", { className: "field-error", id: input.id + "-error" }));
      box.append(field);
    });
  }

  function render() {
    const info = optimizerInfo();
    const select = $("campaign-optimizer");
    select.replaceChildren.apply(select, catalog.optimizers.map(function (o) { return el("option", { value: o.name, textContent: o.label || o.name }); }));
    select.value = state.optimizer;
    select.disabled = catalog.optimizers.length < 2;
    $("campaign-optimizer-help").textContent = info.description || "";
    renderSettings();
    renderParameters();
    renderObjectives();
    const numeric = state.parameters.filter(function (p) { return p.type === "float" || p.type === "int"; }).map(function (p) { return p.name; });
    $("campaign-constraints").placeholder = "e.g. " + (numeric.length > 1 ? numeric[0] + " + " + numeric[1] : numeric.length ? "2*" + numeric[0] : "a + b") + " <= 80";
    $("campaign-constraints-field").hidden = !info.constraints;
    $("campaign-no-constraints").hidden = Boolean(info.constraints);
    $("campaign-batch-help").textContent = info.batch
      ? "With “Samples per batch” (under Options) above 1, the optimizer suggests that many experiments at a time."
      : "This optimizer suggests one experiment at a time: keep “Samples per batch” (under Options) at 1.";
  }

  function paramState(p) {
    const schema = schemaOf(p.name);
    return { name: p.name, type: p.type, log: Boolean(p.log), text: {
      type: p.type, low: str(p.low), high: str(p.high), step: str(p.step), value: valueText(p.value, schema),
      choices: (p.choices || []).map(function (c) { return valueText(c, schema); }).join(", ") } };
  }

  function start(template) {
    const names = catalog.optimizers.map(function (o) { return o.name; });
    const chosen = names.indexOf(template.optimizer) !== -1 ? template.optimizer : names.indexOf(catalog.default) !== -1 ? catalog.default : names[0];
    const suggested = template.objectives || [];
    const outputs = suggested.map(function (o) { return o.name; });
    (setup.outputs || []).forEach(function (name) { if (outputs.indexOf(name) === -1) outputs.push(name); });
    state = {
      optimizer: chosen,
      settings: Object.assign({}, template.settings || {}),
      notes: template.notes || {},
      parameters: (template.parameters || []).map(paramState),
      objectives: outputs.map(function (name) {
        const s = suggested.find(function (o) { return o.name === name; });
        return { name: name, include: Boolean(s), direction: (s && s.direction) || "maximize", thresholdText: str(s && s.threshold) };
      }),
    };
    $("campaign-budget").value = str(template.budget);
    $("campaign-initial-random").value = str(template.initial_random);
    $("campaign-seed").value = str(template.seed);
    $("campaign-constraints").value = (template.constraints || []).join("\n");
    render();
  }

  async function load() {
    $("campaign-loading").hidden = false;
    $("campaign-load-error").hidden = true;
    try {
      const url = "/api/workflows/" + encodeURIComponent(setup.workflow) + "/campaign-template?version=" + encodeURIComponent(setup.version);
      const both = await Promise.all([X.api("GET", "/api/optimizers"), X.api("GET", url)]);
      catalog = both[0];
      if (!catalog.optimizers || !catalog.optimizers.length) throw new Error("No optimizer is installed on this server.");
      start(both[1]);
      $("campaign-fields").hidden = false;
    } catch (err) {
      loading = null;
      const box = $("campaign-load-error");
      box.hidden = false;
      box.replaceChildren(el("p", { textContent: "The campaign form cannot be shown: " + err.message + (err.problems && err.problems.length ? " (" + err.problems.join("; ") + ")" : "") }),
        el("button", { type: "button", className: "btn btn-small", textContent: "Try again", onclick: function () { loading = load(); } }));
    } finally {
      $("campaign-loading").hidden = true;
    }
  }

  // --- choosing the mode -----------------------------------------------------------------------

  function active() { return Boolean(document.querySelector('input[name="run-mode"][value="campaign"]:checked')); }

  function showMode() {
    const campaign = active();
    panel.hidden = !campaign;
    $("table-panel").hidden = campaign;
    if (campaign && !loading) loading = load();
  }
  document.querySelectorAll('input[name="run-mode"]').forEach(function (r) { r.addEventListener("change", showMode); });
  showMode(); // a browser may restore the choice on "back"

  $("campaign-optimizer").addEventListener("change", function (event) {
    readInto();
    state.optimizer = event.target.value;
    render();
  });

  // --- warm start from a results file ----------------------------------------------------------

  function includedNames() {
    readInto();
    return state ? state.objectives.filter(function (o) { return o.include; }).map(function (o) { return o.name; }) : [];
  }

  function showHistory() {
    const n = history ? history.rows.length : 0;
    $("history-clear").hidden = !history;
    $("history-status").textContent = !history ? "" : n + (n === 1 ? " row" : " rows") + " loaded from " + history.file +
      (history.ignored.length ? "; ignored columns: " + history.ignored.join(", ") : "") + ".";
  }

  $("history-file").addEventListener("change", async function (event) {
    const file = event.target.files && event.target.files[0];
    const problem = $("campaign-history-error");
    problem.textContent = "";
    if (!file) return;
    const body = new FormData();
    body.append("file", file);
    body.append("workflow", setup.workflow);
    body.append("version", String(setup.version));
    body.append("objectives", includedNames().join(","));
    try {
      const parsed = await X.api("POST", "/api/campaigns/history.csv", body);
      history = { rows: parsed.rows || [], file: file.name, ignored: parsed.ignored_columns || [] };
    } catch (err) {
      history = null;
      const extra = err.problems && err.problems.length ? " " + err.problems.slice(0, 5).join("; ") : "";
      problem.textContent = "Could not use " + file.name + ": " + err.message + extra;
    } finally {
      event.target.value = "";
      showHistory();
    }
  });
  $("history-clear").addEventListener("click", function () { history = null; showHistory(); });

  // --- the campaign to submit, and its problems ------------------------------------------------

  function clearProblems() {
    panel.querySelectorAll(".is-invalid").forEach(function (n) { n.classList.remove("is-invalid"); });
    panel.querySelectorAll(".field-error").forEach(function (n) { n.textContent = ""; });
    fields = {};
  }

  function at(path, input, slot) { fields[path] = { input: input, slot: slot }; }

  /** The `mode` of POST /api/runs; throws {message, problems} when the form cannot be read. */
  function mode() {
    if (!state) throw { message: loading ? "The campaign form is still loading." : "The campaign form could not be loaded.", problems: [] };
    readInto();
    clearProblems();
    const local = [];
    const problem = function (path, message) { local.push({ field: "mode.campaign." + path, message: message }); };
    function numberAt(path, input, slot, caption, required, whole) {
      const v = numberFrom(input.value);
      at(path, input, slot);
      if (v === null && !required) return null;
      if (v !== null && !bad(v) && (!whole || Number.isInteger(v))) return v;
      problem(path, caption + (whole ? " must be a whole number" : " must be a number"));
      return null;
    }
    at("optimizer", $("campaign-optimizer"), $("campaign-optimizer-error"));
    at("parameters", null, $("campaign-parameters-error"));
    const cards = document.querySelectorAll("#campaign-parameters .campaign-param");
    const parameters = state.parameters.map(function (p, i) {
      const slot = cards[i].querySelector(".field-error");
      const path = "parameters[" + i + "]";
      const q = function (key) { return cards[i].querySelector('[data-key="' + key + '"]'); };
      const schema = schemaOf(p.name);
      const out = { name: p.name, type: p.type };
      at(path, q("type"), slot);
      if (p.type === "float" || p.type === "int") {
        out.low = numberAt(path + ".low", q("low"), slot, p.name + ": “From”", true, p.type === "int");
        out.high = numberAt(path + ".high", q("high"), slot, p.name + ": “To”", true, p.type === "int");
        const step = numberAt(path + ".step", q("step"), slot, p.name + ": “Step”", false, false);
        if (step !== null) out.step = step;
        out.log = Boolean(q("log") && q("log").checked);
      } else if (p.type === "choice") {
        at(path + ".choices", q("choices"), slot);
        const items = p.text.choices.split(",").map(function (t) { return t.trim(); }).filter(Boolean);
        out.choices = items.map(function (t) { return typedValue(t, schema); });
        const wrong = items.filter(function (t, k) { return bad(out.choices[k]); });
        if (!items.length) problem(path + ".choices", p.name + ": list at least one choice");
        if (wrong.length) problem(path + ".choices", p.name + ": not a " + (schema.type || "valid") + " value: " + wrong.join(", "));
      } else {
        at(path + ".value", q("value"), slot);
        out.value = typedValue(p.text.value, schema);
        if (bad(out.value)) problem(path + ".value", p.name + ": not a valid value");
      }
      return out;
    });
    const rows = document.querySelectorAll("#campaign-objectives .objective-row");
    const objectives = [];
    state.objectives.forEach(function (o, j) {
      if (!o.include) return;
      const path = "objectives[" + objectives.length + "]";
      const slot = rows[j].querySelector(".field-error");
      at(path, rows[j].querySelector('[data-key="direction"]'), slot);
      const threshold = numberAt(path + ".threshold", rows[j].querySelector('[data-key="threshold"]'), slot, o.name + ": “Good enough”", false, false);
      objectives.push({ name: o.name, direction: o.direction, threshold: threshold });
    });
    at("objectives", null, $("campaign-objectives-error"));
    if (!objectives.length) problem("objectives", "Choose at least one output to improve.");
    const budget = numberAt("budget", $("campaign-budget"), $("campaign-budget-error"), "The budget", true, true);
    const initial = numberAt("initial_random", $("campaign-initial-random"), $("campaign-initial-random-error"), "“Random experiments first”", true, true);
    const seed = numberAt("seed", $("campaign-seed"), $("campaign-seed-error"), "The random seed", false, true);
    const info = optimizerInfo();
    const lines = $("campaign-constraints").value.split("\n").map(function (t) { return t.trim(); }).filter(Boolean);
    at("constraints", $("campaign-constraints"), $("campaign-constraints-error"));
    at("history", null, $("campaign-history-error"));
    at("settings", null, $("campaign-optimizer-error"));
    const settings = readSettings(info);
    if (local.length) {
      const unplaced = markFields(local);
      throw { message: "Some campaign settings need attention (marked above).", problems: unplaced.map(function (f) { return f.message; }) };
    }
    return {
      campaign: {
        optimizer: state.optimizer, parameters: parameters, objectives: objectives,
        budget: budget, initial_random: initial, constraints: info.constraints ? lines : [],
        history: history ? history.rows : [], seed: seed, settings: settings,
      },
    };
  }

  /** The optimizer's settings as typed values (an enum's own value, numbers as numbers). */
  function readSettings(info) {
    const settings = {};
    document.querySelectorAll("#campaign-settings [data-setting]").forEach(function (input) {
      const name = input.dataset.setting;
      at("settings." + name, input, $(input.id + "-error"));
      const prop = X.resolvedSchema(Object.assign({ $defs: info.settings_schema.$defs }, info.settings_schema.properties[name]));
      if (input.type === "checkbox") settings[name] = input.checked;
      else if (Array.isArray(prop.enum)) settings[name] = prop.enum.find(function (v) { return String(v) === input.value; });
      else if (input.value.trim() !== "") settings[name] = input.type === "number" ? Number(input.value) : input.value.trim();
    });
    return settings;
  }

  function lookup(path) {
    let p = path;
    while (p) {
      if (fields[p]) return fields[p];
      const shorter = p.replace(/(\.[^.[\]]+|\[\d+\])$/, ""); // parameters[1].low -> parameters[1]
      if (shorter === p) return null;
      p = shorter;
    }
    return null;
  }

  /** Show each problem next to its input when its path is known; return the others. */
  function markFields(problems) {
    const unplaced = [];
    (problems || []).forEach(function (f) {
      const path = String(f.field || "").replace(/^body\./, "");
      const hit = /^(mode\.)?campaign\./.test(path) ? lookup(path.replace(/^(mode\.)?campaign\./, "")) : null;
      if (!hit) { unplaced.push(f); return; }
      if (hit.input && hit.input.classList) hit.input.classList.add("is-invalid");
      if (hit.slot) hit.slot.textContent = (hit.slot.textContent ? hit.slot.textContent + " " : "") + f.message;
      const details = hit.input && hit.input.closest && hit.input.closest("details");
      if (details) details.open = true;
    });
    const first = panel.querySelector(".is-invalid");
    if (first && first.scrollIntoView) first.scrollIntoView({ block: "center" });
    return unplaced;
  }

  panel.addEventListener("input", function (event) {
    const host = event.target.closest(".campaign-param, .objective-row, .field");
    if (host) host.querySelectorAll(".field-error, .is-invalid").forEach(function (n) { if (n.classList.contains("field-error")) n.textContent = ""; else n.classList.remove("is-invalid"); });
    const box = $("submit-problems");
    if (box.dataset.allMarked === "true" && !panel.querySelector(".field-error:not(:empty)")) box.hidden = true;
  });

  X.campaignForm = { active: active, mode: mode, markFields: markFields };
})();
