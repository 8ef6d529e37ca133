/*
 * labdeck Execute page — shared helpers: building DOM safely and calling the JSON API.
 *
 * Everything shown is set with textContent (never innerHTML): run names, prompts and errors
 * come from people and instruments. API failures become one readable sentence.
 */
(function () {
  "use strict";

  /** el("button", {className: "btn", textContent: "Go", onclick: f}, child, "text", …) */
  function el(tag, props) {
    const node = document.createElement(tag);
    Object.entries(props || {}).forEach(function ([key, value]) {
      if (value === undefined || value === null) return;
      if (key.startsWith("on") && typeof value === "function") node.addEventListener(key.slice(2), value);
      else if (key === "dataset") Object.assign(node.dataset, value);
      else if (key in node && key !== "list") node[key] = value;
      else node.setAttribute(key, value);
    });
    for (let i = 2; i < arguments.length; i++) {
      const child = arguments[i];
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : String(child));
    }
    return node;
  }

  /** The message of an API error body, with its per-field problems. */
  function problemText(body, status) {
    const error = body && body.error;
    if (!error) return "The server answered HTTP " + status + ".";
    let text = error.message ? error.message.charAt(0).toUpperCase() + error.message.slice(1) : error.code;
    return text;
  }

  function fieldProblems(body) {
    const fields = body && body.error && body.error.detail && body.error.detail.fields;
    return Array.isArray(fields) ? fields.map(function (f) { return f.message || f.field; }) : [];
  }

  class ApiError extends Error {
    constructor(status, body) {
      super(problemText(body, status));
      this.status = status;
      this.body = body;
      this.problems = fieldProblems(body);
    }
  }

  /** fetch JSON (sending JSON or a FormData); throws ApiError (4xx/5xx) or Error (network). */
  async function api(method, url, body) {
    const init = { method: method, headers: { Accept: "application/json" }, credentials: "same-origin" };
    if (body instanceof FormData) {
      init.body = body; // multipart: the browser sets the Content-Type with its boundary
    } else if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(url, init);
    } catch (err) {
      throw new Error("The server cannot be reached. Is labdeck still running?");
    }
    let parsed = null;
    try { parsed = await response.json(); } catch (err) { parsed = null; }
    if (response.status === 401) {
      window.location.assign("/login?next=" + encodeURIComponent(location.pathname + location.search));
    }
    if (!response.ok) throw new ApiError(response.status, parsed);
    return parsed;
  }

  const STATUS_WORDS = {
    pending: "waiting in queue",
    running: "running",
    waiting: "waiting",
    paused: "paused",
    completed: "completed",
    failed: "failed",
    cancelled: "cancelled",
  };

  function statusBadge(status, node) {
    const badge = node || el("span");
    badge.className = "badge status status-" + status;
    badge.textContent = STATUS_WORDS[status] || status;
    return badge;
  }

  function localTime(iso) {
    if (!iso) return "";
    const when = new Date(iso);
    return isNaN(when.getTime()) ? "" : when.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
  }

  /** A parameter's JSON Schema with `anyOf: [X, null]` and a `$ref` into `$defs` resolved. */
  function resolvedSchema(schema) {
    let s = schema || {};
    const defs = s.$defs || {};
    if (Array.isArray(s.anyOf)) {
      const real = s.anyOf.filter(function (b) { return b.type !== "null"; });
      if (real.length === 1) s = Object.assign({ $defs: defs }, real[0]);
    }
    if (typeof s.$ref === "string") {
      const name = s.$ref.split("/").pop();
      if (defs[name]) s = defs[name];
    }
    return s;
  }

  window.LabdeckExecute = {
    el: el,
    resolvedSchema: resolvedSchema,
    api: api,
    ApiError: ApiError,
    statusBadge: statusBadge,
    localTime: localTime,
    boot: JSON.parse(document.getElementById("execute-boot").textContent),
  };
})();
