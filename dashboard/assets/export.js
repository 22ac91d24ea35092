/* Labelled chart images, drawn in the browser: the chart on screen with the export labels the server put
   in its layout.meta.export (charts.export: title and definition, period, filters, data as at,
   disclosure note, product), named <chart>_<period>.png or .svg. */
(function () {
  function plotOf(chart) {
    // Dash writes a dict id as JSON with sorted keys.
    const graph = document.getElementById(JSON.stringify({chart: chart, type: 'chart-graph'}));
    return graph ? graph.querySelector('.js-plotly-plot') : null;
  }

  function image(chart, format) {
    const plot = plotOf(chart);
    if (!plot || !window.Plotly) { return Promise.reject(new Error('no chart ' + chart)); }
    const spec = (plot.layout.meta || {}).export || {};
    const layout = Object.assign({}, plot.layout, spec.layout || {});
    const figure = {data: plot.data, layout: layout};
    const options = {format: format, width: spec.width || 1100, height: spec.height || 520,
                     scale: format === 'png' ? 2 : 1};
    return window.Plotly.toImage(figure, options).then(function (url) {
      return {url: url, filename: (spec.filename || chart) + '.' + format};
    });
  }

  function save(picture) {
    const link = document.createElement('a');
    link.href = picture.url;
    link.download = picture.filename;
    document.body.appendChild(link);
    link.click();
    link.remove();
  }

  function download(format) {
    return function (n, id) {
      if (n) { image(id.chart, format).then(save); }
      return window.dash_clientside.no_update;
    };
  }

  window.roscExport = {image: image};
  window.dash_clientside = window.dash_clientside || {};
  window.dash_clientside.rosc = {download_png: download('png'), download_svg: download('svg')};
})();
