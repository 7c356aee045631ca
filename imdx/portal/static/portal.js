// imdx portal: draw the Vega-Lite charts whose specs the server put in <script type="application/json">
// blocks (the tables beside them hold the same numbers), and make the map's year slider live.
(function () {
  "use strict";
  function draw() {
    if (typeof vegaEmbed !== "function") return;
    document.querySelectorAll("figure.chart").forEach(function (fig) {
      var id = fig.getAttribute("data-chart");
      var block = document.getElementById("spec-" + id);
      var target = document.getElementById("chart-" + id);
      if (!block || !target) return;
      var spec = JSON.parse(block.textContent);
      vegaEmbed(target, spec, { actions: false, renderer: "svg", loader: { target: "_self" } })
        .then(function () { fig.classList.add("drawn"); })
        .catch(function (err) { fig.classList.add("failed"); target.textContent = "The chart could not be drawn; the table has the numbers."; if (window.console) console.warn(err); });
    });
  }
  function slider() {
    var form = document.getElementById("map-form");
    var range = document.getElementById("year");
    if (!form || !range) return;
    var out = document.getElementById("year-out");
    var timer = null;
    range.addEventListener("input", function () {
      out.textContent = range.value; range.setAttribute("aria-valuetext", range.value);
      if (timer) { clearTimeout(timer); timer = null; }
    });
    // a pointer release or a key press ends in `change`: wait a moment so that several key presses
    // in a row load one page, not one per year
    range.addEventListener("change", function () {
      if (timer) clearTimeout(timer);
      timer = setTimeout(function () { form.submit(); }, 400);
    });
    form.querySelectorAll("input[name=indicator]").forEach(function (r) {
      r.addEventListener("change", function () { range.disabled = true; form.submit(); });
    });
  }
  // a table box is a tab stop only while its table is wider than it (then the arrow keys scroll it)
  function tableStops() {
    document.querySelectorAll(".table-wrap").forEach(function (box) {
      if (box.scrollWidth > box.clientWidth + 1) box.setAttribute("tabindex", "0");
      else box.removeAttribute("tabindex");
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    draw(); slider(); tableStops();
    var timer = null;
    window.addEventListener("resize", function () { clearTimeout(timer); timer = setTimeout(tableStops, 150); });
  });
})();
