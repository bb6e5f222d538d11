// Dashboard charts (Apache ECharts 6.1.0, embedded). Data comes from the page's
// <script id="chart-data" type="application/json"> block.
(function () {
  var el = document.getElementById('chart-data');
  if (!el || !window.echarts) return;
  var d = JSON.parse(el.textContent);
  function chart(id, option) {
    var node = document.getElementById(id);
    if (!node) return;
    var c = echarts.init(node);
    c.setOption(option);
    window.addEventListener('resize', function () { c.resize(); });
  }
  chart('chart-pyramid', {
    title: { text: '人口金字塔(期末)', textStyle: { fontSize: 13 } },
    tooltip: { trigger: 'axis', axisPointer: { type: 'shadow' }, valueFormatter: function (v) { return Math.abs(v); } },
    legend: { data: ['男', '女'], right: 0 },
    grid: { left: 50, right: 20, top: 40, bottom: 24 },
    xAxis: { type: 'value', axisLabel: { formatter: function (v) { return Math.abs(v); } } },
    yAxis: { type: 'category', data: d.pyramid.ages, axisTick: { show: false } },
    series: [
      { name: '男', type: 'bar', stack: 'p', data: d.pyramid.male.map(function (v) { return -v; }), itemStyle: { color: '#4e79a7' } },
      { name: '女', type: 'bar', stack: 'p', data: d.pyramid.female, itemStyle: { color: '#e15759' } }
    ]
  });
  chart('chart-monthly', {
    title: { text: '分月出生与死亡', textStyle: { fontSize: 13 } },
    tooltip: { trigger: 'axis' }, legend: { data: ['出生', '死亡'], right: 0 },
    grid: { left: 40, right: 20, top: 40, bottom: 40 },
    xAxis: { type: 'category', data: d.monthly.months, axisLabel: { rotate: 45, fontSize: 10 } },
    yAxis: { type: 'value', minInterval: 1 },
    series: [
      { name: '出生', type: 'bar', data: d.monthly.births, itemStyle: { color: '#59a14f' } },
      { name: '死亡', type: 'bar', data: d.monthly.deaths, itemStyle: { color: '#76706f' } }
    ]
  });
  chart('chart-sexratio', {
    title: { text: '分村出生人口性别比(女=100)', textStyle: { fontSize: 13 } },
    tooltip: { trigger: 'axis' },
    grid: { left: 40, right: 20, top: 40, bottom: 70 },
    xAxis: { type: 'category', data: d.sexRatio.areas, axisLabel: { rotate: 40, fontSize: 10 } },
    yAxis: { type: 'value' },
    series: [{ name: '性别比', type: 'bar', data: d.sexRatio.values, itemStyle: { color: '#f28e2b' },
      markLine: { silent: true, data: [{ yAxis: 107, name: '正常上限' }], lineStyle: { color: '#c62828' } } }]
  });
})();

// The print button of the printable report: bound here, as the Content-Security-Policy allows no
// inline handlers.
(function () {
  var b = document.getElementById('print-button');
  if (b) b.addEventListener('click', function () { window.print(); });
})();
