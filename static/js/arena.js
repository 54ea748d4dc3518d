// Arena page: contestants' progress, the leaderboard and the win matrix, polled only while the tab is
// visible and the arena is not failed; every value goes in as text.
import { pollWhileVisible, tableFill } from "./charts.js";

const state = document.getElementById("arena-state");
const fixed = (value, digits) => (value === null || value === undefined ? "—" : Number(value).toFixed(digits));

function renderMatrix(matrix) {
  const table = document.getElementById("matrix-table");
  const head = table.tHead.rows[0];
  head.replaceChildren();
  head.appendChild(document.createElement("th")).textContent = "Model";
  for (const row of matrix) head.appendChild(document.createElement("th")).textContent = row.model;
  const body = table.tBodies[0];
  body.replaceChildren();
  for (const row of matrix) {
    const tr = body.insertRow();
    const th = tr.appendChild(document.createElement("th"));
    th.scope = "row";
    th.textContent = row.model;
    for (const cell of row.cells) {
      tr.insertCell().textContent = cell.battles ? `${fixed(cell.win_rate, 3)} (${cell.battles})` : "—";
    }
  }
}

async function tick() {
  const response = await fetch(state.dataset.url, { headers: { Accept: "application/json" } });
  if (!response.ok) return true;
  const arena = await response.json();
  const standing = arena.standing;
  const status = document.getElementById("arena-status");
  status.textContent = arena.status;
  status.className = `status-${arena.status}`;
  document.getElementById("arena-comparisons").textContent = standing.comparisons;
  document.getElementById("arena-judged").textContent = standing.judged_comparisons;
  document.getElementById("arena-battles").textContent = standing.battles;
  const error = document.getElementById("arena-error");
  error.hidden = !arena.error;
  error.textContent = arena.error;
  tableFill(document.querySelector("#contestant-table tbody"), standing.contestants, (c) => [
    c.name, c.generation_job, c.status, `${c.prompts_done}/${c.prompts_total}`, c.candidates,
  ]);
  for (const [i, c] of standing.contestants.entries()) {
    const cell = document.querySelector("#contestant-table tbody").rows[i].cells[1];
    const link = document.createElement("a");
    link.href = state.dataset.generationUrl.replace(/\/0\/$/, `/${c.generation_job}/`);
    link.textContent = c.generation_job;
    cell.replaceChildren(link);
  }
  tableFill(document.querySelector("#leaderboard-table tbody"), standing.leaderboard, (m) => [
    m.rank, m.model, fixed(m.score, 0), `${fixed(m.ci_low, 0)} – ${fixed(m.ci_high, 0)}`,
    fixed(m.win_rate, 3), m.wins, m.losses, m.ties, m.battles,
  ], "No judgment yet.");
  renderMatrix(standing.matrix);
  return arena.status !== "failed";
}

if (state.dataset.status !== "failed") pollWhileVisible(tick, 5000);
