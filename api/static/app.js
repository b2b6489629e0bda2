// OpsLens analyst page, shared helpers: DOM building, the request headers and POST, error
// display, and the article view with its highlights. The page's scripts load in order
// (index.html): app.js, summarize.js (POST /summarize and the result), stream.js (the abstractive
// summary streamed from POST /summarize/stream), main.js (form wiring), verify.js ("Check a summary").
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

// The result's warnings (e.g. an article not in English: the models know English only), above
// the result, so nobody reads its figures without them; and the language, for the meta line.
function renderWarnings(result) {
  const list = $("result-warnings");
  const warnings = result?.warnings ?? [];
  list.replaceChildren(
    ...warnings.map((w) => el("li", { dataset: { code: w.code } }, el("strong", {}, "Warning: "), w.message)),
  );
  list.hidden = warnings.length === 0;
}

function languageNote(result) {
  const l = result.language;
  return l ? ` · language ${l.name ?? l.code} (${l.code}, ${pct(l.confidence)})` : "";
}

// ---- Request ---------------------------------------------------------------------------

function headers(accept = "application/json") {
  const h = { "Content-Type": "application/json", Accept: accept };
  const key = $("api-key").value.trim();
  if (key) h["X-API-Key"] = key;
  return h;
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

// POST and read the JSON answer; a refusal (or an unreadable answer) is shown and gives null.
async function postJson(path, body) {
  const response = await post(path, body);
  if (!response) return null;
  let payload = null;
  try {
    payload = await response.json();
  } catch {
    payload = null;
  }
  if (!response.ok || payload === null) {
    showError(response.status, payload?.detail ?? response.statusText, response);
    $("status").textContent = "";
    return null;
  }
  return payload;
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

// ---- Errors ----------------------------------------------------------------------------

const FIELDS = {
  text: "text",
  format: "format",
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

// Which result view shows: a summary with stances, or a check (verify.js).
function showView(checking) {
  $("verify-view").hidden = !checking;
  $("summary-view").hidden = $("stances-view").hidden = checking;
  $("legend-evidence").hidden = checking;
  $("results-heading").textContent = checking ? "Check" : "Summary";
}
