// Project settings: keep "candidates per comparison" in step with the mode (2 for pairwise, 3–4 for ranking).
const mode = document.getElementById("id_mode");
const size = document.getElementById("id_candidates_per_comparison");

function sync() {
  const pairwise = mode.value === "pairwise";
  if (pairwise) size.value = "2";
  else if (Number(size.value) < 3) size.value = "3";
  size.min = pairwise ? "2" : "3";
  size.max = pairwise ? "2" : "4";
}

if (mode && size && !mode.disabled) {
  mode.addEventListener("change", sync);
  sync();
}
