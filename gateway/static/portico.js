/* Portico's pages: a little JavaScript on top of plain HTML forms that work without it.
 *
 * - forms marked js-once are sent once (a second click does nothing; the server replays anyway);
 * - forms with data-confirm ask first; js-select-all boxes tick a table's rows;
 * - the activation wizard shows one step at a time and checks the password rules live
 *   (for display only: the server decides);
 * - an import in progress refreshes its own progress block.
 */
(function () {
  "use strict";

  document.documentElement.classList.add("js");

  function format(template, values) {
    return template.replace(/\{(\w+)\}/g, function (_, name) {
      return values[name] !== undefined ? String(values[name]) : "";
    });
  }

  /* -- forms sent once, with confirmation where asked -------------------------------------- */

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement)) { return; }
    if (form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
      event.preventDefault();
      return;
    }
    if (form.classList.contains("js-once")) {
      if (form.dataset.sent === "true") {
        event.preventDefault();
        return;
      }
      form.dataset.sent = "true";
      form.setAttribute("aria-busy", "true");
      window.setTimeout(function () {
        var buttons = document.querySelectorAll("button[type=submit]");
        buttons.forEach(function (button) {
          if (button.form === form) { button.disabled = true; }
        });
      }, 0);
    }
  }, false);

  // A page restored from the back/forward cache must be usable again.
  window.addEventListener("pageshow", function (event) {
    if (!event.persisted) { return; }
    document.querySelectorAll("form.js-once").forEach(function (form) {
      delete form.dataset.sent;
      form.removeAttribute("aria-busy");
    });
    document.querySelectorAll("button[type=submit]").forEach(function (button) {
      if (!button.classList.contains("js-validate")) { button.disabled = false; }
    });
  });

  /* -- select all ---------------------------------------------------------------------------- */

  document.addEventListener("change", function (event) {
    var box = event.target;
    if (!box.classList || !box.classList.contains("js-select-all")) { return; }
    var table = box.closest("table");
    if (!table) { return; }
    table.querySelectorAll("tbody input[type=checkbox]").forEach(function (row) {
      row.checked = box.checked;
    });
  });

  /* -- password rules (display only) ---------------------------------------------------------- */

  function kinds(password) {
    var found = {};
    Array.from(password).forEach(function (ch) {
      if (/\p{Lu}|\p{Lt}/u.test(ch)) { found.upper = true; }
      else if (/\p{Ll}/u.test(ch)) { found.lower = true; }
      else if (/\p{N}/u.test(ch)) { found.digit = true; }
      else if (!/\p{L}/u.test(ch)) { found.symbol = true; }
    });
    return Object.keys(found).length;
  }

  function sharesRun(folded, names, run) {
    return names.some(function (name) {
      for (var i = 0; i + run <= name.length; i += 1) {
        if (folded.indexOf(name.slice(i, i + run)) !== -1) { return true; }
      }
      return false;
    });
  }

  function checkRule(code, value, password, names) {
    var folded = password.toLowerCase();
    var length = Array.from(password).length;
    switch (code) {
      case "too_short": return isNaN(value) ? null : length >= value;
      case "too_long": return isNaN(value) ? null : length <= value;
      case "too_few_classes": return isNaN(value) ? null : kinds(password) >= value;
      case "contains_name":
        return !names.some(function (name) {
          return folded === name || (name.length >= 3 && folded.indexOf(name) !== -1);
        });
      case "shares_name_run": return isNaN(value) ? null : !sharesRun(folded, names, value);
      default: return null; // common passwords, history: only the server knows
    }
  }

  function passwordRules(form) {
    var list = form.querySelector(".js-rules");
    var password = form.querySelector("#password");
    var confirm = form.querySelector("#password_confirm");
    var validate = form.querySelector(".js-validate");
    var summary = form.querySelector(".js-rules-summary");
    var match = form.querySelector(".match-status");
    var first = form.querySelector("#first_name");
    var last = form.querySelector("#last_name");
    var announce = null;
    if (!list || !password || !confirm || !validate) { return; }

    function update() {
      var value = password.value.normalize("NFC");
      var names = [first, last].filter(Boolean).map(function (field) {
        return field.value.normalize("NFC").trim().toLowerCase();
      }).filter(Boolean);
      var met = 0;
      var checked = 0;
      var passing = true;
      list.querySelectorAll("li").forEach(function (item) {
        var state = checkRule(item.dataset.rule, parseInt(item.dataset.value, 10), value, names);
        var sr = item.querySelector(".rule-sr");
        item.classList.remove("met", "unmet", "server");
        if (state === null) {
          item.classList.add("server");
          sr.textContent = " (" + list.dataset.server + ")";
          return;
        }
        checked += 1;
        if (value.length === 0) {
          passing = false;
          sr.textContent = " (" + list.dataset.unmet + ")";
          return;
        }
        item.classList.add(state ? "met" : "unmet");
        sr.textContent = " (" + (state ? list.dataset.met : list.dataset.unmet) + ")";
        if (state) { met += 1; } else { passing = false; }
      });
      var same = value.length > 0 && confirm.value.normalize("NFC") === value;
      if (match) {
        match.classList.remove("ok", "ko");
        if (confirm.value.length > 0) {
          match.textContent = same ? match.dataset.matchOk : match.dataset.matchKo;
          match.classList.add(same ? "ok" : "ko");
        } else {
          match.textContent = "";
        }
      }
      validate.disabled = !(passing && same);
      if (summary) {
        window.clearTimeout(announce);
        announce = window.setTimeout(function () {
          summary.textContent = format(summary.dataset.template, { met: met, total: checked });
        }, 600);
      }
    }

    [password, confirm, first, last].forEach(function (field) {
      if (field) { field.addEventListener("input", update); }
    });
    update();
  }

  function passwordPair(form) {
    var fields = form.querySelectorAll("input[autocomplete=new-password]");
    var match = form.querySelector(".match-status");
    if (fields.length !== 2 || !match) { return; }
    function update() {
      match.classList.remove("ok", "ko");
      if (!fields[1].value) { match.textContent = ""; return; }
      var same = fields[0].value === fields[1].value;
      match.textContent = same ? match.dataset.matchOk : match.dataset.matchKo;
      match.classList.add(same ? "ok" : "ko");
    }
    fields.forEach(function (field) { field.addEventListener("input", update); });
  }

  /* -- the activation wizard: one step at a time ------------------------------------------ */

  function wizard(form) {
    var steps = Array.from(form.querySelectorAll(".wizard-step"));
    var indicator = form.querySelector(".js-step-text");
    var validate = form.querySelector(".js-validate");
    var current = parseInt(form.dataset.start, 10) || 1;

    function fieldsOf(number) {
      return Array.from(steps[number - 1].querySelectorAll("input:not([type=hidden]), select"));
    }

    function show(number, focus) {
      current = Math.max(1, Math.min(steps.length, number));
      steps.forEach(function (step) { step.hidden = parseInt(step.dataset.step, 10) !== current; });
      if (indicator) { indicator.textContent = format(form.dataset.stepLabel, { n: current }); }
      if (focus) {
        var target = fieldsOf(current).filter(function (field) { return !field.readOnly; })[0];
        if (target) { target.focus(); }
      }
    }

    function stepValid(number) {
      var invalid = fieldsOf(number).filter(function (field) { return !field.checkValidity(); })[0];
      if (!invalid) { return true; }
      show(number, false);
      invalid.focus();
      invalid.reportValidity();
      return false;
    }

    function next() {
      if (stepValid(current)) { show(current + 1, true); }
    }

    form.addEventListener("click", function (event) {
      var button = event.target.closest("button");
      if (!button) { return; }
      if (button.classList.contains("js-next")) { event.preventDefault(); next(); }
      if (button.classList.contains("js-previous")) { event.preventDefault(); show(current - 1, true); }
    });

    form.addEventListener("keydown", function (event) {
      if (event.key !== "Enter" || event.target.tagName !== "INPUT") { return; }
      event.preventDefault();
      if (current < steps.length) { next(); return; }
      if (validate && !validate.disabled) { form.requestSubmit(validate); }
    });

    form.addEventListener("submit", function (event) {
      for (var number = 1; number <= steps.length; number += 1) {
        if (!stepValid(number)) {
          event.preventDefault();
          event.stopImmediatePropagation();
          return;
        }
      }
    }, true);

    show(current, false);
    var summary = document.getElementById("error-summary");
    if (summary) {
      var invalid = form.querySelector("[aria-invalid=true]");
      (invalid || summary).focus();
    }
  }

  /* -- import progress ----------------------------------------------------------------------- */

  function poll(block) {
    var delay = 1000;
    function again() {
      window.setTimeout(function () {
        fetch(window.location.href, { headers: { "Accept": "text/html" }, credentials: "same-origin" })
          .then(function (response) {
            if (!response.ok) { throw new Error(String(response.status)); }
            return response.text();
          })
          .then(function (html) {
            var fresh = new DOMParser().parseFromString(html, "text/html").getElementById(block.id);
            if (!fresh) { throw new Error("no progress block"); }
            block.innerHTML = fresh.innerHTML;
            block.dataset.running = fresh.dataset.running;
            delay = 1000;
            if (block.dataset.running === "true") { again(); }
          })
          .catch(function () {
            delay = Math.min(delay * 2, 15000);
            again();
          });
      }, delay);
    }
    if (block.dataset.running === "true") { again(); }
  }

  /* -- the menu: folded on a phone, always open on a wide screen ---------------------------- */

  function menu(details) {
    var narrow = window.matchMedia("(max-width: 899px)");
    function sync() { details.open = !narrow.matches; }
    sync();
    narrow.addEventListener("change", sync);
  }

  function start() {
    document.querySelectorAll(".js-menu").forEach(menu);
    document.querySelectorAll("form.js-wizard").forEach(wizard);
    document.querySelectorAll("form.js-wizard").forEach(passwordRules);
    document.querySelectorAll("form.js-password-pair").forEach(passwordPair);
    document.querySelectorAll(".js-poll").forEach(poll);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
}());
