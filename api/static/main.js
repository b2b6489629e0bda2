// OpsLens analyst page, wiring: the form's submit (which task, which endpoint), the character
// count, the summary-type options and the server's limits from GET /info.
"use strict";

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
    const html = limits.max_html_chars ? ` (a web page: ${limits.max_html_chars} characters of HTML)` : "";
    $("text").setAttribute("aria-description", `At most ${limits.max_text_chars} characters${html}.`);
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
