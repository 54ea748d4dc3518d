// Compare view: overlays the curves of the chosen runs, one chart per metric, one line per run.
import { METRICS, draw, figureFor, points } from "./charts.js";

const charts = document.getElementById("charts");
const runs = [...document.querySelectorAll("#compare-runs li[data-run]")];

// The last value of each charted metric, per run, side by side.
function summary(all) {
  const table = document.getElementById("compare-summary");
  const names = METRICS.flatMap((m) => [m, `eval_${m}`]);
  const last = (records, name) => {
    const kind = name.startsWith("eval_") ? "eval" : "train";
    const found = records.filter((r) => r.kind === kind && typeof r[name] === "number");
    return found.length ? found[found.length - 1][name] : null;
  };
  const shown = names.filter((name) => all.some((run) => last(run.records, name) !== null));
  const head = document.createElement("tr");
  for (const label of ["metric (last value)", ...all.map((run) => run.label)]) {
    const cell = document.createElement("th");
    cell.textContent = label;
    head.append(cell);
  }
  const rows = shown.map((name) => {
    const row = document.createElement("tr");
    for (const value of [name, ...all.map((run) => last(run.records, name))]) {
      const cell = document.createElement("td");
      cell.textContent = typeof value === "number" ? value.toPrecision(4) : value ?? "—";
      row.append(cell);
    }
    return row;
  });
  table.replaceChildren(head, ...rows);
}

async function load() {
  const all = await Promise.all(runs.map(async (item) => {
    const response = await fetch(item.dataset.metricsUrl, { headers: { Accept: "application/json" } });
    return { label: item.dataset.label, records: (await response.json()).metrics };
  }));
  summary(all);
  for (const metric of METRICS) {
    for (const kind of ["train", "eval"]) {
      const series = all.map((run) => ({ label: run.label, points: points(run.records, metric, kind) }));
      if (!series.some((s) => s.points.length)) continue;
      const name = kind === "eval" ? `eval_${metric}` : metric;
      draw(figureFor(charts, name), name, series);
    }
  }
}

if (runs.length) load();
