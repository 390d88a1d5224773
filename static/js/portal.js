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

  // Copy buttons: the text of the element they name. The clipboard API needs a secure
  // page; elsewhere the text is selected and copied the old way, or left selected.
  function wireCopyButtons(root) {
    root.querySelectorAll("[data-copy]").forEach(function (button) {
      var source = document.getElementById(button.getAttribute("data-copy"));
      if (!source || button.hasAttribute("data-copy-wired")) {
        return;
      }
      button.setAttribute("data-copy-wired", "");
      var label = button.firstChild.nodeValue;
      var status = document.createElement("span");
      status.className = "copy-status";
      status.setAttribute("role", "status");
      button.insertAdjacentElement("afterend", status);
      button.hidden = false;
      button.addEventListener("click", function () {
        var text = source.textContent.trim();
        var said = function (words) {
          status.textContent = words;
          button.firstChild.nodeValue = words === "Copied" ? "Copied" : label;
          window.setTimeout(function () {
            status.textContent = "";
            button.firstChild.nodeValue = label;
          }, 3000);
        };
        var byHand = function () {
          var range = document.createRange();
          range.selectNodeContents(source);
          var selection = window.getSelection();
          selection.removeAllRanges();
          selection.addRange(range);
          var done = false;
          try {
            done = document.execCommand("copy");
          } catch (error) {
            done = false;
          }
          said(done ? "Copied" : "Selected: press Ctrl+C (⌘C) to copy");
        };
        if (navigator.clipboard && window.isSecureContext) {
          navigator.clipboard.writeText(text).then(function () {
            said("Copied");
          }, byHand);
        } else {
          byHand();
        }
      });
    });
  }

  // Previews: the person's own browser plays the video (<video>, or hls.js for an HLS
  // playlist, loaded only then). The portal fetches nothing for it; a video that cannot
  // play here gets a quiet note, not an error.
  var hlsLoading = null;

  function loadHls(src) {
    if (!hlsLoading) {
      hlsLoading = new Promise(function (resolve, reject) {
        var script = document.createElement("script");
        script.src = src;
        script.onload = function () { resolve(window.Hls); };
        script.onerror = reject;
        document.head.appendChild(script);
      });
    }
    return hlsLoading;
  }

  function isPlaylist(url) {
    return /\.m3u8?$/i.test(url.split(/[?#]/)[0]);
  }

  function wirePreview(figure) {
    var video = figure.querySelector("video");
    var note = figure.querySelector("[data-preview-note]");
    var hls = null;
    var cannotPlay = function () {
      note.hidden = false;
      video.hidden = true; // an empty black box says nothing more than the note
    };
    video.addEventListener("error", cannotPlay);
    video.addEventListener("loadedmetadata", function () {
      note.hidden = true;
    });

    function play(url) {
      if (hls) {
        hls.destroy();
        hls = null;
      }
      note.hidden = true;
      video.hidden = false;
      video.removeAttribute("src");
      if (!/^https?:\/\//i.test(url)) {
        figure.hidden = true;
        video.load();
        return;
      }
      figure.hidden = false;
      figure.setAttribute("data-preview-playing", url);
      if (!isPlaylist(url)) {
        video.src = url;
        return;
      }
      loadHls(figure.getAttribute("data-hls-script")).then(function (Hls) {
        if (Hls && Hls.isSupported()) {
          hls = new Hls({ enableWorker: false });  // a worker from blob: needs worker-src
          hls.on(Hls.Events.ERROR, function (event, data) {
            if (data.fatal) {
              cannotPlay();
            }
          });
          hls.loadSource(url);
          hls.attachMedia(video);
        } else if (video.canPlayType("application/vnd.apple.mpegurl")) {
          video.src = url;
        } else {
          cannotPlay();
        }
      }, cannotPlay);
    }

    var field = document.getElementById(figure.getAttribute("data-preview-follows") || "");
    if (field) {
      var timer = null;
      var follow = function () {
        window.clearTimeout(timer);
        timer = window.setTimeout(function () {
          if (field.value.trim() !== figure.getAttribute("data-preview-playing")) {
            play(field.value.trim());
          }
        }, 600);
      };
      field.addEventListener("input", follow);
      field.addEventListener("change", follow);
      if (field.value.trim()) {
        play(field.value.trim());
      }
    } else if (figure.getAttribute("data-preview-src")) {
      play(figure.getAttribute("data-preview-src"));
    }
  }

  // Settings: a search box over the time zone list (names and offsets), the browser's
  // zone first. Without the script the list is still there, in offset order.
  function wireZonePicker() {
    var box = document.querySelector("[data-zone-search]");
    var select = document.getElementById(box ? box.getAttribute("data-zone-search") : "");
    if (!box || !select) {
      return;
    }
    var input = box.querySelector("input");
    var browserZone = window.Intl && Intl.DateTimeFormat().resolvedOptions().timeZone;
    var all = Array.prototype.map.call(select.options, function (option) {
      return { value: option.value, label: option.textContent };
    });
    var mine = all.filter(function (zone) { return zone.value && zone.value === browserZone; });
    if (mine.length) {
      all = all.filter(function (zone) { return zone !== mine[0]; });
      all.splice(1, 0, { value: mine[0].value, label: mine[0].label + " (this browser’s zone)" });
    }
    var words = function (text) {
      return text.toLowerCase().replace(/_/g, " ").replace(/−/g, "-");
    };
    function show(query) {
      var chosen = select.value;
      var wanted = words(query.trim());
      select.textContent = "";
      all.forEach(function (zone, i) {
        var hit = !wanted || i === 0 || words(zone.label).indexOf(wanted) !== -1;
        if (hit || zone.value === chosen) {
          var option = new Option(zone.label, zone.value);
          option.selected = zone.value === chosen;
          select.appendChild(option);
        }
      });
    }
    show("");
    box.hidden = false;
    input.addEventListener("input", function () {
      show(input.value);
    });
  }

  // The list: one box ticks (or clears) every waiting row shown.
  function wireTickAll() {
    document.querySelectorAll("[data-ticks-all]").forEach(function (all) {
      var name = all.getAttribute("data-ticks-all");
      var boxes = document.querySelectorAll('input[type=checkbox][name="' + name + '"]');
      if (!boxes.length) {
        return;
      }
      all.closest("label").hidden = false;
      all.addEventListener("change", function () {
        boxes.forEach(function (box) {
          box.checked = all.checked;
        });
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    wireTickAll();
    focusErrorSummary();
    wireConfirmDialogs(document);
    keepOpenDialogs();
    countRowsToQueue();
    offerBrowserZone();
    wireCopyButtons(document);
    document.querySelectorAll("[data-preview]").forEach(wirePreview);
    wireZonePicker();
  });
  // The submission's page swaps its live part in every few seconds: wire its new buttons.
  document.addEventListener("htmx:afterSwap", function () {
    wireCopyButtons(document);
  });
})();
