/*
 * labdeck pages: small behaviours that need no server round trip.
 *
 * - JSON fields: checked as you type ("not valid JSON: ..." under the field); a form with
 *   an invalid JSON field or an unreadable number is not sent.
 * - Search box on the Devices page: filters instruments and methods as you type.
 * - Times in the recent-calls list are shown in the browser's local time.
 * - Server or network failures of htmx requests are shown where the result would go.
 *
 * No inline handlers anywhere (strict Content-Security-Policy friendly).
 */
(function () {
  "use strict";

  // --- JSON fields ---------------------------------------------------------------------------

  function jsonProblem(textarea) {
    var text = textarea.value.trim();
    if (text === "") {
      return "";
    }
    try {
      JSON.parse(text);
      return "";
    } catch (err) {
      return "not valid JSON: " + err.message;
    }
  }

  function showJsonProblem(textarea) {
    var problem = jsonProblem(textarea);
    var slot = textarea.parentElement.querySelector(".json-error");
    if (slot) {
      slot.textContent = problem;
    }
    textarea.classList.toggle("is-invalid", problem !== "");
    textarea.setAttribute("aria-invalid", problem !== "" ? "true" : "false");
    return problem;
  }

  document.addEventListener("input", function (event) {
    var target = event.target;
    if (target instanceof HTMLTextAreaElement && target.hasAttribute("data-json-field")) {
      showJsonProblem(target);
    }
    if (target instanceof HTMLInputElement && target.type === "number") {
      target.classList.toggle("is-invalid", target.validity.badInput);
    }
  });

  function formProblems(form) {
    var first = null;
    form.querySelectorAll("textarea[data-json-field]").forEach(function (textarea) {
      if (showJsonProblem(textarea) && !first) {
        first = textarea;
      }
    });
    form.querySelectorAll("input[type=number]").forEach(function (input) {
      if (input.validity.badInput) {
        var slot = document.getElementById(input.id + "-error");
        if (slot) {
          slot.textContent = "not a number";
        }
        input.classList.add("is-invalid");
        if (!first) {
          first = input;
        }
      }
    });
    return first;
  }

  document.addEventListener("htmx:confirm", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement)) {
      return;
    }
    var first = formProblems(form);
    if (first) {
      event.preventDefault();
      first.focus();
    }
  });

  // --- search --------------------------------------------------------------------------------

  function applySearch(query) {
    var words = query.toLowerCase().split(/\s+/).filter(Boolean);
    var anyShown = false;
    document.querySelectorAll(".card.instrument").forEach(function (card) {
      var cardText = card.getAttribute("data-search") || "";
      var cardMatches = words.every(function (w) { return cardText.indexOf(w) !== -1; });
      var methodShown = false;
      card.querySelectorAll(".method").forEach(function (method) {
        var text = cardText + " " + (method.getAttribute("data-search") || "");
        var matches = words.length === 0 || words.every(function (w) { return text.indexOf(w) !== -1; });
        method.hidden = !matches;
        methodShown = methodShown || matches;
      });
      var show = words.length === 0 || cardMatches || methodShown;
      card.hidden = !show;
      var props = card.querySelector(".properties");
      if (props) {
        props.hidden = words.length > 0 && !cardMatches;
      }
      anyShown = anyShown || show;
    });
    var empty = document.getElementById("search-empty");
    if (empty) {
      empty.hidden = anyShown;
    }
  }

  document.addEventListener("input", function (event) {
    if (event.target instanceof HTMLInputElement && event.target.id === "device-search") {
      applySearch(event.target.value);
    }
  });

  // --- local times ---------------------------------------------------------------------------

  function localizeTimes(root) {
    root.querySelectorAll("time[datetime]").forEach(function (el) {
      var when = new Date(el.getAttribute("datetime"));
      if (!isNaN(when.getTime())) {
        el.textContent = when.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
        el.title = when.toLocaleString();
      }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    localizeTimes(document);
    var search = document.getElementById("device-search");
    if (search && search.value) {
      applySearch(search.value);
    }
  });
  document.addEventListener("htmx:afterSettle", function (event) {
    localizeTimes(event.target);
  });

  // --- failures htmx would otherwise swallow --------------------------------------------------

  function showTransportProblem(event, message) {
    var target = event.detail && event.detail.target;
    if (target && target.classList && target.classList.contains("result-slot")) {
      var box = document.createElement("div");
      box.className = "result result-failed";
      var p = document.createElement("p");
      p.className = "result-title";
      p.textContent = message;
      box.appendChild(p);
      target.replaceChildren(box);
    }
  }

  document.addEventListener("htmx:responseError", function (event) {
    var status = event.detail.xhr ? event.detail.xhr.status : "?";
    showTransportProblem(event, "The server could not answer (HTTP " + status + "). The call may or may not have run: check Recent calls.");
  });
  document.addEventListener("htmx:sendError", function (event) {
    showTransportProblem(event, "The server cannot be reached. Is labdeck still running?");
  });
})();
