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
