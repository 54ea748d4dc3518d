// Import page: refuse a file over the upload limit before sending it, and say that work is under way.
const form = document.getElementById("import-form");
const progress = document.getElementById("import-progress");
const maxBytes = Number(form.dataset.maxBytes);

form.addEventListener("submit", (event) => {
  const file = form.elements.file.files[0];
  if (file && file.size > maxBytes) {
    event.preventDefault();
    progress.textContent = `This file is ${file.size} bytes; the limit is ${maxBytes}.`;
    return;
  }
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  progress.textContent = "Importing… large files take a while; keep this tab open.";
});
