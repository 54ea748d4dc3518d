// The key map of the keyboard-first pages (annotate, review): "?" or the Keys button shows it.

// Wires the Keys button and returns toggle(open): shows the map (true), hides it and gives the
// keys back to `root` (false), or flips it (no argument).
export function keymap(root) {
  const map = document.querySelector("#keymap");
  const toggle = (open = map.hidden) => {
    map.hidden = !open;
    if (!open) root.focus({ preventScroll: true });
  };
  document.querySelector("#keys-button").addEventListener("click", () => toggle());
  return toggle;
}
