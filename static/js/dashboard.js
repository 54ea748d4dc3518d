// The quality dashboard: small inline SVG charts from the report the page embeds, and client-side
// sorting of the annotator table. Names come from users, so they are only ever set as text.

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

function drawTimeline(container, days) {
  if (!days.length) return empty(container, "No judgments yet.");
  const width = 720, height = 180, left = 40, bottom = 20, top = 10;
  const plotW = width - left - 10, plotH = height - top - bottom;
  const maxDay = Math.max(...days.map((d) => d.judgments), 1);
  const maxTotal = days[days.length - 1].cumulative || 1;
  const step = plotW / days.length;
  const chart = svg(width, height, `Judgments per day over ${days.length} days, ${maxTotal} in all`);
  chart.append(el("line", { x1: left, y1: top + plotH, x2: width - 10, y2: top + plotH, stroke: "currentColor", "stroke-opacity": 0.3 }));
  chart.append(el("text", { x: 2, y: top + 8 }, String(maxDay)));
  days.forEach((d, i) => {
    const h = (d.judgments / maxDay) * plotH;
    const barW = Math.min(Math.max(step - 2, 1), 40);
    const bar = el("rect", { x: left + (i + 0.5) * step - barW / 2, y: top + plotH - h, width: barW, height: h, fill: "var(--accent)", "fill-opacity": 0.5 });
    bar.append(el("title", {}, `${d.day}: ${d.judgments} (total ${d.cumulative})`));
    chart.append(bar);
  });
  const points = days.map((d, i) => `${left + (i + 0.5) * step},${top + plotH - (d.cumulative / maxTotal) * plotH}`);
  chart.append(el("polyline", { points: points.join(" "), fill: "none", stroke: "var(--fg)", "stroke-width": 1.5 }));
  chart.append(el("text", { x: left, y: height - 4 }, days[0].day));
  chart.append(el("text", { x: width - 10, y: height - 4, "text-anchor": "end" }, days[days.length - 1].day));
  container.replaceChildren(chart);
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
