// Export page: show only the options that apply to the chosen kind, and the equivalent command.
const form = document.getElementById("export-form");
const command = document.getElementById("export-command");

const OPTIONS = {
  kind: "--kind", format: "--format", ranking_pairs: "--ranking-pairs", ties: "--ties",
  aggregate: "--aggregate", from: "--from", to: "--to", annotator: "--annotator",
  exclude_annotator: "--exclude-annotator", min_agreement: "--min-agreement",
  rating_threshold: "--rating-threshold",
};
// The command takes one --round per round where the form takes "1, 2".
const splitRounds = (value) => value.split(",").map((part) => part.trim()).filter(Boolean);

function update() {
  const kind = form.elements.kind.value;
  for (const part of form.querySelectorAll("[data-kinds]")) {
    const applies = part.dataset.kinds.split(" ").includes(kind);
    part.hidden = !applies;
    for (const field of part.querySelectorAll("input, select")) field.disabled = !applies;
  }
  const data = new FormData(form);
  const format = data.get("format");
  const words = ["python manage.py export_data", command.dataset.project, `${command.dataset.project}-${kind}.${format}`];
  for (const [name, option] of Object.entries(OPTIONS)) {
    for (const value of data.getAll(name)) if (value) words.push(option, value);
  }
  for (const round of splitRounds(data.get("round") || "")) words.push("--round", round);
  if (data.getAll("include_arena").includes("true")) words.push("--include-arena");
  if (data.getAll("conversational").includes("true")) words.push("--conversational");
  if (!data.getAll("include_imported").includes("true") && data.has("include_imported")) words.push("--no-imported");
  command.textContent = words.join(" ");
}

form.addEventListener("change", update);
form.addEventListener("input", update);
update();
