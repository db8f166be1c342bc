(function () {
  "use strict";
  // The report works without this script; it adds paging, path selection and a size toggle.
  function each(selector, root, fn) {
    Array.prototype.forEach.call((root || document).querySelectorAll(selector), fn);
  }

  // Paged DAG listing: every page is visible until the pager takes over.
  each("[data-pager]", null, function (pager) {
    var pages = pager.querySelectorAll(".dag-page");
    var controls = pager.querySelector(".pager-controls");
    var label = pager.querySelector(".pager-label");
    var current = 0;
    function show(index) {
      current = Math.max(0, Math.min(pages.length - 1, index));
      Array.prototype.forEach.call(pages, function (page, i) { page.hidden = i !== current; });
      label.textContent = "page " + (current + 1) + " of " + pages.length;
      each("[data-step]", controls, function (button) {
        var step = Number(button.getAttribute("data-step"));
        button.disabled = current + step < 0 || current + step >= pages.length;
      });
    }
    if (pages.length > 1) {
      controls.hidden = false;
      each("[data-step]", controls, function (button) {
        button.addEventListener("click", function () {
          show(current + Number(button.getAttribute("data-step")));
        });
      });
      show(0);
    }
  });

  // Open paths: a parent set's "show" button highlights its path on the graph.
  var buttons = document.querySelectorAll(".show-path");
  function highlight(button) {
    each("svg.graph .on-path", null, function (el) { el.classList.remove("on-path"); });
    each("#parent-set-table tr.selected", null, function (row) { row.classList.remove("selected"); });
    Array.prototype.forEach.call(buttons, function (b) { b.setAttribute("aria-pressed", "false"); });
    (button.getAttribute("data-path") || "").split(" ").forEach(function (id) {
      var el = id && document.getElementById(id);
      if (el) { el.classList.add("on-path"); }
    });
    button.setAttribute("aria-pressed", "true");
    var row = button.closest("tr");
    if (row) { row.classList.add("selected"); }
  }
  Array.prototype.forEach.call(buttons, function (button) {
    button.hidden = false;
    var row = button.closest("tr");
    button.setAttribute("aria-pressed", row && row.classList.contains("selected") ? "true" : "false");
    button.addEventListener("click", function () {
      highlight(button);
      document.getElementById("graph").scrollIntoView({ behavior: "smooth", block: "start" });
    });
  });

  // The graph fits the page width; a button shows it at its actual size.
  var frame = document.getElementById("graph-frame");
  var toggle = document.getElementById("graph-size");
  var svg = frame && frame.querySelector("svg.graph");
  if (frame && toggle && svg && svg.width.baseVal.value > frame.clientWidth) {
    toggle.hidden = false;
    toggle.addEventListener("click", function () {
      var fit = frame.classList.toggle("fit");
      toggle.textContent = fit ? "Actual size" : "Fit to width";
    });
  }
})();
