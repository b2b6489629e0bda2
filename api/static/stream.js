// OpsLens analyst page, abstractive summaries: POST /summarize/stream read as server-sent
// events, the draft shown as tokens arrive, then the checked result (summarize.js's renderResult).
"use strict";

// While an abstractive summary is decoded: the article without highlights, and the draft.
function showDraft(text) {
  showView(false);
  for (const id of ["summary", "final-summary", "policy-result", "stances", "meta", "warning"]) $(id).replaceChildren();
  $("warning").hidden = true;
  renderWarnings(null);
  $("abstractive-result").hidden = true;
  $("stances-heading").hidden = $("stances").hidden = true;
  $("summary-help").textContent = "";
  $("draft-text").replaceChildren();
  $("draft").hidden = false;
  renderArticle(text, []);
  $("results").hidden = false;
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
    renderResult(result.text ?? body.text, result); // a page: offsets index the extracted text
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
