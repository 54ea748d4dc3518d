// The review page, keyboard first: a accepts, o opens the override (1 / 2 / t for pairs, or typed
// ranks), s opens the send back, Enter saves the open box, j / k move through the queue. Without
// this script every box is shown and the buttons work as plain form posts.

import { keymap } from "./keymap.js";

const $ = (selector) => document.querySelector(selector);
const root = $("#review");
const toggleKeymap = keymap(root);
const form = $("#decision-form");
const config = $("#review-config") ? JSON.parse($("#review-config").textContent) : null;
const boxes = { override: $("#override-box"), send_back: $("#send-back-box") };
let open = null; // "override" | "send_back" | null

function show(name) {
  open = name;
  for (const [key, box] of Object.entries(boxes)) if (box) box.hidden = key !== name;
  $("#override-open")?.setAttribute("aria-expanded", String(name === "override"));
  $("#send-back-open")?.setAttribute("aria-expanded", String(name === "send_back"));
  if (name === "override" && config.mode !== "pairwise") $("#override-box input").focus();
  else if (name === "send_back") $("#extra-judgments").focus();
  else root.focus({ preventScroll: true });
}

function submit(decision) {
  if (!form) return;
  const button = form.querySelector(`button[name=decision][value=${decision}]`);
  form.requestSubmit(button);
}

function setRanks(ranks) {
  config.candidates.forEach((id, index) => {
    document.getElementById(`rank-${id}`).value = String(ranks[index]);
  });
}

function follow(selector) {
  const link = $(selector);
  if (link) window.location.assign(link.href);
}

document.addEventListener("keydown", (event) => {
  if (event.altKey || event.metaKey || event.ctrlKey) return;
  const target = event.target;
  if (target.matches?.("textarea")) {
    if (event.key === "Escape") root.focus({ preventScroll: true });
    return;
  }
  if (target.matches?.("input")) {
    // The rank and count boxes keep their digits; Enter saves the box they are in, Esc closes it.
    if (event.key === "Enter" && open) {
      event.preventDefault();
      submit(open);
    } else if (event.key === "Escape") {
      show(null);
    }
    return;
  }
  if (target.matches?.("button, a") && (event.key === "Enter" || event.key === " ")) return;
  const actions = {
    "?": () => toggleKeymap(),
    Escape: () => ($("#keymap").hidden ? show(null) : toggleKeymap(false)),
    j: () => follow("#next-link"),
    k: () => follow("#previous-link"),
  };
  if (form) {
    Object.assign(actions, {
      a: () => submit("accept"),
      o: () => show("override"),
      s: () => show("send_back"),
      n: () => $("#note").focus(),
      Enter: () => open && submit(open),
    });
    if (open === "override" && config.mode === "pairwise") {
      Object.assign(actions, { 1: () => setRanks([1, 2]), 2: () => setRanks([2, 1]), t: () => setRanks([1, 1]) });
    }
  }
  const action = actions[event.key];
  if (action) {
    event.preventDefault();
    action();
  }
});

// Typing a rank or a count replaces what the box held rather than adding digits to it.
for (const input of document.querySelectorAll(".review-box input")) input.addEventListener("focus", () => input.select());
$("#override-open")?.addEventListener("click", () => show(open === "override" ? null : "override"));
$("#send-back-open")?.addEventListener("click", () => show(open === "send_back" ? null : "send_back"));
// A refused decision comes back with its box open, so what was typed is still there to fix.
show(boxes[root.dataset.open] ? root.dataset.open : null);
