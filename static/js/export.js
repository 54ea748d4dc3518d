// Export page: show only the options that apply to the chosen kind, and the equivalent command.
const form = document.getElementById("export-form");
const command = document.getElementById("export-command");

const OPTIONS = {
  kind: "--kind", format: "--format", ranking_pairs: "--ranking-pairs", ties: "--ties",
  aggregate: "--aggregate", from: "--from", to: "--to", annotator: "--annotator",
  exclude_annotator: "--exclude-annotator", min_agreement: "--min-agreement",
  rating_threshold: "--rating-threshold",
};

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
  if (data.getAll("conversational").includes("true")) words.push("--conversational");
  if (!data.getAll("include_imported").includes("true") && data.has("include_imported")) words.push("--no-imported");
  command.textContent = words.join(" ");
}

form.addEventListener("change", update);
form.addEventListener("input", update);
update();
