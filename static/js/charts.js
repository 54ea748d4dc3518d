// Small SVG line charts for run metrics (no library): one chart per metric, several series each.
const SVG = "http://www.w3.org/2000/svg";
const COLOURS = ["#2f5bd3", "#d3662f", "#1e7b3a", "#8e3fc4", "#b3261e", "#0f8b8d"];
export const METRICS = [
  "loss", "rewards/accuracies", "rewards/margins", "objective/scores", "objective/kl",
  "objective/entropy", "learning_rate",
];

// Points of `metric` in records: train records for the metric, eval records for eval_<metric>.
export function points(records, metric, kind) {
  const key = kind === "eval" ? `eval_${metric}` : metric;
  return records
    .filter((r) => r.kind === kind && typeof r[key] === "number")
    .map((r) => [r.step, r[key]]);
}

function element(name, attributes) {
  const node = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, value);
  return node;
}

// Draws (or redraws) a chart into `figure`: series = [{label, points: [[x, y]]}].
export function draw(figure, title, series) {
  figure.replaceChildren();
  const caption = document.createElement("figcaption");
  caption.textContent = title;
  const all = series.flatMap((s) => s.points);
  const width = 400, height = 180, pad = 34;
  const svg = element("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": title });
  if (all.length) {
    const xs = all.map((p) => p[0]), ys = all.map((p) => p[1]);
    const [x0, x1] = [Math.min(...xs), Math.max(...xs)];
    let [y0, y1] = [Math.min(...ys), Math.max(...ys)];
    if (y0 === y1) { y0 -= 0.5; y1 += 0.5; }
    const sx = (x) => pad + ((x - x0) / (x1 - x0 || 1)) * (width - pad - 8);
    const sy = (y) => height - pad + 10 - ((y - y0) / (y1 - y0)) * (height - pad - 4);
    for (const [y, label] of [[y0, y0], [y1, y1]]) {
      const text = element("text", { x: 2, y: sy(y) + 4, "font-size": 10, fill: "#6b6b70" });
      text.textContent = Number(label).toPrecision(3);
      svg.append(text);
    }
    const xl = element("text", { x: width - 60, y: height - 4, "font-size": 10, fill: "#6b6b70" });
    xl.textContent = `step ${x1}`;
    svg.append(xl);
    series.forEach((s, i) => {
      if (!s.points.length) return;
      const d = s.points.map((p, j) => `${j ? "L" : "M"}${sx(p[0]).toFixed(1)},${sy(p[1]).toFixed(1)}`).join("");
      svg.append(element("path", { d, fill: "none", stroke: COLOURS[i % COLOURS.length], "stroke-width": 1.5 }));
    });
  }
  const legend = document.createElement("div");
  legend.className = "legend";
  series.forEach((s, i) => {
    const item = document.createElement("span");
    item.style.color = COLOURS[i % COLOURS.length];
    item.textContent = `■ ${s.label}`;
    legend.append(item);
  });
  figure.append(caption, svg, legend);
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
