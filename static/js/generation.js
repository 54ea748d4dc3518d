// Generation page: progress, counts and errors, polled only while the tab is visible and the job runs.
import { pollWhileVisible, tableFill } from "./charts.js";

const state = document.getElementById("generation-state");

function text(id, value) {
  document.getElementById(id).textContent = value;
}

function renderErrors(errors) {
  tableFill(document.querySelector("#prompt-errors tbody"), errors, (item) => [item.prompt_id, item.error], "None.");
}

async function tick() {
  const response = await fetch(state.dataset.url, { headers: { Accept: "application/json" } });
  if (!response.ok) return true;
  const job = await response.json();
  const status = document.getElementById("job-status");
  status.textContent = job.status;
  status.className = `status-${job.status}`;
  document.getElementById("job-progress").value = job.progress;
  text("job-done", job.prompts_done);
  text("job-candidates", job.candidates_created);
  text("job-comparisons", job.comparisons_created);
  const error = document.getElementById("job-error");
  error.hidden = !job.error;
  error.textContent = job.error;
  renderErrors(job.prompt_errors);
  document.getElementById("cancel-form").hidden = job.is_finished;
  return !job.is_finished;
}

if (!document.getElementById("cancel-form").hidden) pollWhileVisible(tick, 2000);
