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
  // Run again on what htmx swaps in (a live part of the page may hold such buttons).
  function wireConfirmDialogs(root) {
    root.querySelectorAll("[data-opens-dialog]:not([data-wired])").forEach(function (opener) {
      var dialog = document.getElementById(opener.getAttribute("data-opens-dialog"));
      if (!dialog || typeof dialog.showModal !== "function") {
        return; // the link goes to the confirmation page instead
      }
      opener.setAttribute("data-wired", "");
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

  // A live part of the page is not refreshed while a question asked from it is open:
  // the swap would close the dialog under the person's pointer.
  function keepOpenDialogs() {
    document.body.addEventListener("htmx:beforeRequest", function (event) {
      if (event.target.querySelector && event.target.querySelector("dialog[open]")) {
        event.preventDefault();
      }
    });
    document.body.addEventListener("htmx:load", function (event) {
      wireConfirmDialogs(event.target);
    });
  }

  // A batch's "Queue N rows" button: N follows the boxes ticked above it.
  function countRowsToQueue() {
    var button = document.querySelector("[data-queue-button]");
    if (!button) {
      return;
    }
    var form = button.form;
    function update() {
      var ticked = {};
      form.querySelectorAll("[data-queue-adds]").forEach(function (box) {
        ticked[box.getAttribute("data-queue-adds")] = box.checked;
      });
      var way = ticked.public && ticked.again ? "both"
        : ticked.public ? "public" : ticked.again ? "again" : "none";
      var n = Number(button.getAttribute("data-queue-" + way));
      button.textContent = "Queue " + n.toLocaleString("en") + " row" + (n === 1 ? "" : "s") +
        "; " + button.getAttribute("data-refused") + " refused";
    }
    form.addEventListener("change", update);
    update();
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
    wireConfirmDialogs(document);
    keepOpenDialogs();
    countRowsToQueue();
    offerBrowserZone();
  });
})();
