// Scores page: each unfinished scoring job's status and progress, polled only while the tab is visible;
// once they have all finished the page reloads, so the report shows the new scores.
import { pollWhileVisible } from "./charts.js";

const rows = [...document.querySelectorAll("tr.scoring-job[data-finished='0']")];

async function update(row) {
  const response = await fetch(row.dataset.url, { headers: { Accept: "application/json" } });
  if (!response.ok) return false;
  const job = await response.json();
  const status = row.querySelector(".job-status");
  status.textContent = job.status;
  status.className = `job-status status-${job.status}`;
  row.querySelector(".job-progress").value = job.progress;
  row.querySelector(".job-scored").textContent = job.candidates_scored;
  row.querySelector(".job-failed").textContent = job.candidates_failed;
  const error = row.querySelector(".job-error");
  error.hidden = !job.error;
  error.textContent = job.error;
  const cancel = row.querySelector(".cancel-form");
  if (cancel) cancel.hidden = job.is_finished;
  return job.is_finished;
}

async function tick() {
  const finished = await Promise.all(rows.map(update));
  if (finished.every(Boolean)) {
    window.location.reload();
    return false;
  }
  return true;
}

if (rows.length) pollWhileVisible(tick, 2000);
