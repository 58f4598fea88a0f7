// Printed archive pages write each web address after its link (style.css,
// @media print); a link that already shows its own address is marked so that
// the address is not printed twice.
(function () {
  "use strict";
  function bare(text) {
    return text.trim().replace(/^mailto:/, "").replace(/\/$/, "");
  }
  document.querySelectorAll("a[href^='http'], a[href^='mailto:']").forEach(function (link) {
    if (bare(link.textContent) === bare(link.getAttribute("href"))) {
      link.classList.add("bare-url");
    }
  });
})();
