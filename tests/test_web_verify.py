"""The analyst page's "Check a summary" task (POST /verify), and the claim verifier's verdicts
beside an abstractive summary's sentences, in headless Chromium against the real server (a
stand-in stream where the answer must be fixed).
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Page, Route, expect
from test_verify_api import CLAUSE, NEGATED, SENTENCE
from test_web_abstractive import choose_abstractive, sse, stub_info
from webpage import HOSTILE, expected, highlighted, pct

from opslens.api.app import create_app
from opslens.api.page import STATIC

VERDICT_TEXT = {"supported": "supported", "not_found": "not found", "contradicted": "contradicted"}
INVENTED = "Zelenskiy met NATO leaders in Paris."


def check(page: Page, text: str, summary: str = "", claims: str = "") -> None:
    page.click("#task-verify")
    page.fill("#text", text)
    page.fill("#verify-summary", summary)
    page.fill("#claims", claims)
    page.click("#submit")


def verified(live_server: str, page: Page, claims: list[str]) -> dict:
    """What POST /verify says for exactly the text and summary the page sent."""
    body = {"text": page.input_value("#text"), "claims": claims}
    if page.input_value("#verify-summary").strip():
        body["summary"] = page.input_value("#verify-summary")
    r = httpx.post(f"{live_server}/verify", json=body, timeout=60)
    assert r.status_code == 200, r.text
    return r.json()


def assert_checked(page: Page, result: dict) -> None:
    """The check view shows `result` (a POST /verify answer) faithfully."""
    expect(page.locator("#verify-view")).to_be_visible()
    expect(page.locator("#summary-view")).to_be_hidden()
    expect(page.locator("#stances-view")).to_be_hidden()
    expect(page.locator("#results-heading")).to_have_text("Check")
    overall = page.locator("#verify-overall")
    if result["consistent"] is None:
        expect(overall).to_be_hidden()
    else:
        assert overall.get_attribute("data-consistent") == str(result["consistent"]).lower()
        expect(overall).to_contain_text("Consistent" if result["consistent"] else "Not consistent")
        expect(overall).to_contain_text(pct(result["score"]))
        expect(overall).to_contain_text(pct(result["threshold"]))
    marked = []
    for where, prefix, statements in (("summary", "v", result["summary"]), ("claims", "c", result["claims"])):
        items = page.locator(f"#verify-{where}-list li.checked")
        assert items.locator("button.sentence").all_text_contents() == [s["text"] for s in statements]
        for i, s in enumerate(statements):
            assert items.nth(i).get_attribute("data-verdict") == s["verdict"]
            verdict = s["verdict"]
            tag = items.nth(i).locator(".verdict")
            assert tag.text_content() == f"{VERDICT_TEXT[verdict]} {pct(s['probabilities'][verdict])}"
            # Its evidence, and nothing else, is highlighted under its id.
            by_position = sorted(s["evidence"], key=lambda e: e["start"])
            assert highlighted(page, "summary", f"{prefix}{i}") == "".join(e["text"] for e in by_position)
            marked += [u["text"] for u in sorted(s["unsupported"], key=lambda u: u["start"])]
    assert page.locator("#verify-view mark.unsupported").all_text_contents() == marked
    assert page.text_content("#article") == page.input_value("#text")
    assert page.locator("#warning").is_hidden()


def test_the_check_script_is_served_after_the_page_script() -> None:
    """verify.js uses app.js's helpers, so it must load (deferred, in order) after it."""
    client = TestClient(create_app())  # no `with`: the page needs no model
    page = client.get("/").text
    assert page.index('src="static/app.js" defer') < page.index('src="static/verify.js" defer')
    served = client.get("/static/verify.js")
    assert served.status_code == 200 and served.text == (STATIC / "verify.js").read_text(encoding="utf-8")


@pytest.mark.slow
def test_check_a_summary_shows_verdicts_evidence_and_marks(
    page: Page, live_server: str, example_text: str, tmp_path: Path
) -> None:
    check(page, example_text, f"{SENTENCE}\n{NEGATED} {INVENTED}", CLAUSE)
    expect(page.locator("#status")).to_contain_text("Done", timeout=60_000)
    result = verified(live_server, page, [CLAUSE])
    assert len(result["summary"]) == 3 and result["consistent"] is False
    expect(page.locator("#status")).to_contain_text("3 sentence(s) and 1 claim(s) checked")
    expect(page.locator("#status")).to_contain_text("not consistent")
    assert_checked(page, result)
    assert "NATO" in page.locator("#verify-view mark.unsupported").all_text_contents()
    note = page.locator("#verify-summary-list .unsupported-note").first
    expect(note).to_contain_text("Not found in the article")

    # Selecting a sentence emphasises its evidence in the article and scrolls it into view.
    page.click('#verify-view button[data-id="v0"]')
    expect(page.locator('#verify-view button[data-id="v0"]')).to_have_attribute("aria-pressed", "true")
    mark = page.locator('#article mark[data-summary~="v0"]').first
    expect(mark).to_have_class("hl-summary active")
    expect(mark).to_be_in_viewport()
    page.screenshot(path=tmp_path / "opslens-check.png", full_page=True)

    # Back to summarising: its fields return and the check is put away.
    page.click("#task-summarize")
    expect(page.locator("#summarize-options")).to_be_visible()
    expect(page.locator("#verify-options")).to_be_hidden()
    expect(page.locator("#results")).to_be_hidden()
    expect(page.locator("#submit")).to_have_text("Summarise")


@pytest.mark.slow
def test_claims_alone_and_markup_in_the_summary_stays_text(page: Page, live_server: str) -> None:
    """Astral characters before the unsupported spans (code points and UTF-16 indices differ),
    and markup in the summary and claims, shown as characters."""
    summary = (
        '👩‍👩‍👧 <img src=x onerror="window.__pwned = 3"> The army said repairs to the 𝔘-shaped bridge would '
        "take three weeks. 😀 Officials in Kyiv said 12 missiles destroyed the bridge, NATO said."
    )
    claim = "<script>window.__pwned = 4</script> 🇺🇦 Petrenko said the bridge was destroyed."
    check(page, HOSTILE, summary, claim)
    expect(page.locator("#status")).to_contain_text("Done", timeout=60_000)
    result = verified(live_server, page, [claim])
    spans = [u["text"] for s in result["summary"] for u in s["unsupported"]]
    assert "12" in spans and any(ord(ch) > 0xFFFF for ch in summary[: result["summary"][-1]["start"]])
    assert_checked(page, result)
    assert page.locator("#verify-view img, #verify-view script, #article img").count() == 0
    assert page.evaluate("window.__pwned") is None

    # Claims alone: no summary, so no overall reading.
    page.fill("#verify-summary", "")
    page.click("#submit")
    expect(page.locator("#status")).to_contain_text("0 sentence(s) and 1 claim(s) checked")
    result = verified(live_server, page, [claim])
    assert result["consistent"] is None
    assert_checked(page, result)
    expect(page.locator("#verify-summary-heading")).to_be_hidden()


@pytest.mark.slow
def test_check_errors_name_the_field(page: Page, live_server: str) -> None:
    check(page, "The army said the bridge was destroyed overnight by a strike.")
    error = page.locator("#error")
    expect(error).to_be_visible(timeout=30_000)
    expect(error).to_contain_text("Please check the input")
    expect(error).to_contain_text("give a summary, at least one claim, or both")
    for field in ("#verify-summary", "#claims"):
        expect(page.locator(field)).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#results")).to_be_hidden()

    limit = httpx.get(f"{live_server}/info", timeout=30).json()["limits"]["max_summary_chars"]
    page.fill("#verify-summary", "x" * (limit + 1))
    page.click("#submit")
    expect(error).to_contain_text(f"at most {limit} characters")
    expect(page.locator("#verify-summary")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#claims")).not_to_have_attribute("aria-invalid", "true")
    described = f"At most {limit} characters."
    expect(page.locator("#verify-summary")).to_have_attribute("aria-description", described)


@pytest.mark.slow
def test_abstractive_sentences_carry_the_verifiers_verdict(page: Page, live_server: str) -> None:
    """A stand-in stream whose generated sentences carry verdicts (and one none: a server
    without the verifier), drawn beside each sentence with its probability."""
    stub_info(page, live_server, "SmolLM2 (stand-in)")
    choose_abstractive(page, max_words=25, policy="flag")
    page.fill("#text", HOSTILE)
    extractive = expected(live_server, page, max_sentences=2)
    parts = ["😀 Officials said the bridge was destroyed.", "Repairs were finished.", "🇺🇦 It was rebuilt."]
    generated = " ".join(parts)
    verdicts = [("supported", 0.91), ("contradicted", 0.77), (None, None)]
    sentences = [
        {
            "text": part,
            "start": (start := generated.index(part)),
            "end": start + len(part),
            "evidence": [{**extractive["sentences"][0], "score": 0.8}] if n == 0 else [],
            "unsupported": [],
            "kept": True,
            "verdict": verdict,
            "verdict_probability": probability,
        }
        for n, (part, (verdict, probability)) in enumerate(zip(parts, verdicts, strict=True))
    ]
    faithfulness = {
        "generated": generated,
        "summary": generated,
        "policy": "flag",
        "action": "flagged",
        "detail": "1 sentence contradicted by the article; stand-in detail",
        "alignment": "encoder",
        "sentences": sentences,
        "unsupported": [],
    }
    result = {**extractive, "mode": "abstractive", "summary": generated, "faithfulness": faithfulness}
    result["generation"] = {
        "engine": "stand-in",
        "adapter": True,
        "max_words": 25,
        "prompt_tokens": 10,
        "new_tokens": 3,
        "article_truncated": False,
    }

    def stream(route: Route) -> None:
        body = sse(("token", {"text": "😀 Officials"}), ("result", result))
        route.fulfill(status=200, content_type="text/event-stream", body=body)

    page.route("**/summarize/stream", stream)
    page.click("#submit")
    expect(page.locator("#status")).to_contain_text("Done")
    items = page.locator("#summary li.generated")
    assert items.locator("button.sentence").all_text_contents() == parts
    assert items.nth(0).locator(".verdict").text_content() == "supported 91.0%"
    assert items.nth(0).locator(".verdict").get_attribute("data-verdict") == "supported"
    assert items.nth(1).locator(".verdict").text_content() == "contradicted 77.0%"
    assert items.nth(2).locator(".verdict").count() == 0
    expect(page.locator("#policy-result")).to_contain_text(faithfulness["detail"])
