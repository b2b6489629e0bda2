// OpsLens analyst page: calls POST /summarize and shows the result.
// Article text only ever reaches the page through textContent / text nodes, never as HTML,
// so pasted markup is shown, not run.
"use strict";

const $ = (id) => document.getElementById(id);

// The API's offsets are Python string indices (Unicode code points); JS strings index
// UTF-16 code units, where an emoji counts twice. utf16At[i] is the JS index of code point i.
function codePointIndex(text) {
  const utf16At = [];
  let unit = 0;
  for (const ch of text) {
    utf16At.push(unit);
    unit += ch.length;
  }
  utf16At.push(unit);
  return utf16At;
}

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "class") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key in node) node[key] = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) {
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

const pct = (p) => `${(100 * p).toFixed(1)}%`;

// ---- Request ---------------------------------------------------------------------------

function readForm() {
  const text = $("text").value; // sent exactly as typed: offsets come back into this string
  const title = $("title").value.trim();
  const claims = $("claims").value.split("\n").map((c) => c.trim()).filter((c) => c.length > 0);
  const body = { text, claims, max_sentences: Number($("max-sentences").value) };
  if (title) body.title = title;
  return body;
}

function headers() {
  const h = { "Content-Type": "application/json", Accept: "application/json" };
  const key = $("api-key").value.trim();
  if (key) h["X-API-Key"] = key;
  return h;
}

// ---- Errors ----------------------------------------------------------------------------

const FIELDS = { text: "text", title: "title", claims: "claims", max_sentences: "max-sentences" };

function fieldName(loc) {
  const parts = loc.filter((p) => p !== "body");
  if (parts[0] === "claims" && Number.isInteger(parts[1])) return `Claim ${parts[1] + 1}`;
  return parts.length ? parts.join(" › ") : "Request";
}

function markInvalid(loc) {
  const parts = loc.filter((p) => p !== "body");
  const id = FIELDS[parts[0]];
  if (id) $(id).setAttribute("aria-invalid", "true");
}

const STATUS_TEXT = {
  401: "The server needs a valid API key (see “API key” above).",
  413: "The article is too large for this server.",
  422: "Please check the input.",
  429: "The server is busy or the rate limit was reached.",
  500: "The server hit an internal error.",
  503: "The model is not ready yet (still loading, or the server is shutting down).",
  504: "The server took too long to answer.",
};

function showError(status, detail, response) {
  const box = $("error");
  box.replaceChildren();
  box.append(el("p", {}, STATUS_TEXT[status] || `The server answered with HTTP ${status}.`));
  const items = el("ul");
  if (Array.isArray(detail)) {
    for (const d of detail) {
      const loc = Array.isArray(d.loc) ? d.loc : [];
      markInvalid(loc);
      items.append(el("li", {}, el("code", {}, fieldName(loc)), `: ${d.msg ?? "invalid"}`));
    }
  } else if (typeof detail === "string" && detail) {
    items.append(el("li", {}, detail));
  }
  const retry = response && response.headers.get("Retry-After");
  if (retry) items.append(el("li", {}, `Try again in ${retry} s.`));
  const requestId = response && response.headers.get("X-Request-ID");
  if (requestId) items.append(el("li", { class: "request-id" }, `Request ID: ${requestId}`));
  if (items.childElementCount) box.append(items);
  box.hidden = false;
}

function clearError() {
  $("error").hidden = true;
  $("error").replaceChildren();
  for (const id of Object.values(FIELDS)) $(id).removeAttribute("aria-invalid");
}

// ---- Rendering -------------------------------------------------------------------------

// Splits `text` at every span boundary and wraps each covered piece in a <mark> naming the
// spans that cover it, so overlapping highlights (a summary sentence that is also evidence) work.
function renderArticle(text, spans) {
  const utf16At = codePointIndex(text);
  const cuts = new Set([0, text.length]);
  const local = spans.map((s) => ({ ...s, a: utf16At[s.start], b: utf16At[s.end] }));
  for (const s of local) cuts.add(s.a).add(s.b);
  const bounds = [...cuts].sort((x, y) => x - y);
  const out = document.createDocumentFragment();
  for (let i = 0; i + 1 < bounds.length; i++) {
    const [a, b] = [bounds[i], bounds[i + 1]];
    const piece = text.slice(a, b);
    const covering = local.filter((s) => s.a <= a && b <= s.b);
    if (!covering.length) {
      out.append(document.createTextNode(piece));
      continue;
    }
    const summary = covering.filter((s) => s.kind === "summary").map((s) => s.id);
    const evidence = covering.filter((s) => s.kind === "evidence").map((s) => s.id);
    const mark = el("mark", { title: covering.map((s) => s.label).join("; ") }, piece);
    if (summary.length) {
      mark.classList.add("hl-summary");
      mark.dataset.summary = summary.join(" ");
    }
    if (evidence.length) {
      mark.classList.add("hl-evidence");
      mark.dataset.evidence = evidence.join(" ");
    }
    out.append(mark);
  }
  $("article").replaceChildren(out);
  // A mismatch would mean offsets and text disagree: say so rather than mislead.
  return local.filter((s) => text.slice(s.a, s.b) !== s.text).length;
}

function focusSpan(kind, id) {
  const marks = [...$("article").querySelectorAll(`mark[data-${kind}~="${id}"]`)];
  for (const m of $("article").querySelectorAll("mark.active")) m.classList.remove("active");
  for (const b of $("summary").querySelectorAll("button[aria-pressed]")) b.setAttribute("aria-pressed", "false");
  if (kind === "summary") $("summary").querySelector(`[data-id="${id}"]`)?.setAttribute("aria-pressed", "true");
  for (const m of marks) m.classList.add("active");
  if (marks.length) {
    const motion = window.matchMedia("(prefers-reduced-motion: reduce)").matches ? "auto" : "smooth";
    marks[0].scrollIntoView({ behavior: motion, block: "center" });
  }
}

function renderStance(stance, kind, id) {
  const probs = el("div", { class: "probs" });
  const ranked = Object.entries(stance.probabilities).sort((x, y) => y[1] - x[1]);
  for (const [label, p] of ranked) {
    const fill = el("span");
    fill.style.width = pct(p);
    probs.append(
      el("span", {}, label),
      el("span", { class: "bar", "aria-hidden": "true" }, fill),
      el("span", { class: "pct" }, pct(p)),
    );
  }
  const item = el(
    "li",
    { class: "stance", dataset: { stance: id } },
    el("p", { class: "claim" }, el("span", { class: "kind" }, kind), " ", stance.claim),
    el("p", {}, el("span", { class: `label label-${stance.label}` }, stance.label), `The article ${stance.reading} it.`),
    probs,
  );
  if (stance.evidence) {
    const show = el("button", { type: "button", class: "linkish" }, "Show in article");
    show.addEventListener("click", () => focusSpan("evidence", id));
    item.append(
      el("div", { class: "evidence" }, "Evidence:", el("blockquote", {}, stance.evidence.text), show),
    );
  }
  return item;
}

function renderResult(text, result) {
  const spans = [];
  const list = $("summary");
  list.replaceChildren();
  result.sentences.forEach((s, i) => {
    const id = `s${i}`;
    spans.push({ kind: "summary", id, start: s.start, end: s.end, text: s.text, label: `Summary sentence ${i + 1}` });
    const button = el(
      "button",
      { type: "button", class: "sentence", dataset: { id }, "aria-pressed": "false" },
      s.text,
    );
    button.addEventListener("click", () => focusSpan("summary", id));
    list.append(el("li", {}, button));
  });

  const stances = $("stances");
  stances.replaceChildren();
  const all = [];
  if (result.title_stance) all.push(["Title", result.title_stance]);
  result.claim_stances.forEach((s, i) => all.push([`Claim ${i + 1}`, s]));
  all.forEach(([kind, stance], i) => {
    const id = `e${i}`;
    stances.append(renderStance(stance, kind, id));
    const ev = stance.evidence;
    if (ev) spans.push({ kind: "evidence", id, start: ev.start, end: ev.end, text: ev.text, label: `Evidence (${kind})` });
  });
  $("stances-heading").hidden = stances.hidden = all.length === 0;

  const mismatches = renderArticle(text, spans);
  const t = result.truncation;
  const notes = [];
  if (result.truncated) notes.push(`Only the first ${t.sentences_used} of ${t.sentences_total} sentences were read.`);
  if (mismatches) notes.push(`${mismatches} highlight(s) did not match the text sent; the article view may be off.`);
  $("warning").textContent = notes.join(" ");
  $("warning").hidden = notes.length === 0;
  $("meta").textContent =
    `${result.n_sentences} sentences read, ${result.dropped_blocks} boilerplate blocks dropped · ` +
    `${Math.round(result.timings_ms.total_ms)} ms · model ${result.model.name} ${result.model.version}`;
  $("results").hidden = false;
}

// ---- Wiring ----------------------------------------------------------------------------

async function submit(event) {
  event.preventDefault();
  clearError();
  const body = readForm();
  if (!body.text.trim()) {
    showError(422, [{ loc: ["body", "text"], msg: "Paste an article first." }]);
    $("text").focus();
    return;
  }
  const button = $("submit");
  button.disabled = true;
  $("results").setAttribute("aria-busy", "true");
  $("status").textContent = "Analysing…";
  try {
    let response;
    try {
      response = await fetch("summarize", { method: "POST", headers: headers(), body: JSON.stringify(body) });
    } catch (err) {
      showError(0, `Could not reach the server (${err.message}).`);
      $("status").textContent = "";
      return;
    }
    let payload = null;
    try {
      payload = await response.json();
    } catch {
      payload = null;
    }
    if (!response.ok || payload === null) {
      showError(response.status, payload?.detail ?? response.statusText, response);
      $("status").textContent = "";
      return;
    }
    renderResult(body.text, payload);
    $("status").textContent = `Done: ${payload.sentences.length} summary sentences.`;
  } finally {
    button.disabled = false;
    $("results").removeAttribute("aria-busy");
  }
}

function updateCount() {
  const n = codePointIndex($("text").value).length - 1;
  $("text-count").textContent = `${n.toLocaleString()} characters.`;
}

// Optional: adopt the server's limits. Fails quietly (e.g. when /info needs a key not yet typed).
async function loadLimits() {
  try {
    const response = await fetch("info", { headers: headers() });
    if (!response.ok) return;
    const { limits } = await response.json();
    $("max-sentences").max = String(limits.max_summary_sentences);
    $("text").setAttribute("aria-description", `At most ${limits.max_text_chars} characters.`);
  } catch {
    // The defaults in the page still work; the server validates anyway.
  }
}

document.addEventListener("DOMContentLoaded", () => {
  $("form").addEventListener("submit", submit);
  $("text").addEventListener("input", updateCount);
  updateCount();
  loadLimits();
});
