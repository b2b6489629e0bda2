// OpsLens analyst page, "Check a summary": POST /verify with the article, a summary and/or
// claims; shows each sentence's and claim's verdict with its probability, its evidence
// highlighted in the article, the words the article lacks marked, and the summary's overall
// reading. Uses the helpers of app.js (loaded first); text reaches the page only as text nodes.
"use strict";

function readVerifyForm() {
  // Both sent exactly as typed: offsets come back into these strings.
  const text = $("text").value;
  const summary = $("verify-summary").value;
  const claims = $("claims").value.split("\n").map((c) => c.trim()).filter((c) => c.length > 0);
  const body = { text, claims };
  if (summary.trim()) body.summary = summary;
  if ($("format").value === "html") body.format = "html";
  return body;
}

// One checked statement: its verdict and probability, then its text (a button that highlights
// its evidence) with the unsupported spans marked. `source` is what the offsets index: the
// summary for its sentences, the claim itself for a claim.
function statementItem(source, s, id, label, spans) {
  for (const ev of s.evidence) {
    spans.push({ kind: "summary", id, start: ev.start, end: ev.end, text: ev.text, label: `Evidence for ${label}` });
  }
  const item = el("li", { class: "checked", dataset: { verdict: s.verdict } });
  const ranked = Object.entries(s.probabilities).sort((x, y) => y[1] - x[1]);
  const tag = verdictTag(s.verdict, s.probabilities[s.verdict]);
  tag.title = ranked.map(([v, p]) => `${VERDICT_TEXT[v] ?? v} ${pct(p)}`).join(" · ");
  const button = sentenceButton(id, markedText(source, codePointIndex(source), s.start, s.end, s.unsupported));
  button.title = s.evidence.length ? "Highlight its evidence in the article" : "No evidence found";
  item.append(tag, button);
  if (s.unsupported.length) {
    const notes = s.unsupported.map((u) => `“${u.text}” (${SPAN_KIND[u.kind] || u.kind})`).join(", ");
    item.append(el("p", { class: "unsupported-note" }, `Not found in the article: ${notes}.`));
  }
  return item;
}

function renderVerification(body, result) {
  showView(true);
  const spans = [];
  const overall = $("verify-overall");
  overall.hidden = result.consistent === null;
  if (result.consistent !== null) {
    overall.dataset.consistent = String(result.consistent);
    overall.replaceChildren(
      el("span", { class: `label consistent-${result.consistent}` }, result.consistent ? "Consistent" : "Not consistent"),
      `Score ${pct(result.score)}: the lowest probability, over the summary's sentences, that the article ` +
        `supports a sentence (consistent from ${pct(result.threshold)}).`,
    );
  }
  const sentences = $("verify-summary-list");
  sentences.replaceChildren(
    ...result.summary.map((s, i) => statementItem(body.summary, s, `v${i}`, `summary sentence ${i + 1}`, spans)),
  );
  const claims = $("verify-claims-list");
  claims.replaceChildren(...result.claims.map((s, i) => statementItem(s.text, s, `c${i}`, `claim ${i + 1}`, spans)));
  $("verify-summary-heading").hidden = sentences.hidden = result.summary.length === 0;
  $("verify-claims-heading").hidden = claims.hidden = result.claims.length === 0;
  $("legend-summary").textContent = "Evidence (select a sentence or claim to emphasise its own)";

  const mismatches = renderArticle(result.text ?? body.text, spans); // a page: the extracted text
  $("warning").textContent = mismatches
    ? `${mismatches} highlight(s) did not match the text sent; the article view may be off.`
    : "";
  $("warning").hidden = mismatches === 0;
  renderWarnings(result);
  const n = result.summary.length + result.claims.length;
  $("meta").textContent =
    `${n} statement(s) checked · ${Math.round(result.timings_ms.total_ms)} ms · ` +
    `model ${result.model.name} ${result.model.version} · verifier ${result.model.verifier ?? "none"}` +
    languageNote(result);
  $("results").hidden = false;
}

async function check(body) {
  const payload = await postJson("verify", body);
  if (payload === null) return;
  renderVerification(body, payload);
  const reading = payload.consistent === null ? "" : payload.consistent ? " The summary is consistent." : " The summary is not consistent.";
  $("status").textContent = `Done: ${payload.summary.length} sentence(s) and ${payload.claims.length} claim(s) checked.${reading}`;
}

// The form shows the fields of the chosen task; a result of the other task is put away.
function updateTask() {
  const checking = $("task-verify").checked;
  $("verify-options").hidden = !checking;
  $("summarize-options").hidden = checking;
  $("submit").textContent = checking ? "Check" : "Summarise";
  $("results").hidden = true;
  clearError();
}

document.addEventListener("DOMContentLoaded", () => {
  for (const radio of document.querySelectorAll('input[name="task"]')) radio.addEventListener("change", updateTask);
  updateTask();
});
