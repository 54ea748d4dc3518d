// Charts of the training pages on uPlot (static/vendor/uplot-*, loaded as the global `uPlot` before
// the page's module): one chart per metric with a line per series, axes with ticks, a legend that shows
// the values under the cursor, drag to zoom (double-click resets). Also the polling and table helpers
// those pages share; only the chart functions need uPlot on the page.
const COLOURS = ["#2f5bd3", "#d3662f", "#1e7b3a", "#8e3fc4", "#b3261e", "#0f8b8d"];
const HEIGHT = 200;
export const METRICS = [
  "loss", "rewards/accuracies", "rewards/margins", "objective/scores", "objective/kl",
  "objective/entropy", "learning_rate",
];
// Steps are whole numbers: no tick at step 1.5.
const STEP_INCRS = [0, 1, 2, 3, 4, 5, 6, 7].flatMap((power) => [1, 2, 5].map((m) => m * 10 ** power));

// Points of `metric` in records: train records for the metric, eval records for eval_<metric>.
export function points(records, metric, kind) {
  const key = kind === "eval" ? `eval_${metric}` : metric;
  return records
    .filter((r) => r.kind === kind && typeof r[key] === "number")
    .map((r) => [r.step, r[key]]);
}

// uPlot draws series on one shared x array: the union of the series' steps, ascending, with each
// series' values on it and null where it has none (eval steps are a few of the train steps).
function aligned(series) {
  const steps = [...new Set(series.flatMap((s) => s.points.map((p) => p[0])))].sort((a, b) => a - b);
  const index = new Map(steps.map((step, i) => [step, i]));
  return [steps, ...series.map((s) => {
    const values = new Array(steps.length).fill(null);
    for (const [step, value] of s.points) values[index.get(step)] = value;
    return values;
  })];
}

// Legend values: metrics run from 1e-7 (learning rates) to thousands, so significant digits; a dash
// while the cursor is off the plot, or where a series has no value at the cursor's step.
export function legendValue(u, value, seriesIndex, index) {
  if (index == null || value == null) return "—";
  return String(Number.isInteger(value) ? value : Number(value.toPrecision(4)));
}

// Tick labels to six significant digits: uPlot's own rounds to three decimals, and a learning rate's
// ticks (0.00001, 0.00002) would all read "0".
function tickLabels(u, splits) {
  return splits.map((value) => (value == null ? null : String(Number(value.toPrecision(6)))));
}

// A y axis as wide as its widest tick label (uPlot's fixed 50 px cuts off "0.000015"). uPlot lays the
// chart out in up to three passes, and the labels change as the plot's height settles: never narrower
// than the pass before, so that the last labels fit.
function axisSize(u, values, axisIndex, pass) {
  const axis = u.axes[axisIndex];
  let size = axis.ticks.size + axis.gap + 4; // 4 px: glyphs that reach past their measured width
  const longest = (values ?? []).reduce((a, b) => (String(b).length > a.length ? String(b) : a), "");
  if (longest) {
    u.ctx.font = axis.font[0];
    size += u.ctx.measureText(longest).width / devicePixelRatio;
  }
  return Math.ceil(pass > 1 ? Math.max(size, axis._size ?? 0) : size);
}

// Marks on a line's points only where they are far apart: a sparse eval series, or a run's first steps.
function sparsePoints(u, seriesIndex, first, last) {
  const values = u.data[seriesIndex];
  let count = 0;
  for (let i = first; i <= last; i++) if (values[i] != null) count++;
  return count * 8 <= u.bbox.width / devicePixelRatio;
}

// An axis in the page's muted colours; `more` is uPlot's axis options. A new object each time: uPlot
// keeps and fills in the options it is given.
export function axis(more = {}) {
  return { stroke: "#6b6b70", grid: { stroke: "#ececee" }, ticks: { stroke: "#dcdcde" }, ...more };
}

function options(series) {
  return {
    height: HEIGHT,
    scales: { x: { time: false } },
    axes: [axis({ incrs: STEP_INCRS }), axis({ size: axisSize, values: tickLabels })],
    series: [
      { label: "step", value: legendValue },
      ...series.map((s, i) => ({
        label: s.label,
        stroke: COLOURS[i % COLOURS.length],
        width: 1.5,
        spanGaps: true, // an eval line joins its evals across the train steps between them
        points: { show: sparsePoints },
        value: legendValue,
      })),
    ],
  };
}

const plots = new Map(); // container → { plot, key }: the chart drawn there and what its series are

function widthOf(container) {
  return Math.max(240, Math.floor(container.clientWidth));
}

// Draws a uPlot chart into `container` (replacing the one drawn there before), as wide as the container,
// and keeps it that wide when the page's layout changes. `chartOptions` are uPlot's, less the width.
export function chart(container, chartOptions, data) {
  plots.get(container)?.plot.destroy();
  const plot = new uPlot({ ...chartOptions, width: widthOf(container) }, data, container);
  if (!plots.has(container)) {
    new ResizeObserver(() => {
      const current = plots.get(container)?.plot;
      if (current && widthOf(container) !== current.width) {
        current.setSize({ width: widthOf(container), height: current.height });
      }
    }).observe(container);
  }
  plots.set(container, { plot, key: null });
  return plot;
}

// Draws (or updates) a metric's chart in `figure`: series = [{label, points: [[step, value]]}]. The same
// series again update the chart in place; while the reader has zoomed in, new points leave the view as
// it is.
export function draw(figure, title, series) {
  const data = aligned(series);
  const key = JSON.stringify(series.map((s) => s.label));
  const known = plots.get(figure);
  if (known && known.key === key) {
    const { plot } = known;
    const steps = plot.data[0];
    const { min, max } = plot.scales.x;
    const zoomed = steps.length > 1 && (min > steps[0] || max < steps[steps.length - 1]);
    plot.setData(data, !zoomed); // false: keep the scales as they are
    return;
  }
  const caption = document.createElement("figcaption");
  caption.textContent = title;
  figure.replaceChildren(caption);
  chart(figure, options(series), data);
  plots.get(figure).key = key;
}

// One <figure> per metric in `container`, created on first use.
export function figureFor(container, metric) {
  const id = `chart-${metric.replace(/[^a-z0-9]/gi, "-")}`;
  let figure = document.getElementById(id);
  if (!figure) {
    figure = document.createElement("figure");
    figure.className = "chart";
    figure.id = id;
    container.append(figure);
  }
  return figure;
}

// Calls `tick` now and every `ms` while the tab is visible; stops when `tick` returns false.
export function pollWhileVisible(tick, ms) {
  let timer = null;
  let busy = false; // a tick in flight: the tab coming back meanwhile must not start a second loop
  let done = false; // tick said false: nothing more will change
  const loop = async () => {
    timer = null;
    if (done || busy || document.hidden) return;
    busy = true;
    const again = await tick().catch(() => true);
    busy = false;
    if (again === false) done = true;
    else timer = setTimeout(loop, ms);
  };
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden && timer === null) loop();
  });
  loop();
}

// Replaces a table body's rows: one per item, its cells the values `columns(item)` gives, inserted as
// text (never HTML); with no items, one row across the table saying `empty`, when given.
export function tableFill(body, items, columns, empty = "") {
  body.replaceChildren();
  for (const item of items) {
    const row = body.insertRow();
    for (const value of columns(item)) row.insertCell().textContent = value;
  }
  if (!items.length && empty) {
    const cell = body.insertRow().insertCell();
    cell.colSpan = body.closest("table").rows[0]?.cells.length || 1;
    cell.textContent = empty;
  }
}
