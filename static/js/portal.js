// The portal's few behaviours that need a script. Loaded from static/ (the Content
// Security Policy forbids inline scripts); every page works without it.
(function () {
  "use strict";

  // After a form error: move focus to the summary, whose links lead to each field.
  function focusErrorSummary() {
    var summary = document.querySelector("[data-error-summary]");
    if (summary) {
      summary.focus();
    }
  }

  // Buttons that open a <dialog> asking to confirm (the form inside it does the POST).
  function wireConfirmDialogs() {
    document.querySelectorAll("[data-opens-dialog]").forEach(function (opener) {
      var dialog = document.getElementById(opener.getAttribute("data-opens-dialog"));
      if (!dialog || typeof dialog.showModal !== "function") {
        return; // the link goes to the confirmation page instead
      }
      opener.addEventListener("click", function (event) {
        event.preventDefault();
        dialog.showModal();
      });
      dialog.querySelectorAll("[data-closes-dialog]").forEach(function (closer) {
        closer.addEventListener("click", function (event) {
          event.preventDefault();
          dialog.close();
        });
      });
    });
  }

  // The Settings page: offer the browser's own time zone.
  function offerBrowserZone() {
    var button = document.querySelector("[data-browser-zone]");
    var field = document.getElementById(button ? button.getAttribute("data-browser-zone") : "");
    var zone = window.Intl && Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (!button || !field || !zone) {
      return;
    }
    button.textContent = "Use this browser’s zone (" + zone + ")";
    button.hidden = false;
    button.addEventListener("click", function () {
      field.value = zone;
      field.focus();
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    focusErrorSummary();
    wireConfirmDialogs();
    offerBrowserZone();
  });
})();
