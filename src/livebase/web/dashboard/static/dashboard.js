// Draws every <canvas data-chart="…"> with Chart.js (shipped in the package: no CDN).
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  if (typeof Chart === "undefined") { return; }
  document.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
    var config = JSON.parse(canvas.getAttribute("data-chart"));
    canvas.chart = new Chart(canvas, config);
    canvas.setAttribute("data-drawn", "1");
  });
});
