// Writing in the Markdown text fields (templates/_writing.html): text pasted from
// Word, Google Docs, LibreOffice or a web page keeps its paragraphs, lists, bold,
// italic and links as Markdown; a small toolbar (and Ctrl/Cmd+B, I, K) formats the
// selection; a live preview shows the text as the server renders it for readers.
// Without this script the plain text field works as before.
(function () {
  "use strict";

  var BULLET_LINE = /^(\s*)(?:[-*+•–])\s+/;
  var NUMBER_LINE = /^(\s*)\d{1,3}[.)]\s+/;
  var ALLOWED_LINK = /^(https?:\/\/|mailto:|tel:)/i;

  // ---- Pasted HTML -> Markdown --------------------------------------------------

  function styleOf(el) {
    return el.style || {};
  }

  function isBold(el) {
    var weight = styleOf(el).fontWeight;
    return weight === "bold" || weight === "bolder" || parseInt(weight, 10) >= 600;
  }

  function isNormalWeight(el) {
    var weight = styleOf(el).fontWeight;
    return weight === "normal" || weight === "lighter" || (parseInt(weight, 10) > 0 && parseInt(weight, 10) < 600);
  }

  function unwrap(el) {
    var parent = el.parentNode;
    while (el.firstChild) {
      parent.insertBefore(el.firstChild, el);
    }
    parent.removeChild(el);
  }

  function wrapIn(el, tag) {
    var outer = el.ownerDocument.createElement(tag);
    while (el.firstChild) {
      outer.appendChild(el.firstChild);
    }
    el.appendChild(outer);
  }

  // Word marks list paragraphs with "mso-list: l0 level1 lfo1" in their style and
  // writes the bullet or number as text in a span styled "mso-list: Ignore".
  function wordListLevel(p) {
    var style = p.getAttribute("style") || "";
    var found = /mso-list:\s*l(\d+)\s+level(\d+)/i.exec(style);
    return found ? { list: found[1], level: parseInt(found[2], 10) } : null;
  }

  function wordLists(doc) {
    var paragraphs = Array.prototype.slice.call(doc.querySelectorAll("p"));
    var stack = [];  // open lists, outermost first: {level, el, ordered}
    var previous = null;
    paragraphs.forEach(function (p) {
      var mark = wordListLevel(p);
      if (!mark) {
        stack = [];
        previous = null;
        return;
      }
      var marker = "";
      p.querySelectorAll("span").forEach(function (span) {
        if (/mso-list:\s*ignore/i.test(span.getAttribute("style") || "") && span.parentNode) {
          marker += span.textContent;
          span.parentNode.removeChild(span);
        }
      });
      var ordered = /^\s*[\dA-Za-z]{1,4}[.)]/.test(marker.replace(/\u00a0/g, " "));
      if (previous === null || p.previousElementSibling !== previous) {
        stack = [];
      }
      while (stack.length && stack[stack.length - 1].level > mark.level) {
        stack.pop();
      }
      var top = stack[stack.length - 1];
      if (!top || top.level < mark.level) {
        var list = doc.createElement(ordered ? "ol" : "ul");
        if (top) {
          var lastItem = top.el.lastElementChild;
          (lastItem || top.el).appendChild(list);
        } else {
          p.parentNode.insertBefore(list, p);
        }
        top = { level: mark.level, el: list };
        stack.push(top);
      }
      var item = doc.createElement("li");
      while (p.firstChild) {
        item.appendChild(p.firstChild);
      }
      top.el.appendChild(item);
      // The emptied paragraph stays as a placeholder for the sibling test above.
      p.setAttribute("data-word-list", "");
      previous = p;
    });
    doc.querySelectorAll("p[data-word-list]").forEach(function (p) {
      p.parentNode.removeChild(p);
    });
  }

  // Clean the HTML word processors put on the clipboard so that turndown sees only
  // the structure: paragraphs, lists, bold, italic and links.
  function tidy(doc) {
    doc.querySelectorAll("style, script, meta, link, title, xml, img, o\\:p").forEach(function (el) {
      el.parentNode.removeChild(el);
    });
    // Google Docs wraps the whole fragment in <b style="font-weight:normal">.
    doc.querySelectorAll("b, strong").forEach(function (el) {
      if (isNormalWeight(el) || /^docs-internal-guid/.test(el.id || "")) {
        unwrap(el);
      }
    });
    wordLists(doc);
    // Spans styled bold or italic (Google Docs, LibreOffice, web pages).
    doc.querySelectorAll("span, font").forEach(function (el) {
      var style = styleOf(el);
      var inBold = el.parentElement && el.parentElement.closest("b, strong, h1, h2, h3, h4, h5, h6");
      if (isBold(el) && !inBold && el.textContent.trim()) {
        wrapIn(el, "strong");
      }
      if (style.fontStyle === "italic" && !(el.parentElement && el.parentElement.closest("i, em")) && el.textContent.trim()) {
        wrapIn(el, "em");
      }
    });
    // Empty paragraphs (Word writes <p>&nbsp;</p> for a blank line).
    doc.querySelectorAll("p, div, li").forEach(function (el) {
      if (!el.textContent.replace(/\u00a0/g, " ").trim() && !el.querySelector("br, ul, ol")) {
        el.parentNode.removeChild(el);
      }
    });
    return doc.body;
  }

  function makeTurndown() {
    var service = new window.TurndownService({
      headingStyle: "atx",
      bulletListMarker: "-",
      emDelimiter: "*",
      strongDelimiter: "**",
      codeBlockStyle: "fenced",
      br: ""
    });
    // "- text" and "1. text" as people type them, nested lists under their item.
    service.addRule("listItem", {
      filter: "li",
      replacement: function (content, node) {
        var prefix = "- ";
        var parent = node.parentNode;
        if (parent.nodeName === "OL") {
          var start = parseInt(parent.getAttribute("start") || "1", 10) || 1;
          prefix = (start + Array.prototype.indexOf.call(parent.children, node)) + ". ";
        }
        content = content.replace(/^\n+/, "").replace(/\n+$/, "\n").replace(/\n(?!$)/g, "\n" + " ".repeat(prefix.length));
        return prefix + content.replace(/\n$/, "") + (node.nextSibling ? "\n" : "");
      }
    });
    // Only links readers can follow; others (Word's bookmarks, file: paths) keep
    // their text.
    service.addRule("allowedLinks", {
      filter: function (node) {
        return node.nodeName === "A" && node.getAttribute("href") !== null;
      },
      replacement: function (content, node) {
        var href = (node.getAttribute("href") || "").trim();
        if (!ALLOWED_LINK.test(href) || !content.trim()) {
          return content;
        }
        return "[" + content.trim() + "](" + href.replace(/([()<> ])/g, encodeURIComponent) + ")";
      }
    });
    // Bold or italic of nothing but spaces would leave stray asterisks.
    service.addRule("emptyEmphasis", {
      filter: function (node) {
        return /^(B|STRONG|I|EM)$/.test(node.nodeName) && !node.textContent.trim();
      },
      replacement: function (content) {
        return content;
      }
    });
    service.remove(["style", "script"]);
    return service;
  }

  function htmlToMarkdown(html) {
    var doc = new DOMParser().parseFromString(html, "text/html");
    var markdown = makeTurndown().turndown(tidy(doc));
    return markdown.replace(/\u00a0/g, " ").replace(/[ \t]+\n/g, "\n").replace(/\n{3,}/g, "\n\n").trim();
  }

  // Is there anything in the HTML a plain-text paste would lose?
  function hasStructure(html) {
    return /<(p|div|br|ul|ol|li|b|strong|i|em|a|h[1-6])[\s>\/]|font-weight|font-style|mso-list/i.test(html);
  }

  // ---- Editing the text -----------------------------------------------------------

  // Replace a range, keeping the browser's undo history where it can.
  function replaceRange(textarea, start, end, text, selectStart, selectEnd) {
    textarea.focus();
    textarea.setSelectionRange(start, end);
    var done = false;
    try {
      done = document.execCommand("insertText", false, text);
    } catch (error) {
      done = false;
    }
    if (!done || textarea.value.slice(start, start + text.length) !== text) {
      textarea.setRangeText(text, start, end, "end");
      textarea.dispatchEvent(new Event("input", { bubbles: true }));
    }
    textarea.setSelectionRange(selectStart, selectEnd);
  }

  function emphasis(textarea, mark) {
    var value = textarea.value;
    var start = textarea.selectionStart;
    var end = textarea.selectionEnd;
    // Spaces selected at either end stay outside the marks.
    while (start < end && /\s/.test(value[start])) {
      start++;
    }
    while (end > start && /\s/.test(value[end - 1])) {
      end--;
    }
    var before = value.slice(0, start);
    var after = value.slice(end);
    var single = mark.length === 1;
    var marked = before.slice(-mark.length) === mark && after.slice(0, mark.length) === mark &&
      !(single && before.slice(-2) === "**" && before.slice(-3) !== "***");
    if (marked) {  // pressed again: take the marks away
      replaceRange(textarea, start - mark.length, end + mark.length, value.slice(start, end),
        start - mark.length, end - mark.length);
      return;
    }
    replaceRange(textarea, start, end, mark + value.slice(start, end) + mark,
      start + mark.length, end + mark.length);
  }

  function listLines(textarea, ordered) {
    var value = textarea.value;
    var start = value.lastIndexOf("\n", textarea.selectionStart - 1) + 1;
    var selectionEnd = textarea.selectionEnd;
    if (selectionEnd > textarea.selectionStart && value[selectionEnd - 1] === "\n") {
      selectionEnd--;
    }
    var end = value.indexOf("\n", selectionEnd);
    if (end < 0) {
      end = value.length;
    }
    var lines = value.slice(start, end).split("\n");
    var pattern = ordered ? NUMBER_LINE : BULLET_LINE;
    var written = lines.filter(function (line) { return line.trim(); });
    var already = written.length > 0 && written.every(function (line) { return pattern.test(line); });
    var number = 0;
    var text = lines.map(function (line) {
      if (already) {
        return line.replace(pattern, "$1");
      }
      if (!line.trim() && lines.length > 1) {
        return line;
      }
      number++;
      var bare = line.replace(BULLET_LINE, "$1").replace(NUMBER_LINE, "$1");
      return (ordered ? number + ". " : "- ") + bare.replace(/^\s+/, "");
    }).join("\n");
    // A list begins on a line of its own: the server sets it apart from the text.
    var caret = start + text.length;
    replaceRange(textarea, start, end, text, lines.length > 1 ? start : caret, caret);
  }

  function link(textarea, toolbar) {
    var start = textarea.selectionStart;
    var end = textarea.selectionEnd;
    var address = window.prompt(toolbar.dataset.linkPrompt, "https://");
    textarea.focus();
    textarea.setSelectionRange(start, end);
    address = (address || "").trim();
    if (!address || address === "https://") {
      return;
    }
    if (/^[^\s@:/]+@[^\s@]+\.[^\s@]+$/.test(address)) {
      address = "mailto:" + address;
    } else if (!ALLOWED_LINK.test(address)) {
      address = "https://" + address.replace(/^\/+/, "");
    }
    address = address.replace(/([()<> ])/g, encodeURIComponent);
    var selected = textarea.value.slice(start, end).trim();
    var label = selected || toolbar.dataset.linkText;
    var text = "[" + label + "](" + address + ")";
    // An invented label is selected so that typing replaces it.
    replaceRange(textarea, start, end, text,
      selected ? start + text.length : start + 1,
      selected ? start + text.length : start + 1 + label.length);
  }

  function format(textarea, toolbar, what) {
    if (textarea.readOnly || textarea.disabled) {
      return;
    }
    if (what === "bold") {
      emphasis(textarea, "**");
    } else if (what === "italic") {
      emphasis(textarea, "*");
    } else if (what === "bullets") {
      listLines(textarea, false);
    } else if (what === "numbers") {
      listLines(textarea, true);
    } else if (what === "link") {
      link(textarea, toolbar);
    }
  }

  // ---- The toolbar: one Tab stop, arrows move between its buttons ----------------

  function toolbarKeys(toolbar) {
    var buttons = Array.prototype.slice.call(toolbar.querySelectorAll("button"));
    buttons.forEach(function (button, index) {
      button.tabIndex = index === 0 ? 0 : -1;
    });
    toolbar.addEventListener("keydown", function (event) {
      var index = buttons.indexOf(document.activeElement);
      var next = { ArrowRight: index + 1, ArrowLeft: index - 1, Home: 0, End: buttons.length - 1 }[event.key];
      if (index < 0 || next === undefined) {
        return;
      }
      event.preventDefault();
      next = (next + buttons.length) % buttons.length;
      buttons[index].tabIndex = -1;
      buttons[next].tabIndex = 0;
      buttons[next].focus();
    });
  }

  // ---- The live preview -----------------------------------------------------------

  function livePreview(textarea, box) {
    var body = box.querySelector("[data-preview-url]");
    var token = textarea.form && textarea.form.querySelector("input[name=csrf_token]");
    if (!body || !token || !window.fetch) {
      return;
    }
    var timer = null;
    var asked = 0;
    function refresh() {
      var ask = ++asked;
      var data = new FormData();
      data.append("csrf_token", token.value);
      data.append("text", textarea.value);
      fetch(body.dataset.previewUrl, {
        method: "POST", body: data, credentials: "same-origin",
        headers: { "X-CSRFToken": token.value }
      }).then(function (response) {
        if (response.status !== 200 && response.status !== 413) {
          throw new Error(String(response.status));
        }
        return response.text();
      }).then(function (html) {
        if (ask === asked) {
          body.innerHTML = html;  // rendered and sanitised by the server
          body.removeAttribute("aria-busy");
        }
      }).catch(function () {
        if (ask === asked) {
          var failed = document.createElement("p");
          failed.className = "error";
          failed.textContent = body.dataset.previewFailed;
          body.replaceChildren(failed);
          body.removeAttribute("aria-busy");
        }
      });
    }
    textarea.addEventListener("input", function () {
      window.clearTimeout(timer);
      body.setAttribute("aria-busy", "true");
      timer = window.setTimeout(refresh, 300);
    });
    box.hidden = false;
    refresh();
  }

  // ---- Putting it together --------------------------------------------------------

  document.querySelectorAll("[data-writing]").forEach(function (writing) {
    var toolbar = writing.querySelector(".writing-toolbar");
    var textarea = toolbar && document.getElementById(toolbar.getAttribute("aria-controls"));
    if (!textarea) {
      return;
    }
    if (!textarea.readOnly && !textarea.disabled) {
      textarea.parentNode.insertBefore(toolbar, textarea);
      toolbar.hidden = false;
      toolbarKeys(toolbar);
      toolbar.addEventListener("click", function (event) {
        var button = event.target.closest("button[data-format]");
        if (button) {
          format(textarea, toolbar, button.dataset.format);
        }
      });
      textarea.addEventListener("keydown", function (event) {
        if (!(event.ctrlKey || event.metaKey) || event.altKey) {
          return;
        }
        var what = { b: "bold", i: "italic", k: "link" }[event.key.toLowerCase()];
        if (what) {
          event.preventDefault();
          format(textarea, toolbar, what);
        }
      });
    }
    textarea.addEventListener("paste", function (event) {
      var data = event.clipboardData;
      var html = data && data.getData("text/html");
      if (!html || !window.TurndownService || !hasStructure(html)) {
        return;  // plain text: the browser pastes it as it is
      }
      var markdown;
      try {
        markdown = htmlToMarkdown(html);
      } catch (error) {
        return;
      }
      if (!markdown) {
        return;
      }
      event.preventDefault();
      var start = textarea.selectionStart;
      replaceRange(textarea, start, textarea.selectionEnd, markdown,
        start + markdown.length, start + markdown.length);
    });
    var preview = writing.querySelector(".text-preview");
    if (preview) {
      livePreview(textarea, preview);
    }
  });
})();
