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
