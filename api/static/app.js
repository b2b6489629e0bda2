// OpsLens analyst page: calls POST /summarize (extractive) or POST /summarize/stream
// (abstractive, read as server-sent events) and shows the result. The "Check a summary" task
// (POST /verify) is in verify.js, which uses the helpers here.
// Article and summary text only ever reach the page through textContent / text nodes, never
// as HTML, so pasted markup (and anything a model writes) is shown, not run.
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
  const mode = $("mode").value;
  const body = { text, claims, max_sentences: Number($("max-sentences").value), mode };
  if (title) body.title = title;
  if (mode === "abstractive") {
    body.max_words = Number($("max-words").value);
    body.faithfulness_policy = $("faithfulness-policy").value;
  }
  return body;
}

function headers(accept = "application/json") {
  const h = { "Content-Type": "application/json", Accept: accept };
  const key = $("api-key").value.trim();
  if (key) h["X-API-Key"] = key;
  return h;
}

// ---- Errors ----------------------------------------------------------------------------

const FIELDS = {
  text: "text",
  title: "title",
  claims: "claims",
  max_sentences: "max-sentences",
  mode: "mode",
  max_words: "max-words",
  faithfulness_policy: "faithfulness-policy",
  summary: "verify-summary",
};

function fieldName(loc) {
  const parts = loc.filter((p) => p !== "body");
  if (parts[0] === "claims" && Number.isInteger(parts[1])) return `Claim ${parts[1] + 1}`;
  return parts.length ? parts.join(" › ") : "Request";
}

function markInvalid(loc, type) {
  const parts = loc.filter((p) => p !== "body");
  const id = FIELDS[parts[0]];
  if (id) $(id).setAttribute("aria-invalid", "true");
  // /verify's "neither a summary nor a claim" names claims; the summary is just as missing.
  if (type === "summary_or_claims") $("verify-summary").setAttribute("aria-invalid", "true");
}

const STATUS_TEXT = {
  401: "The server needs a valid API key (see “API key” above).",
  413: "The article is too large for this server.",
  422: "Please check the input.",
  429: "The server is busy or the rate limit was reached.",
  500: "The server hit an internal error.",
  503: "The model is not ready yet (still loading, or the server is shutting down).",
  504: "The server took too long to answer.",
  stream: "The server stopped before the summary was finished.",
};

function showError(status, detail, response) {
  const box = $("error");
  box.replaceChildren();
  box.append(el("p", {}, STATUS_TEXT[status] || `The server answered with HTTP ${status}.`));
  const items = el("ul");
  if (Array.isArray(detail)) {
    for (const d of detail) {
      const loc = Array.isArray(d.loc) ? d.loc : [];
      markInvalid(loc, d.type);
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
  for (const b of $("results").querySelectorAll("button.sentence")) b.setAttribute("aria-pressed", "false");
  if (kind === "summary") $("results").querySelector(`button.sentence[data-id="${id}"]`)?.setAttribute("aria-pressed", "true");
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

function sentenceButton(id, ...content) {
  const button = el("button", { type: "button", class: "sentence", dataset: { id }, "aria-pressed": "false" }, ...content);
  button.addEventListener("click", () => focusSpan("summary", id));
  return button;
}

// Extractive sentences (the summary, or an abstractive result's fallback) as buttons that
// find them in the article; their spans go into `spans`.
function extractiveList(list, sentences, spans, prefix = "s", label = "Summary sentence") {
  list.replaceChildren();
  sentences.forEach((s, i) => {
    const id = `${prefix}${i}`;
    spans.push({ kind: "summary", id, start: s.start, end: s.end, text: s.text, label: `${label} ${i + 1}` });
    list.append(el("li", {}, sentenceButton(id, s.text)));
  });
}

const VERDICT_TEXT = { supported: "supported", not_found: "not found", contradicted: "contradicted" };

// The claim verifier's verdict on a sentence, with its probability.
function verdictTag(verdict, probability) {
  const tag = el(
    "span",
    { class: `verdict verdict-${verdict}`, dataset: { verdict }, title: "The claim verifier's verdict against the article" },
    VERDICT_TEXT[verdict] ?? verdict,
  );
  if (probability !== null && probability !== undefined) tag.append(el("span", { class: "pct" }, ` ${pct(probability)}`));
  return tag;
}

const SPAN_KIND = { number: "number", date: "date", entity: "name", rare_word: "rare word" };

// The guard rejects a sentence for a number, date or name the article lacks, or (with the claim
// verifier) for a verdict of contradicted or not found.
const ACTION_TEXT = {
  none: "Nothing in the summary was found unsupported by the article.",
  flagged: "Some sentences state what the article does not support; they are kept, with their verdicts and marks below.",
  dropped_sentences: "Sentences the article does not support were removed.",
  fallback: "The written summary stated something the article does not support; the extractive summary is shown instead.",
};

// generated[start:end] (code-point offsets) with each unsupported span in a <mark>.
function markedText(generated, utf16At, start, end, unsupported) {
  const out = document.createDocumentFragment();
  let at = start;
  for (const u of [...unsupported].sort((x, y) => x.start - y.start)) {
    const [a, b] = [Math.max(u.start, at), Math.min(u.end, end)];
    if (a >= b) continue;
    if (a > at) out.append(generated.slice(utf16At[at], utf16At[a]));
    const kind = SPAN_KIND[u.kind] || u.kind;
    out.append(
      el("mark", { class: "unsupported", title: `Not found in the article (${kind})`, dataset: { kind: u.kind } },
        generated.slice(utf16At[a], utf16At[b])),
    );
    at = b;
  }
  if (at < end) out.append(generated.slice(utf16At[at], utf16At[end]));
  return out;
}

// Abstractive: the final summary, what the faithfulness policy did, and each generated
// sentence with its evidence (highlighted in the article) and its unsupported spans (marked).
function renderAbstractive(result, spans) {
  const f = result.faithfulness;
  const final = $("final-summary");
  if (f.action === "fallback") {
    const list = el("ol", { class: "summary" });
    extractiveList(list, result.sentences, spans, "x", "Extractive summary sentence");
    final.replaceChildren(list);
  } else {
    final.replaceChildren(el("p", {}, result.summary || "(No sentence was left.)"));
  }
  $("policy-result").replaceChildren(
    el("span", { class: `tag action-${f.action}` }, f.action.replace("_", " ")),
    ` ${ACTION_TEXT[f.action] || ""} `,
    el("span", { class: "detail" }, `(${f.detail}; policy: ${f.policy.replace("_", " ")}.)`),
  );
  $("policy-result").dataset.action = f.action;

  const utf16At = codePointIndex(f.generated);
  const list = $("summary");
  list.replaceChildren();
  f.sentences.forEach((s, i) => {
    const id = `s${i}`;
    for (const ev of s.evidence) {
      spans.push({ kind: "summary", id, start: ev.start, end: ev.end, text: ev.text, label: `Evidence for sentence ${i + 1}` });
    }
    const item = el("li", { class: s.kept ? "generated" : "generated dropped" });
    if (!s.kept) item.append(el("span", { class: "tag" }, "Dropped"), " ");
    if (s.verdict) item.append(verdictTag(s.verdict, s.verdict_probability), " ");
    const button = sentenceButton(id, markedText(f.generated, utf16At, s.start, s.end, s.unsupported));
    button.title = s.evidence.length ? "Highlight its evidence in the article" : "No evidence found";
    item.append(button);
    if (s.unsupported.length) {
      const notes = s.unsupported.map((u) => `“${u.text}” (${SPAN_KIND[u.kind] || u.kind})`).join(", ");
      item.append(el("p", { class: "unsupported-note" }, `Not found in the article: ${notes}.`));
    }
    list.append(item);
  });
  $("generated-heading").hidden = f.sentences.length === 0;
}

// Which result view shows: a summary with stances, or a check (verify.js).
function showView(checking) {
  $("verify-view").hidden = !checking;
  $("summary-view").hidden = $("stances-view").hidden = checking;
  $("legend-evidence").hidden = checking;
  $("results-heading").textContent = checking ? "Check" : "Summary";
}

function renderResult(text, result) {
  const spans = [];
  const abstractive = result.mode === "abstractive" && result.faithfulness;
  showView(false);
  $("draft").hidden = true;
  $("abstractive-result").hidden = !abstractive;
  if (abstractive) renderAbstractive(result, spans);
  else extractiveList($("summary"), result.sentences, spans);
  $("summary-help").textContent = abstractive
    ? "Select a sentence to highlight the article sentences that support it. Marked words were not found in the article."
    : "Select a sentence to find it in the article.";
  $("legend-summary").textContent = abstractive ? "Summary sentence or its evidence" : "Summary sentence";

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
  const g = result.generation;
  if (g?.article_truncated) notes.push("The summary was written from the start of the article only (the model's input limit).");
  if (mismatches) notes.push(`${mismatches} highlight(s) did not match the text sent; the article view may be off.`);
  $("warning").textContent = notes.join(" ");
  $("warning").hidden = notes.length === 0;
  const written = g
    ? ` · written by ${result.model.generator ?? "the generator"}${g.adapter ? "" : " (no adapter)"}, ` +
      `${g.new_tokens} tokens in ${Math.round(result.timings_ms.generate_ms)} ms`
    : "";
  $("meta").textContent =
    `${result.n_sentences} sentences read, ${result.dropped_blocks} boilerplate blocks dropped · ` +
    `${Math.round(result.timings_ms.total_ms)} ms · model ${result.model.name} ${result.model.version}${written}`;
  $("results").hidden = false;
}

// While an abstractive summary is decoded: the article without highlights, and the draft.
function showDraft(text) {
  showView(false);
  for (const id of ["summary", "final-summary", "policy-result", "stances", "meta", "warning"]) $(id).replaceChildren();
  $("warning").hidden = true;
  $("abstractive-result").hidden = true;
  $("stances-heading").hidden = $("stances").hidden = true;
  $("summary-help").textContent = "";
  $("draft-text").replaceChildren();
  $("draft").hidden = false;
  renderArticle(text, []);
  $("results").hidden = false;
}

// ---- Wiring ----------------------------------------------------------------------------

async function submit(event) {
  event.preventDefault();
  clearError();
  const checking = $("task-verify").checked;
  const body = checking ? readVerifyForm() : readForm();
  if (!body.text.trim()) {
    showError(422, [{ loc: ["body", "text"], msg: "Paste an article first." }]);
    $("text").focus();
    return;
  }
  const button = $("submit");
  button.disabled = true;
  $("results").setAttribute("aria-busy", "true");
  $("status").textContent = checking ? "Checking…" : "Analysing…";
  try {
    if (checking) await check(body);
    else if (body.mode === "abstractive") await summariseStreaming(body);
    else await summarise(body);
  } finally {
    button.disabled = false;
    $("results").removeAttribute("aria-busy");
  }
}

// POST to the API; null (and the error shown) when the server cannot be reached.
async function post(path, body, accept) {
  try {
    return await fetch(path, { method: "POST", headers: headers(accept), body: JSON.stringify(body) });
  } catch (err) {
    showError(0, `Could not reach the server (${err.message}).`);
    $("status").textContent = "";
    return null;
  }
}

// A refusal's JSON body, shown as /summarize's errors are.
async function showHttpError(response) {
  let payload = null;
  try {
    payload = await response.json();
  } catch {
    payload = null;
  }
  showError(response.status, payload?.detail ?? response.statusText, response);
  $("status").textContent = "";
}

async function summarise(body) {
  const response = await post("summarize", body);
  if (!response) return;
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
}

// One server-sent event from its lines (https://html.spec.whatwg.org/#event-stream-interpretation):
// `event:` names it, `data:` lines are joined by newlines, lines starting with ":" are comments.
function parseEvent(block) {
  let event = "message";
  const data = [];
  for (const line of block.split("\n")) {
    if (!line || line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") event = value;
    else if (field === "data") data.push(value);
  }
  return data.length ? { event, data: data.join("\n") } : null;
}

// The events of a text/event-stream body as they arrive: blocks end at a blank line, and a
// read may end anywhere (mid-line, mid-character, between "\r" and "\n").
async function* readEvents(body) {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      let text = buffer + (done ? decoder.decode() : decoder.decode(value, { stream: true }));
      const held = !done && text.endsWith("\r") ? "\r" : ""; // maybe half of "\r\n"
      text = text.slice(0, text.length - held.length).replace(/\r\n?/g, "\n");
      let cut;
      while ((cut = text.indexOf("\n\n")) >= 0) {
        const event = parseEvent(text.slice(0, cut));
        text = text.slice(cut + 2);
        if (event) yield event;
      }
      buffer = text + held;
      if (done) return; // an unterminated last block is dropped, as EventSource does
    }
  } finally {
    reader.cancel().catch(() => {});
  }
}

// Abstractive: POST /summarize/stream (EventSource cannot POST), tokens shown as a draft as
// they are decoded, then replaced by the checked `result`.
async function summariseStreaming(body) {
  const response = await post("summarize/stream", body, "text/event-stream");
  if (!response) return;
  const type = response.headers.get("Content-Type") || "";
  if (!response.ok || !type.startsWith("text/event-stream")) {
    await showHttpError(response);
    return;
  }
  showDraft(body.text);
  $("status").textContent = "Writing the summary…";
  let tokens = 0;
  let result = null;
  let failure = null;
  try {
    for await (const { event, data } of readEvents(response.body)) {
      let payload;
      try {
        payload = JSON.parse(data);
      } catch {
        continue; // not an event of this API; the stream goes on
      }
      if (event === "token") {
        $("draft-text").append(String(payload.text ?? ""));
        tokens += 1;
      } else if (event === "result") {
        result = payload;
        break;
      } else if (event === "error") {
        failure = payload;
        break;
      }
    }
  } catch (err) {
    failure = { detail: `The connection broke while the summary was being written (${err.message}).` };
  }
  if (result) {
    renderResult(body.text, result);
    const n = result.faithfulness?.sentences.length ?? 0;
    $("status").textContent = `Done: abstractive summary of ${n} sentence(s), ${tokens} tokens streamed.`;
    return;
  }
  $("draft").hidden = true;
  failure ??= { detail: "The stream ended without a result." };
  showError(streamErrorStatus(failure.detail), failure.detail ?? "unknown error", response);
  $("status").textContent = "";
}

// The headline for an `error` event: the status POST /summarize would have answered with.
function streamErrorStatus(detail) {
  const types = Array.isArray(detail) ? detail.map((d) => d.type) : [];
  if (types.includes("no_sentences")) return 422;
  if (types.includes("timeout")) return 504;
  if (detail === "internal error") return 500;
  return "stream";
}

function updateCount() {
  const n = codePointIndex($("text").value).length - 1;
  $("text-count").textContent = `${n.toLocaleString()} characters.`;
}

function updateMode() {
  $("abstractive-options").hidden = $("mode").value !== "abstractive";
}

// Abstractive mode needs the server's generator; without one the option is disabled.
function setAbstractive(available) {
  const option = $("mode").querySelector('option[value="abstractive"]');
  option.disabled = !available;
  if (!available && $("mode").value === "abstractive") $("mode").value = "extractive";
  $("mode-help").textContent = available
    ? ""
    : "Abstractive summaries are off on this server (it has no generator loaded).";
  updateMode();
}

// Optional: adopt the server's limits. Fails quietly (e.g. when /info needs a key not yet typed).
async function loadLimits() {
  try {
    const response = await fetch("info", { headers: headers() });
    if (!response.ok) return;
    const { limits, model, abstractive } = await response.json();
    $("max-sentences").max = String(limits.max_summary_sentences);
    if (limits.max_summary_chars) {
      $("verify-summary").setAttribute("aria-description", `At most ${limits.max_summary_chars} characters.`);
    }
    $("text").setAttribute("aria-description", `At most ${limits.max_text_chars} characters.`);
    if (limits.min_summary_words) $("max-words").min = String(limits.min_summary_words);
    if (limits.max_summary_words) $("max-words").max = String(limits.max_summary_words);
    // The server's defaults, unless the user already changed the field.
    const words = $("max-words");
    if (abstractive?.default_max_words && words.value === words.defaultValue) {
      words.value = words.defaultValue = String(abstractive.default_max_words);
    }
    const policy = $("faithfulness-policy");
    const untouched = [...policy.options].find((o) => o.defaultSelected)?.value === policy.value;
    if (abstractive?.default_policy && untouched) policy.value = abstractive.default_policy;
    setAbstractive(Boolean(model?.generator));
  } catch {
    // The defaults in the page still work; the server validates anyway.
  }
}

document.addEventListener("DOMContentLoaded", () => {
  $("form").addEventListener("submit", submit);
  $("text").addEventListener("input", updateCount);
  $("mode").addEventListener("change", updateMode);
  $("api-key").addEventListener("change", loadLimits); // /info may need the key
  updateCount();
  updateMode();
  loadLimits();
});
