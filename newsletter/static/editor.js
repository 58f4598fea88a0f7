// Progressive enhancement for the editor pages; every form works without it.
(function () {
  "use strict";

  // Ask before destructive buttons (the POST still needs its CSRF token).
  document.querySelectorAll("button[data-confirm]").forEach(function (button) {
    button.addEventListener("click", function (event) {
      if (!window.confirm(button.dataset.confirm)) {
        event.preventDefault();
      }
    });
  });

  // A second click on a submit button while the page is loading sends nothing.
  document.querySelectorAll("form").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (form.dataset.submitted) {
        event.preventDefault();
        return;
      }
      if (!event.defaultPrevented) {
        form.dataset.submitted = "yes";
      }
    });
  });

  // "Add another link": clone the last link row with the next index.
  document.querySelectorAll("fieldset.links").forEach(function (fieldset) {
    var list = fieldset.querySelector(".link-rows");
    var add = fieldset.querySelector(".add-link");
    if (!list || !add) {
      return;
    }
    add.hidden = false;
    add.addEventListener("click", function () {
      var rows = list.querySelectorAll(".link-row");
      var last = rows[rows.length - 1];
      var index = rows.length;
      var clone = last.cloneNode(true);
      clone.querySelectorAll("[id],[for],[name],[aria-describedby]").forEach(function (el) {
        ["id", "for", "name", "aria-describedby"].forEach(function (attr) {
          var value = el.getAttribute(attr);
          if (value) {
            el.setAttribute(attr, value.replace(/links-\d+-/g, "links-" + index + "-"));
          }
        });
      });
      clone.querySelectorAll("input").forEach(function (input) {
        input.value = "";
        input.removeAttribute("aria-invalid");
      });
      clone.querySelectorAll(".error").forEach(function (el) { el.remove(); });
      clone.querySelectorAll(".has-error").forEach(function (el) {
        el.classList.remove("has-error");
      });
      list.appendChild(clone);
      clone.querySelector("input").focus();
    });
  });
})();

// Refresh the counts of a send in progress every few seconds.
(function () {
  "use strict";
  var box = document.querySelector("[data-progress-url]");
  if (!box) {
    return;
  }
  var bar = document.getElementById("send-progress");
  function refresh() {
    fetch(box.dataset.progressUrl, { credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) {
        if (!data) {
          return;
        }
        ["queued", "sending", "sent", "failed", "skipped", "percent"].forEach(function (key) {
          var el = box.querySelector('[data-field="' + key + '"]');
          if (el) {
            el.textContent = data[key];
          }
        });
        if (bar) {
          bar.value = data.percent;
        }
        if (data.status === "sending") {
          window.setTimeout(refresh, 3000);
        }
      });
  }
  window.setTimeout(refresh, 3000);
})();
