// OpsLens analyst page, "Summarise an article": the form's request, and the result of POST
// /summarize (extractive) or of the stream's `result` event (abstractive): the summary, what the
// faithfulness policy did, the stances, and the article with its highlights. Uses app.js's helpers.
"use strict";

function readForm() {
  const text = $("text").value; // sent exactly as typed: offsets come back into this string
  const title = $("title").value.trim();
  const claims = $("claims").value.split("\n").map((c) => c.trim()).filter((c) => c.length > 0);
  const mode = $("mode").value;
  const body = { text, claims, max_sentences: Number($("max-sentences").value), mode };
  if (title) body.title = title;
  if ($("format").value === "html") body.format = "html";
  if (mode === "abstractive") {
    body.max_words = Number($("max-words").value);
    body.faithfulness_policy = $("faithfulness-policy").value;
  }
  return body;
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

// The guard rejects a sentence for a number, date or name the article lacks, or (with the claim
// verifier) for a verdict of contradicted or not found.
const ACTION_TEXT = {
  none: "Nothing in the summary was found unsupported by the article.",
  flagged: "Some sentences state what the article does not support; they are kept, with their verdicts and marks below.",
  dropped_sentences: "Sentences the article does not support were removed.",
  replaced_sentences: "Sentences the article does not support were removed; sentences of the article (marked Quoted) fill their room.",
  fallback: "The written summary stated something the article does not support; the extractive summary is shown instead.",
};

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
    el("span", { class: `tag action-${f.action}` }, f.action.replaceAll("_", " ")),
    ` ${ACTION_TEXT[f.action] || ""} `,
    el("span", { class: "detail" }, `(${f.detail}; policy: ${f.policy.replaceAll("_", " ")}.)`),
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
  // replace_sentence: the article's own sentences served in the room the dropped ones left.
  (f.quoted || []).forEach((q, i) => {
    const id = `q${i}`;
    spans.push({ kind: "summary", id, start: q.start, end: q.end, text: q.text, label: `Quoted sentence ${i + 1}` });
    list.append(el("li", { class: "quoted" }, el("span", { class: "tag" }, "Quoted"), " ", sentenceButton(id, q.text)));
  });
  $("generated-heading").hidden = f.sentences.length === 0;
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
  renderWarnings(result);
  const written = g
    ? ` · written by ${result.model.generator ?? "the generator"}${g.adapter ? "" : " (no adapter)"}, ` +
      `${g.new_tokens} tokens in ${Math.round(result.timings_ms.generate_ms)} ms`
    : "";
  $("meta").textContent =
    `${result.n_sentences} sentences read, ${result.dropped_blocks} boilerplate blocks dropped · ` +
    `${Math.round(result.timings_ms.total_ms)} ms · model ${result.model.name} ${result.model.version}${written}${languageNote(result)}`;
  $("results").hidden = false;
}

async function summarise(body) {
  const payload = await postJson("summarize", body);
  if (payload === null) return;
  renderResult(payload.text ?? body.text, payload); // a page: offsets index the extracted text
  $("status").textContent = `Done: ${payload.sentences.length} summary sentences.`;
}
