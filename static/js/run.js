// Run page: live curves, progress, ETA, log tail and artifacts, polled only while the tab is visible.
import { METRICS, draw, figureFor, points, pollWhileVisible, tableFill } from "./charts.js";

const state = document.getElementById("run-state");
const charts = document.getElementById("charts");
const records = [];
let lastStep = -1;
let finished = false;

function text(id, value) {
  document.getElementById(id).textContent = value;
}

function render(detail) {
  const status = document.getElementById("run-status");
  status.textContent = detail.status;
  status.className = `status-${detail.status}`;
  text("run-attempt", detail.attempt);
  text("run-step", detail.step);
  text("run-total", detail.total_steps || "?");
  text("run-eta", detail.eta_seconds == null ? "—" : `${Math.round(detail.eta_seconds)} s`);
  document.getElementById("run-progress").value = detail.progress;
  const error = document.getElementById("run-error");
  error.hidden = !detail.error;
  error.textContent = detail.error.slice(0, 400);
  const log = document.getElementById("run-log");
  const atBottom = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
  log.textContent = detail.log_tail;
  if (atBottom) log.scrollTop = log.scrollHeight;
  if (detail.model_card) text("model-card", detail.model_card);
  document.getElementById("cancel-form").hidden = ["succeeded", "failed", "cancelled"].includes(detail.status);
  document.getElementById("retry-form").hidden = !["failed", "cancelled"].includes(detail.status);
  renderResult(detail.result);
  if (detail.model_version) {
    document.getElementById("model-version").hidden = false;
    text("model-version-name", detail.model_version.name);
    text("model-version-path", detail.model_version.path);
    document.getElementById("model-zip").href = detail.model_zip_url;
  }
  const list = document.getElementById("artifacts");
  if (detail.artifacts.length) {
    list.replaceChildren(...detail.artifacts.map((a) => {
      const item = document.createElement("li");
      const link = document.createElement("a");
      link.href = a.url;
      link.textContent = a.path;
      item.append(link, ` (${a.bytes} bytes)`);
      return item;
    }));
  }
}

// result.json: time, memory, final metrics and sample generations before and after training.
function renderResult(result) {
  if (!result) return;
  document.getElementById("run-result").hidden = false;
  const memory = result.peak_memory_mb == null ? "?" : `${result.peak_memory_mb} MB`;
  text("result-summary", `${result.seconds ?? "?"} s of training on ${result.device ?? "?"} (${result.precision ?? "?"}), peak memory ${memory}`);
  tableFill(document.querySelector("#result-metrics tbody"), Object.entries(result.final_metrics || {}),
    ([name, value]) => [name, typeof value === "number" ? value.toPrecision(4) : String(value)]);
  tableFill(document.querySelector("#result-samples tbody"), result.samples || [],
    (sample) => [promptText(sample.prompt), sample.before, sample.after]);
  document.getElementById("result-samples-section").hidden = !(result.samples || []).length;
}

// A sample prompt is a text or a conversation; a conversation shows as its last turn.
function promptText(prompt) {
  if (!Array.isArray(prompt)) return String(prompt);
  const last = prompt[prompt.length - 1];
  return last ? String(last.content) : "";
}

function redraw() {
  for (const metric of METRICS) {
    const train = points(records, metric, "train");
    const evaluation = points(records, metric, "eval");
    if (!train.length && !evaluation.length) continue;
    draw(figureFor(charts, metric), metric, [
      { label: "train", points: train },
      { label: "eval", points: evaluation },
    ]);
  }
}

async function tick() {
  const [detailResponse, metricsResponse] = await Promise.all([
    fetch(state.dataset.detailUrl, { headers: { Accept: "application/json" } }),
    fetch(`${state.dataset.metricsUrl}?after=${lastStep}`, { headers: { Accept: "application/json" } }),
  ]);
  const detail = await detailResponse.json();
  const { metrics } = await metricsResponse.json();
  // The newest step may gain an eval record later: re-read it next time, keep the rest.
  const fresh = metrics.filter((m) => !records.some((r) => r.step === m.step && r.kind === m.kind));
  records.push(...fresh);
  if (metrics.length) lastStep = Math.max(...metrics.map((m) => m.step)) - 1;
  render(detail);
  if (fresh.length) redraw(); // nothing new: the charts stay as they are, zoom and cursor included
  const done = ["succeeded", "failed", "cancelled"].includes(detail.status);
  if (done && finished) return false; // one more read after the end, for the last lines
  finished = done;
  return true;
}

renderResult(JSON.parse(document.getElementById("run-result-data").textContent));
pollWhileVisible(tick, 2000);
