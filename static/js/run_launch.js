// Launch form: prefill the method's default hyperparameters and preview the spec and the command.
const form = document.getElementById("launch-form");
const hyperparameters = document.getElementById("hyperparameters");
const previewBox = document.getElementById("preview");
const previewError = document.getElementById("preview-error");
let touched = hyperparameters.value.trim() !== "{}" && hyperparameters.value.trim() !== "";
let latest = 0; // only the newest defaults request may fill the box (methods can change mid-request)

async function fillDefaults() {
  const method = form.elements.method.value;
  for (const part of form.querySelectorAll("[data-methods]")) {
    part.hidden = !part.dataset.methods.split(" ").includes(method);
  }
  if (touched) return;
  const request = ++latest;
  const response = await fetch(form.dataset.defaultsUrl.replace("METHOD", method));
  const defaults = response.ok ? await response.json() : null;
  if (defaults && request === latest && !touched) hyperparameters.value = JSON.stringify(defaults, null, 2);
}

async function preview() {
  const data = Object.fromEntries(new FormData(form));
  data.sample_prompts = (data.sample_prompts || "").split("\n").filter((line) => line.trim());
  for (const field of ["base_version", "reward_version", "round"]) if (!data[field]) data[field] = null;
  try {
    data.hyperparameters = JSON.parse(data.hyperparameters || "{}");
  } catch (error) {
    previewError.hidden = false;
    previewError.textContent = `hyperparameters: not valid JSON (${error.message})`;
    return;
  }
  const response = await fetch(form.dataset.previewUrl, {
    method: "POST",
    headers: { "Content-Type": "application/json", "X-CSRFToken": data.csrfmiddlewaretoken },
    body: JSON.stringify(data),
  });
  const body = await response.json();
  previewError.hidden = response.ok;
  previewBox.hidden = !response.ok;
  if (!response.ok) {
    previewError.textContent = body.details?.length
      ? body.details.map((d) => `${d.field}: ${d.reason}`).join("; ")
      : body.error;
    return;
  }
  document.getElementById("preview-command").textContent = body.command;
  document.getElementById("preview-spec").textContent = JSON.stringify(body.spec, null, 2);
}

form.elements.method.addEventListener("change", () => {
  touched = false;
  fillDefaults();
});
hyperparameters.addEventListener("input", () => { touched = true; });
// A model version replaces the base model text: the disabled field is left out of the form.
function followBaseVersion() {
  form.elements.base_model.disabled = Boolean(form.elements.base_version.value);
}
form.elements.base_version.addEventListener("change", followBaseVersion);
document.getElementById("preview-button").addEventListener("click", preview);
followBaseVersion();
fillDefaults();
