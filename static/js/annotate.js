// The annotate page: loads an item, collects the judgment (keyboard first), submits and moves on
// without reloading. Candidate HTML arrives sanitised by the server; raw text is only ever set as text.

import { keymap } from "./keymap.js";

const config = JSON.parse(document.getElementById("annotate-config").textContent);
const csrf = document.querySelector("[name=csrfmiddlewaretoken]").value;
const $ = (selector) => document.querySelector(selector);
const root = $("#annotate");
const toggleKeymap = keymap(root);
const editing = Boolean(config.judgment_url);

let item = null; // the payload from the server
let state = null; // the annotator's answer in progress

function freshState() {
  return {
    choice: null, // pairwise: "a" | "b" | "tie" | "bad"
    strength: "",
    tiers: [], // ranking: lists of candidate ids, best first
    tieNext: false,
    basedOn: null,
    demoDirty: false,
    token: crypto.randomUUID(),
    spentMs: 0,
    visibleSince: document.hidden ? null : performance.now(),
    busy: false,
    diff: false,
  };
}

// ---- talking to the server -------------------------------------------------------------------

async function api(url, method, body) {
  let response;
  try {
    response = await fetch(url, {
      method,
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    return { ok: false, status: 0, data: { error: "The server could not be reached. Your answer is kept: try again." } };
  }
  let data = {};
  try {
    data = await response.json();
  } catch {
    data = { error: `The server answered ${response.status}.` };
  }
  return { ok: response.ok, status: response.status, data };
}

function notify(message, kind = "info") {
  const notice = $("#notice");
  notice.textContent = message;
  notice.dataset.kind = kind;
  notice.hidden = !message;
}

// Text the annotator wrote for an answer the server refused stays readable (and copyable).
function keepWritten(body) {
  const written = [body.rationale, body.demonstration_text].filter((text) => text && text.trim());
  if (!written.length) return;
  const kept = element("details", { class: "kept", open: "" });
  kept.append(element("summary", {}, "What you wrote (not saved)"));
  for (const text of written) kept.append(element("pre", {}, text));
  $("#notice").append(kept);
}

function showCounts(counts) {
  if (!counts || editing) return;
  // A capped count says "at least this many left": the share done would be a guess, so it shows none.
  const total = counts.done_total + counts.remaining;
  const share = counts.remaining_capped ? 0 : total ? Math.round((100 * counts.done_total) / total) : 100;
  $(".progress").setAttribute("aria-valuenow", String(share));
  $(".progress-fill").style.width = `${share}%`;
  const left = counts.remaining_capped ? `${counts.remaining}+` : `${counts.remaining}`;
  $("#progress-text").textContent = `${counts.done_today} today · ${counts.done_total} done · ${left} left`;
}

async function loadNext() {
  const { ok, data } = await api(config.next_url, "POST");
  if (!ok) {
    notify(data.error || "Could not load the next item.", "error");
    return;
  }
  showNext(data);
}

// `data` is next/'s answer, or the `next` part of submit/'s.
function showNext(data) {
  showCounts(data.counts);
  if (!data.item) {
    item = null;
    $("#item").hidden = true;
    $("#empty").hidden = false;
    return;
  }
  show(data.item, freshState());
}

async function loadJudgment() {
  const { ok, data } = await api(config.judgment_url, "GET");
  if (!ok) {
    notify(data.error || "Could not load this judgment.", "error");
    return;
  }
  const judgment = data.judgment;
  const next = freshState();
  const ids = data.item.candidates.map((c) => c.id);
  if (data.item.mode === "pairwise") {
    if (judgment.ordering.length === 1) next.choice = judgment.flags.includes("both_bad") ? "bad" : "tie";
    else next.choice = judgment.ordering[0][0] === ids[0] ? "a" : "b";
    next.strength = judgment.strength;
  } else {
    next.tiers = judgment.ordering.map((tier) => [...tier]);
  }
  show(data.item, next);
  for (const [cid, scores] of Object.entries(judgment.ratings || {})) {
    for (const [criterion, score] of Object.entries(scores)) {
      const select = document.querySelector(`select[data-candidate="${cid}"][data-criterion="${criterion}"]`);
      if (select) select.value = String(score);
    }
  }
  for (const box of document.querySelectorAll("input[name=flag]")) box.checked = judgment.flags.includes(box.value);
  $("#rationale").value = judgment.rationale;
  if (judgment.demonstration_text !== null) {
    $("#demonstration").value = judgment.demonstration_text;
    state.demoDirty = true;
  }
  if (!judgment.editable) {
    notify("The edit window for this judgment has passed; it can no longer be changed.", "error");
    $("#submit").disabled = true;
  }
}

// ---- showing an item -------------------------------------------------------------------------

function element(tag, attributes = {}, text = null) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  if (text !== null) node.textContent = text;
  return node;
}

function show(payload, answer) {
  item = payload;
  state = answer;
  $("#empty").hidden = true;
  $("#item").hidden = false;
  $("#errors").textContent = "";
  root.dataset.mode = item.mode;

  const messages = $("#messages");
  messages.replaceChildren();
  for (const message of item.messages) {
    const turn = element("div", { class: `msg ${message.role}` });
    turn.append(element("div", { class: "role" }, message.role));
    const body = element("div", { class: "markdown" });
    body.innerHTML = message.html; // sanitised server-side (annotation.rendering)
    turn.append(body);
    messages.append(turn);
  }

  const candidates = $("#candidates");
  candidates.replaceChildren();
  candidates.className = `candidates mode-${item.mode} n${item.candidates.length}`;
  for (const candidate of item.candidates) {
    const card = element("article", { class: "candidate card", "data-id": String(candidate.id) });
    const head = element("header");
    head.append(element("span", { class: "label" }, candidateName(candidate)));
    if (candidate.model) head.append(element("span", { class: "model muted" }, candidate.model));
    head.append(element("span", { class: "rank-badge" }));
    card.append(head);
    const body = element("div", { class: "markdown body" });
    body.innerHTML = candidate.html; // sanitised server-side (annotation.rendering)
    card.append(body);
    if (item.criteria.length) {
      const ratings = element("div", { class: "ratings" });
      for (const criterion of item.criteria) {
        const id = `rate-${candidate.id}-${criterion}`;
        const label = element("label", { for: id }, criterion);
        const select = element("select", { id, "data-candidate": String(candidate.id), "data-criterion": criterion });
        select.append(element("option", { value: "" }, "–"));
        for (let score = 1; score <= item.scale; score++) select.append(element("option", { value: String(score) }, String(score)));
        ratings.append(label, select);
      }
      card.append(ratings);
    }
    candidates.append(card);
  }

  $("#pairwise-controls").hidden = item.mode !== "pairwise";
  $("#ranking-controls").hidden = item.mode !== "ranking";
  for (const box of document.querySelectorAll("input[name=flag]")) box.checked = false;
  $("#rationale").value = "";
  $("#demonstration").value = "";
  $("#demonstration-box").hidden = !item.asks_demonstrations;
  $("#skip-box").hidden = true;
  $("#submit").disabled = false;
  $("#diff-toggle").setAttribute("aria-pressed", "false");
  $("#diff-legend").hidden = true;
  refresh();
  root.focus({ preventScroll: true });
  window.scrollTo({ top: 0 });
}

// "A" in pairs; "Candidate 1" in rankings, whose labels are the keys that rank them.
function candidateName(candidate) {
  return item.mode === "pairwise" ? candidate.label : `Candidate ${candidate.label}`;
}

function candidateById(id) {
  return item.candidates.find((c) => c.id === id);
}

// The ordering the answer stands for, or null while it is incomplete.
function ordering() {
  const ids = item.candidates.map((c) => c.id);
  if (item.mode === "pairwise") {
    const [a, b] = ids;
    if (state.choice === "a") return [[a], [b]];
    if (state.choice === "b") return [[b], [a]];
    if (state.choice === "tie" || state.choice === "bad") return [[a, b]];
    return null;
  }
  const ranked = state.tiers.flat();
  return ranked.length === ids.length ? state.tiers : null;
}

function best() {
  if (item.mode === "pairwise") {
    const order = ordering();
    return order ? order[0][0] : null;
  }
  return state.tiers.length ? state.tiers[0][0] : null;
}

function refresh() {
  if (item.mode === "pairwise") {
    for (const button of document.querySelectorAll("[data-choice]")) {
      button.setAttribute("aria-pressed", String(button.dataset.choice === state.choice));
    }
    const preferred = state.choice === "a" || state.choice === "b";
    if (!preferred) state.strength = "";
    for (const button of document.querySelectorAll("[data-strength]")) {
      button.disabled = !preferred;
      button.setAttribute("aria-pressed", String(button.dataset.strength === state.strength));
    }
  } else {
    drawRanking();
  }
  const order = ordering();
  for (const card of document.querySelectorAll(".candidate")) {
    const id = Number(card.dataset.id);
    const tier = (order || state.tiers || []).findIndex((t) => t.includes(id));
    const badge = card.querySelector(".rank-badge");
    let text = "";
    if (item.mode === "pairwise" && order) text = order.length === 1 ? (state.choice === "bad" ? "both bad" : "tie") : tier === 0 ? "better" : "";
    if (item.mode === "ranking" && tier >= 0) text = `#${tier + 1}`;
    badge.textContent = text;
    card.classList.toggle("preferred", item.mode === "pairwise" && order?.length === 2 && tier === 0);
  }
  const top = best();
  if (item.asks_demonstrations && top !== null && !state.demoDirty && state.basedOn !== top) {
    $("#demonstration").value = candidateById(top).text;
    state.basedOn = top;
  }
}

function drawRanking() {
  const list = $("#ranking");
  list.replaceChildren();
  state.tiers.forEach((tier, index) => {
    const row = element("li", { class: "tier", "data-index": String(index) });
    tier.forEach((id, position) => {
      if (position) row.append(element("span", { class: "tie-sign", title: "tied" }, "="));
      row.append(chip(id));
    });
    list.append(row);
  });
  if (state.tieNext) list.append(element("li", { class: "tier pending" }, "= (tied with the one above)"));
  const unranked = $("#unranked");
  unranked.replaceChildren();
  const ranked = new Set(state.tiers.flat());
  for (const candidate of item.candidates) {
    if (!ranked.has(candidate.id)) {
      const row = element("li");
      row.append(chip(candidate.id));
      unranked.append(row);
    }
  }
}

function chip(id) {
  const node = element("span", { class: "chip", draggable: "true", "data-id": String(id) }, `Candidate ${candidateById(id).label}`);
  node.addEventListener("dragstart", (event) => {
    event.dataTransfer.setData("text/plain", String(id));
    event.dataTransfer.effectAllowed = "move";
  });
  return node;
}

// ---- changing the answer ---------------------------------------------------------------------

function choose(choice) {
  // A new choice asks for its strength again rather than carrying the old one over.
  if (choice !== state.choice) state.strength = "";
  state.choice = choice;
  refresh();
}

function withoutCandidate(id) {
  state.tiers = state.tiers.map((tier) => tier.filter((x) => x !== id)).filter((tier) => tier.length);
}

function rankNext(label) {
  const candidate = item.candidates.find((c) => c.label === label);
  if (!candidate || state.tiers.flat().includes(candidate.id)) return;
  if (state.tieNext && state.tiers.length) state.tiers[state.tiers.length - 1].push(candidate.id);
  else state.tiers.push([candidate.id]);
  state.tieNext = false;
  refresh();
}

function rankUndo() {
  if (state.tieNext) state.tieNext = false;
  else if (state.tiers.length) {
    const last = state.tiers[state.tiers.length - 1];
    last.pop();
    if (!last.length) state.tiers.pop();
  }
  refresh();
}

function rankDrop(id, beforeIndex) {
  withoutCandidate(id);
  const at = beforeIndex === null ? state.tiers.length : Math.min(beforeIndex, state.tiers.length);
  state.tiers.splice(at, 0, [id]);
  refresh();
}

$("#ranking").addEventListener("dragover", (event) => event.preventDefault());
$("#ranking").addEventListener("drop", (event) => {
  event.preventDefault();
  const id = Number(event.dataTransfer.getData("text/plain"));
  const onto = event.target.closest(".chip");
  if (onto && Number(onto.dataset.id) !== id) {
    // Dropped on another candidate: tied with it.
    const other = Number(onto.dataset.id);
    withoutCandidate(id);
    state.tiers.find((t) => t.includes(other)).push(id);
    refresh();
    return;
  }
  const tier = event.target.closest(".tier:not(.pending)");
  // Dropped on a row: goes just above it; dropped on the list's empty space: goes last.
  let before = tier ? Number(tier.dataset.index) : null;
  if (before !== null && state.tiers[before]?.includes(id)) return;
  const from = state.tiers.findIndex((t) => t.includes(id));
  if (before !== null && from >= 0 && from < before && state.tiers[from].length === 1) before -= 1;
  rankDrop(id, before);
});
$("#unranked").addEventListener("dragover", (event) => event.preventDefault());
$("#unranked").addEventListener("drop", (event) => {
  event.preventDefault();
  withoutCandidate(Number(event.dataTransfer.getData("text/plain")));
  refresh();
});

function toggleFlag(name) {
  const box = document.querySelector(`input[name=flag][value=${name}]`);
  box.checked = !box.checked;
}

function ratings() {
  const result = {};
  for (const select of document.querySelectorAll("#candidates select[data-criterion]")) {
    if (!select.value) continue;
    (result[select.dataset.candidate] ||= {})[select.dataset.criterion] = Number(select.value);
  }
  return result;
}

// ---- the diff --------------------------------------------------------------------------------

// jsdiff (static/vendor/jsdiff-*, the global `Diff`) gives up after this long on long, very different
// texts; the card then shows its text unmarked.
const DIFF_TIMEOUT_MS = 200;

// Word diff against the first candidate: each card shows its own text (as text, never HTML) with the
// words the other side lacks marked. The first card, diffed against the second, marks its words the
// second removed; every other card marks the words it inserted into the first. Whitespace-only changes
// stay unmarked.
function toggleDiff() {
  state.diff = !state.diff;
  $("#diff-toggle").setAttribute("aria-pressed", String(state.diff));
  const [first, second] = item.candidates.map(candidateName);
  const legend = $("#diff-legend");
  legend.hidden = !state.diff;
  legend.querySelector(".diff-removed").textContent = `in ${first}, not in ${second}`;
  legend.querySelector(".diff-inserted").textContent = `not in ${first}`;
  const cards = [...document.querySelectorAll(".candidate")];
  cards.forEach((card, index) => {
    const body = card.querySelector(".body");
    const candidate = candidateById(Number(card.dataset.id));
    if (!state.diff) {
      body.className = "markdown body";
      body.innerHTML = candidate.html; // sanitised server-side
      return;
    }
    const other = item.candidates[index === 0 ? 1 : 0];
    const change = index === 0 ? "diff-removed" : "diff-inserted";
    const parts = Diff.diffWords(other.text, candidate.text, { timeout: DIFF_TIMEOUT_MS });
    body.className = "body diff-text";
    body.replaceChildren();
    if (parts === undefined) {
      body.textContent = candidate.text;
      return;
    }
    // Without its removed parts, diffWords(other, text) spells out `text` exactly, whitespace included;
    // an added part's spaces around its words stay unmarked.
    for (const part of parts) {
      if (part.removed) continue;
      if (!part.added) {
        body.append(part.value);
        continue;
      }
      const [, before, words, after] = part.value.match(/^(\s*)([\s\S]*?)(\s*)$/);
      body.append(before, ...(words ? [element("mark", { class: change }, words)] : []), after);
    }
  });
}

// ---- submit and skip -------------------------------------------------------------------------

function spentMs() {
  const running = state.visibleSince === null ? 0 : performance.now() - state.visibleSince;
  return Math.round(state.spentMs + running);
}

document.addEventListener("visibilitychange", () => {
  if (!state) return;
  if (document.hidden && state.visibleSince !== null) {
    state.spentMs += performance.now() - state.visibleSince;
    state.visibleSince = null;
  } else if (!document.hidden && state.visibleSince === null) {
    state.visibleSince = performance.now();
  }
});

function answer() {
  const flags = [...document.querySelectorAll("input[name=flag]:checked")].map((box) => box.value);
  if (item.mode === "pairwise" && state.choice === "bad") flags.unshift("both_bad");
  const body = {
    ordering: ordering(),
    strength: state.strength,
    ratings: ratings(),
    rationale: $("#rationale").value,
    flags,
  };
  if (item.asks_demonstrations) {
    const text = $("#demonstration").value;
    const unchanged = state.basedOn !== null && text === candidateById(state.basedOn).text;
    // An untouched copy of a candidate is not a demonstration; only edited text is sent.
    if (editing) body.demonstration_text = unchanged ? "" : text;
    else if (!unchanged && text.trim()) body.demonstration_text = text;
    if (body.demonstration_text) body.based_on = state.basedOn;
  }
  return body;
}

async function submit() {
  if (!item || state.busy) return;
  if (!ordering()) {
    $("#errors").textContent = item.mode === "pairwise" ? "Choose A, B, tie or both bad first." : "Rank every candidate first.";
    return;
  }
  state.busy = true;
  $("#submit").disabled = true;
  const body = answer();
  let result;
  if (editing) {
    result = await api(config.judgment_url, "PATCH", body);
  } else {
    result = await api(config.submit_url, "POST", {
      ...body,
      assignment: item.assignment,
      submission_token: state.token, // the same token on a retry: the server records one judgment
      time_spent_ms: spentMs(),
      next: true, // the answer brings the next item: one round trip per item
    });
  }
  state.busy = false;
  $("#submit").disabled = false;
  const { ok, status, data } = result;
  if (ok) {
    if (editing) {
      window.location.assign(config.history_url);
      return;
    }
    notify("Saved.");
    // No next item in the answer (the server could not read it just then): ask for it.
    if (data.next) showNext(data.next);
    else await loadNext();
  } else if (status === 409 && !editing) {
    // The lease ran out or was answered elsewhere: say so plainly, keep what they wrote, move on.
    notify(data.error, "error");
    keepWritten(body);
    await loadNext();
  } else {
    const details = (data.details || []).map((d) => (d.field ? `${d.field}: ${d.reason}` : JSON.stringify(d)));
    $("#errors").textContent = [data.error, ...details].filter(Boolean).join(" · ");
  }
}

function openSkip() {
  if (editing || !item) return;
  $("#skip-box").hidden = false;
  $("#skip-reason").focus();
}

function closeSkip() {
  $("#skip-box").hidden = true;
  root.focus({ preventScroll: true });
}

async function skip() {
  const choice = $("#skip-reason").value;
  const reason = choice === "other" ? $("#skip-other").value.trim() : choice;
  if (!reason) {
    $("#skip-other").focus();
    return;
  }
  const { ok, status, data } = await api(config.skip_url, "POST", { assignment: item.assignment, reason });
  if (!ok) notify(data.error, "error");
  if (ok || status === 409) {
    if (ok) notify("Skipped.");
    await loadNext();
  }
}

$("#skip-reason").addEventListener("change", () => {
  const other = $("#skip-reason").value === "other";
  $("#skip-other").hidden = !other;
  if (other) $("#skip-other").focus();
});

// ---- keys and buttons ------------------------------------------------------------------------

function inTextBox(target) {
  return target.matches?.("input[type=text], textarea, select");
}

document.addEventListener("keydown", (event) => {
  if (!item && event.key !== "?") return;
  if (event.altKey || event.metaKey || (event.ctrlKey && event.key !== "Enter")) return;
  const inSkip = !$("#skip-box").hidden && $("#skip-box").contains(event.target);
  if (inSkip) {
    if (event.key === "Escape") closeSkip();
    if (event.key === "Enter") {
      event.preventDefault();
      skip();
    }
    return;
  }
  if (inTextBox(event.target)) {
    // Text boxes keep their keys; Esc leaves them, Ctrl+Enter submits.
    if (event.key === "Escape") {
      event.target.blur();
      root.focus({ preventScroll: true });
    } else if (event.key === "Enter" && event.ctrlKey) {
      event.preventDefault();
      submit();
    }
    return;
  }
  if (event.target.matches?.("button") && (event.key === "Enter" || event.key === " ")) return;
  const pairwise = item?.mode === "pairwise";
  const actions = {
    "?": () => toggleKeymap(),
    Escape: () => toggleKeymap(false),
    Enter: submit,
    d: toggleDiff,
    s: openSkip,
    u: () => toggleFlag("unsafe"),
    n: () => toggleFlag("unsure"),
    k: () => toggleFlag("broken"),
    r: () => $("#rationale").focus(),
    w: () => item.asks_demonstrations && $("#demonstration").focus(),
    g: () => document.querySelector("#candidates select")?.focus(),
  };
  if (pairwise) {
    Object.assign(actions, {
      1: () => choose("a"),
      ArrowLeft: () => choose("a"),
      2: () => choose("b"),
      ArrowRight: () => choose("b"),
      t: () => choose("tie"),
      b: () => choose("bad"),
      z: () => (state.choice === "a" || state.choice === "b") && ((state.strength = "slightly"), refresh()),
      x: () => (state.choice === "a" || state.choice === "b") && ((state.strength = "clearly"), refresh()),
      c: () => (state.choice === "a" || state.choice === "b") && ((state.strength = "much"), refresh()),
    });
  } else if (item) {
    for (const candidate of item.candidates) actions[candidate.label] = () => rankNext(candidate.label);
    Object.assign(actions, {
      "=": () => state.tiers.length && ((state.tieNext = true), refresh()),
      Backspace: rankUndo,
      Delete: () => ((state.tiers = []), (state.tieNext = false), refresh()),
    });
  }
  const action = actions[event.key];
  if (action) {
    event.preventDefault();
    action();
  }
});

for (const button of document.querySelectorAll("[data-choice]")) button.addEventListener("click", () => choose(button.dataset.choice));
for (const button of document.querySelectorAll("[data-strength]")) {
  button.addEventListener("click", () => {
    state.strength = button.dataset.strength;
    refresh();
  });
}
$("#demonstration").addEventListener("input", () => {
  state.demoDirty = true;
});
$("#submit").addEventListener("click", submit);
$("#skip-button")?.addEventListener("click", openSkip);
$("#skip-confirm").addEventListener("click", skip);
$("#skip-cancel").addEventListener("click", closeSkip);
$("#diff-toggle").addEventListener("click", toggleDiff);

if (editing) loadJudgment();
else loadNext();
