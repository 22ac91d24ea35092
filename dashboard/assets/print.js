/* Printing (A4 landscape, see app.css): Plotly draws its charts at the pixel size of the screen, wider
   than a printed page, and the print layout runs no script that could redraw them. So just before
   printing each chart's SVG gets a viewBox of its own size (and the class print-scaled: a CSS
   attribute selector [viewBox] does not match SVG elements in Chromium), and the print CSS lets it scale to the width
   of its card: charts stay inside their cards and sparklines are not clipped. After printing the
   viewBox goes again (Plotly redraws at the screen's size). */
(function () {
  function scalable(on) {
    document.querySelectorAll('.js-plotly-plot .main-svg').forEach(function (svg) {
      if (on) {
        const width = svg.getAttribute('width'), height = svg.getAttribute('height');
        if (width && height) {
          svg.setAttribute('viewBox', '0 0 ' + width + ' ' + height);
          svg.classList.add('print-scaled');
        }
      } else {
        svg.removeAttribute('viewBox');
        svg.classList.remove('print-scaled');
      }
    });
  }
  window.addEventListener('beforeprint', function () { scalable(true); });
  window.addEventListener('afterprint', function () { scalable(false); });
  const print = window.matchMedia('print');
  const changed = function (event) { scalable(event.matches); };
  if (print.addEventListener) { print.addEventListener('change', changed); } else { print.addListener(changed); }
  window.roscPrint = {scalable: scalable};
})();
