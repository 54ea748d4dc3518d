// Compare view: overlays the curves of the chosen runs, one chart per metric, one line per run.
import { METRICS, draw, figureFor, points } from "./charts.js";

const charts = document.getElementById("charts");
const runs = [...document.querySelectorAll("#compare-runs li[data-run]")];

async function load() {
  const all = await Promise.all(runs.map(async (item) => {
    const response = await fetch(item.dataset.metricsUrl, { headers: { Accept: "application/json" } });
    return { label: item.dataset.label, records: (await response.json()).metrics };
  }));
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
