// The quality dashboard: charts from the report the page embeds (the judgments over time on uPlot; the
// per-annotator bias bars and the leaderboard's intervals, categories rather than curves, as small
// inline SVG), and client-side sorting of the annotator table. Names come from users, so they are only
// ever set as text.
import { axis, chart, legendValue } from "./charts.js";

const DAY = 86_400;
// Ticks a whole number of days apart: the timeline counts days, and hours between them mean nothing.
const DAY_INCRS = [1, 2, 7, 14, 28, 91, 182, 364].map((days) => days * DAY);
const report = JSON.parse(document.getElementById("quality-report").textContent);
const SVG = "http://www.w3.org/2000/svg";

function el(name, attrs = {}, text = null) {
  const node = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  if (text !== null) node.textContent = text;
  return node;
}

function short(text, length = 24) {
  return text.length > length ? `${text.slice(0, length - 1)}…` : text;
}

function svg(width, height, label) {
  return el("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": label });
}

function empty(container, message) {
  const p = document.createElement("p");
  p.className = "muted";
  p.textContent = message;
  container.replaceChildren(p);
}

// The x range of the whole timeline reaches half a day past its first and last days, so that their bars
// show whole (uPlot's own range for a single day is 1,000 days); a range zoomed into stays as it is.
function wholeDays(u, min, max) {
  const days = u.data[0];
  const [first, last] = [days[0], days[days.length - 1]];
  return min <= first && max >= last ? [first - DAY / 2, last + DAY / 2] : [min, max];
}

// Bars for the judgments of each day (left axis), a line for the running total (right axis); days are
// UTC dates, shown as such whatever the reader's time zone.
function drawTimeline(container, days) {
  if (!days.length) return empty(container, "No judgments yet.");
  const fromZero = (u, min, max) => uPlot.rangeNum(0, Math.max(max, 1), 0.1, true);
  const seconds = days.map((d) => Date.parse(d.day) / 1000); // "2026-03-01" parses as UTC midnight
  const data = [seconds, days.map((d) => d.judgments), days.map((d) => d.cumulative)];
  chart(container, {
    height: 200,
    tzDate: (time) => uPlot.tzDate(new Date(time * 1000), "Etc/UTC"),
    scales: {
      x: { time: true, range: wholeDays },
      day: { range: fromZero },
      total: { range: fromZero },
    },
    axes: [
      axis({ incrs: DAY_INCRS }),
      axis({ scale: "day" }),
      axis({ scale: "total", side: 1, grid: { show: false } }),
    ],
    series: [
      { label: "day", value: (u, time, i, index) => (index == null ? "—" : days[index].day) },
      {
        label: "judgments that day", scale: "day", stroke: "#2f5bd3", fill: "rgba(47, 91, 211, .5)",
        paths: uPlot.paths.bars({ size: [0.8, 40] }), points: { show: false }, value: legendValue,
      },
      { label: "in all", scale: "total", stroke: "#1d1d1f", width: 1.5, value: legendValue },
    ],
  }, data);
}

function drawBias(container, annotators, project) {
  const rows = annotators.filter((a) => a.position_bias.rate !== null);
  if (project.rate !== null) rows.push({ username: "project", position_bias: project, flags: [] });
  if (!rows.length) return empty(container, "No decided judgments with a shown order yet.");
  const width = 360, rowH = 18, left = 90, right = 60;
  const plotW = width - left - right, height = rows.length * rowH + 16;
  const chart = svg(width, height, "First-shown win rate per annotator");
  rows.forEach((a, i) => {
    const y = i * rowH + 4;
    const rate = a.position_bias.rate;
    const { bias_p_value: alpha, min_bias_effect: effect } = report.thresholds;
    const biased = a.position_bias.p_value < alpha && Math.abs(rate - 0.5) >= effect;
    chart.append(el("text", { x: left - 6, y: y + 12, "text-anchor": "end" }, short(a.username, 14)));
    const bar = el("rect", { x: left, y, width: rate * plotW, height: rowH - 4, fill: biased ? "var(--danger)" : "var(--accent)", "fill-opacity": 0.7 });
    bar.append(el("title", {}, `${a.username}: ${rate.toFixed(3)} of ${a.position_bias.decided}, p = ${a.position_bias.p_value.toPrecision(3)}`));
    chart.append(bar);
    chart.append(el("text", { x: left + plotW + 4, y: y + 12 }, `p=${a.position_bias.p_value.toPrecision(2)}`));
  });
  chart.append(el("line", { x1: left + plotW / 2, y1: 0, x2: left + plotW / 2, y2: height - 12, stroke: "var(--fg)", "stroke-dasharray": "3 3" }));
  chart.append(el("text", { x: left + plotW / 2, y: height - 2, "text-anchor": "middle" }, "0.5"));
  container.replaceChildren(chart);
}

function drawLeaderboard(container, models) {
  if (!container || !models.length) return;
  const width = 720, rowH = 22, left = 160, right = 20;
  const low = Math.min(...models.map((m) => m.ci_low)) - 10;
  const high = Math.max(...models.map((m) => m.ci_high)) + 10;
  const x = (v) => left + ((v - low) / (high - low)) * (width - left - right);
  const height = models.length * rowH + 20;
  const chart = svg(width, height, "Model scores with 95% intervals");
  models.forEach((m, i) => {
    const y = i * rowH + 12;
    chart.append(el("text", { x: left - 8, y: y + 4, "text-anchor": "end" }, short(m.model || "(unnamed)")));
    chart.append(el("line", { x1: x(m.ci_low), y1: y, x2: x(m.ci_high), y2: y, stroke: "var(--fg)", "stroke-width": 2 }));
    const dot = el("circle", { cx: x(m.score), cy: y, r: 4, fill: "var(--accent)" });
    dot.append(el("title", {}, `${m.model}: ${m.score} (${m.ci_low}–${m.ci_high}), ${m.battles} battles`));
    chart.append(dot);
  });
  chart.append(el("text", { x: left, y: height - 2 }, String(Math.round(low))));
  chart.append(el("text", { x: width - right, y: height - 2, "text-anchor": "end" }, String(Math.round(high))));
  container.replaceChildren(chart);
}

function makeSortable(table) {
  if (!table) return;
  const headers = [...table.querySelectorAll("th")];
  headers.forEach((th, column) => {
    const button = th.querySelector("button");
    button.addEventListener("click", () => {
      const ascending = th.getAttribute("aria-sort") !== "ascending";
      headers.forEach((other) => other.removeAttribute("aria-sort"));
      th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
      const numeric = button.dataset.sort === "number";
      const key = (row) => {
        const cell = row.children[column];
        if (!numeric) return cell.textContent.trim().toLowerCase();
        const value = cell.dataset.value;
        return value === "" ? null : Number(value);
      };
      const body = table.tBodies[0];
      const rows = [...body.rows].sort((a, b) => {
        const ka = key(a), kb = key(b);
        if (ka === kb) return 0;
        if (ka === null) return 1; // rows without a value go last either way
        if (kb === null) return -1;
        return (ka < kb ? -1 : 1) * (ascending ? 1 : -1);
      });
      body.append(...rows);
    });
  });
}

drawTimeline(document.getElementById("timeline-chart"), report.timeline);
drawBias(document.getElementById("bias-chart"), report.annotators, report.position_bias);
drawLeaderboard(document.getElementById("leaderboard-chart"), report.leaderboard);
makeSortable(document.getElementById("annotator-table"));
