// Affilia: the little script the pages need (CSP allows scripts from this origin only).
"use strict";

// Toasts dismiss themselves after a few seconds, or on click.
document.addEventListener("htmx:afterSwap", function () {
  document.querySelectorAll("#toasts .toast:not([data-timer])").forEach(function (toast) {
    toast.setAttribute("data-timer", "1");
    toast.addEventListener("click", function () { toast.remove(); });
    setTimeout(function () { toast.remove(); }, 6000);
  });
});

// Copy buttons: any element with data-copy="text" copies that text when clicked and says
// "Copied" for a moment. Delegated, so buttons swapped in by HTMX work too.
document.addEventListener("click", function (event) {
  var button = event.target.closest ? event.target.closest("[data-copy]") : null;
  if (!button) { return; }
  var text = button.getAttribute("data-copy") || "";
  var label = button.getAttribute("data-label") || button.textContent;
  function done(message) {
    button.setAttribute("data-label", label);
    button.setAttribute("data-copied", "");
    button.textContent = message;
    clearTimeout(button._copyTimer);
    button._copyTimer = setTimeout(function () {
      button.removeAttribute("data-copied");
      button.textContent = label;
    }, 2000);
  }
  function fallback() {
    // Without the clipboard API (insecure context, old browser): select a hidden field.
    var field = document.createElement("textarea");
    field.value = text;
    field.setAttribute("readonly", "");
    field.className = "hp";
    document.body.appendChild(field);
    field.select();
    var ok = false;
    try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
    field.remove();
    done(ok ? "Copied" : "Press Ctrl+C");
  }
  if (navigator.clipboard && navigator.clipboard.writeText) {
    navigator.clipboard.writeText(text).then(function () { done("Copied"); }, fallback);
  } else {
    fallback();
  }
});

// Colour fields: a picker beside a #rrggbb text field, kept in step both ways. Only the
// text field is submitted, so the form works without this script too.
document.addEventListener("input", function (event) {
  var el = event.target;
  var field = el.closest ? el.closest("[data-color-field]") : null;
  if (!field) { return; }
  var picker = field.querySelector("[data-color-picker]");
  var hex = field.querySelector("[data-color-hex]");
  if (!picker || !hex) { return; }
  if (el === picker) {
    hex.value = picker.value;
  } else if (el === hex && /^#[0-9a-fA-F]{6}$/.test(hex.value.trim())) {
    picker.value = hex.value.trim().toLowerCase();
  }
});

// Dashboard header: the menu button (narrow screens) opens the nav; the "More" menu closes
// on Escape or a click elsewhere; the current page's link is marked for screen readers.
document.documentElement.classList.add("js");
(function () {
  var toggle = document.querySelector(".nav-toggle");
  var panel = toggle ? document.getElementById(toggle.getAttribute("aria-controls")) : null;
  if (toggle && panel) {
    toggle.addEventListener("click", function () {
      var open = toggle.getAttribute("aria-expanded") !== "true";
      toggle.setAttribute("aria-expanded", open ? "true" : "false");
      panel.classList.toggle("open", open);
    });
  }
  var here = location.pathname.replace(/\/+$/, "") || "/";
  var best = null;
  document.querySelectorAll(".dash-topbar .nav a[href]").forEach(function (a) {
    var href = a.getAttribute("href");
    if (here === href || here.indexOf(href + "/") === 0) {
      if (!best || href.length > best.getAttribute("href").length) { best = a; }
    }
  });
  if (best) {
    best.setAttribute("aria-current", "page");
    var more = best.closest(".nav-more");
    if (more) { more.classList.add("current"); }
  }
  function closeMenus(except) {
    document.querySelectorAll("details.nav-more[open]").forEach(function (d) {
      if (d !== except && window.matchMedia("(min-width: 1024px)").matches) { d.removeAttribute("open"); }
    });
  }
  document.addEventListener("click", function (event) {
    closeMenus(event.target.closest ? event.target.closest("details.nav-more") : null);
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape") { closeMenus(null); }
  });
})();

// Form errors beside their field: a form's error alert names one field (the one marked
// aria-invalid); the message is repeated under that field and tied to it with
// aria-describedby, so it is read with the field. Without script the alert above the form
// and the marked field still say it.
function placeFieldErrors(root) {
  (root || document).querySelectorAll("[aria-invalid='true']:not([data-error-placed])").forEach(function (field, i) {
    var form = field.closest("form");
    var scope = form ? (form.closest("section, .card") || form) : null;
    var alert = scope ? scope.querySelector(".alert-error") : null;
    if (!alert && form && form.previousElementSibling && form.previousElementSibling.classList.contains("alert-error")) {
      alert = form.previousElementSibling;
    }
    if (!alert) { alert = document.querySelector("main .alert-error"); }
    if (!alert) { return; }
    field.setAttribute("data-error-placed", "1");
    var note = document.createElement("span");
    note.className = "field-error small";
    note.id = field.name ? "error-" + field.name.replace(/[^\w-]/g, "_") : "field-error-" + i;
    note.textContent = alert.textContent.trim();
    field.insertAdjacentElement("afterend", note);
    field.setAttribute("aria-describedby", note.id);
  });
}
placeFieldErrors(document);
document.addEventListener("htmx:afterSwap", function (event) { placeFieldErrors(event.target); });

// Affiliate picker: typing clears the picked id (the text is a new search); picking a
// suggestion fills both fields and re-runs the form's filter.
document.addEventListener("input", function (event) {
  var box = event.target;
  if (!box.matches || !box.matches(".picker input[name='affiliate']")) { return; }
  var hidden = box.parentNode.querySelector("input[name='affiliate_id']");
  if (hidden) { hidden.value = ""; }
});
document.addEventListener("click", function (event) {
  var option = event.target.closest ? event.target.closest("[data-pick-id]") : null;
  if (!option) { return; }
  var picker = option.closest(".picker");
  picker.querySelector("input[name='affiliate_id']").value = option.getAttribute("data-pick-id");
  var box = picker.querySelector("input[name='affiliate']");
  box.value = option.getAttribute("data-pick-label");
  picker.querySelector(".picker-list").innerHTML = "";
  box.focus();
  var form = picker.closest("form");
  if (form && window.htmx && form.hasAttribute("hx-get")) {
    window.htmx.trigger(form, "submit");
  } else if (form && form.method.toLowerCase() === "get") {
    form.requestSubmit ? form.requestSubmit() : form.submit();
  }
});

// Program form: only the fields of the chosen commission type show (every field shows,
// labelled with its types, without script).
function showCommissionFields(select) {
  var form = select.closest("form");
  if (!form) { return; }
  form.querySelectorAll("[data-for-types]").forEach(function (field) {
    var on = field.getAttribute("data-for-types").split(" ").indexOf(select.value) >= 0;
    field.hidden = !on;
  });
}
document.querySelectorAll("select[data-commission-type]").forEach(function (select) {
  showCommissionFields(select);
  select.addEventListener("change", function () { showCommissionFields(select); });
});
