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
        if (box.dataset.status && data.status !== box.dataset.status) {
          window.location.reload();  // started, finished or paused elsewhere
          return;
        }
        if (data.status === "sending") {
          window.setTimeout(refresh, 3000);
        } else if (data.status === "scheduled") {
          window.setTimeout(refresh, 15000);
        }
      });
  }
  window.setTimeout(refresh, 3000);
})();

// Warn before leaving a page whose form has unsaved edits (a link, the language
// switch); saving the form itself does not warn.
(function () {
  "use strict";
  var dirty = false;
  document.querySelectorAll("form[method=post]:not(.language)").forEach(function (form) {
    if (!form.querySelector("textarea, input[type=text], input[type=url], input:not([type])")) {
      return;
    }
    form.addEventListener("input", function () { dirty = true; });
    form.addEventListener("submit", function () { dirty = false; });
  });
  window.addEventListener("beforeunload", function (event) {
    if (dirty) {
      event.preventDefault();
      event.returnValue = "";
    }
  });

  // Saved contacts: picking one fills the item's contact fields at once, so the
  // "Use this contact" button (the no-JavaScript way) is not needed.
  document.querySelectorAll("fieldset.item-contact").forEach(function (fieldset) {
    var select = fieldset.querySelector("select[name=saved_contact]");
    var use = fieldset.querySelector(".use-contact");
    var saved = JSON.parse(fieldset.dataset.contacts || "{}");
    if (!select || !use) {
      return;
    }
    use.hidden = true;
    select.addEventListener("change", function () {
      var contact = saved[select.value];
      if (!contact) {
        return;
      }
      // Every detail the saved contact has and the form asks for (an item takes
      // name, phone and email; a partner's proposal also title and organisation).
      Object.keys(contact).forEach(function (key) {
        var input = fieldset.querySelector("[name=contact_" + key + "]");
        if (input) {
          input.value = contact[key];
        }
      });
    });
  });
})();

// A copy button beside an address to hand on (the field itself can be selected
// and copied by hand without JavaScript).
(function () {
  "use strict";
  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    var field = document.getElementById(button.dataset.copy);
    if (!field || !navigator.clipboard) {
      return;
    }
    button.hidden = false;
    button.addEventListener("click", function () {
      navigator.clipboard.writeText(field.value).then(function () {
        button.textContent = button.dataset.copied;
      });
    });
  });
})();

// A colour picker beside a colour's text field; the text field is what is sent.
(function () {
  "use strict";
  var hex = /^#[0-9a-fA-F]{6}$/;
  document.querySelectorAll("input.colour-picker[data-for]").forEach(function (picker) {
    var field = document.getElementById(picker.dataset.for);
    if (!field) {
      return;
    }
    picker.hidden = false;
    picker.addEventListener("input", function () {
      field.value = picker.value;
    });
    field.addEventListener("input", function () {
      if (hex.test(field.value)) {
        picker.value = field.value.toLowerCase();
      }
    });
  });
})();
