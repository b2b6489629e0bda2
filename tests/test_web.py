"""The analyst page at GET /, driven in headless Chromium against the real server.

Uses Debian's `chromium` (playwright cannot download its own browser here); .ci/run installs it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Page, Route, expect
from webpage import CLAIM, HOSTILE, TITLE, analyze, expected, highlighted, pct, pixels

from opslens.api.app import create_app
from opslens.api.page import STATIC


def test_page_and_assets_are_served_without_the_model() -> None:
    """The page is static: it loads before the model does, with a strict CSP."""
    client = TestClient(create_app())  # no `with`: lifespan (model loading) does not run
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "script-src" not in page.headers["content-security-policy"]  # default-src 'self' covers it
    assert "default-src 'self'" in page.headers["content-security-policy"]
    # Every script and style sheet in api/static is linked by the page and served as is; app.js
    # (the helpers the other scripts use) loads first.
    scripts = re.findall(r'<script src="static/([\w.-]+)" defer>', page.text)
    assert scripts[0] == "app.js" and sorted(scripts) == sorted(p.name for p in STATIC.glob("*.js"))
    for asset in [*scripts, *sorted(p.name for p in STATIC.glob("*.css"))]:
        assert f'src="static/{asset}"' in page.text or f'href="static/{asset}"' in page.text
        served = client.get(f"/static/{asset}")
        assert served.status_code == 200 and served.text == (STATIC / asset).read_text(encoding="utf-8")
    assert client.get("/static/..%2fapp.py").status_code == 404  # nothing outside api/static
    assert "/" not in client.get("/openapi.json").json()["paths"]


@pytest.mark.slow
def test_page_summarises_highlights_and_labels(
    page: Page, live_server: str, example_text: str, tmp_path: Path
) -> None:
    before = page.screenshot()
    analyze(page, example_text, TITLE, CLAIM)
    expect(page.locator("#status")).to_contain_text("Done", timeout=60_000)
    api = expected(live_server, page, title=TITLE, claims=[CLAIM], max_sentences=3)

    # The summary, in order, exactly as the API returned it.
    sentences = [s["text"] for s in api["sentences"]]
    assert len(sentences) == 3
    assert page.locator("#summary button.sentence").all_text_contents() == sentences
    # Each sentence's span in the article is exactly that sentence.
    for i, text in enumerate(sentences):
        assert highlighted(page, "summary", f"s{i}") == text
    # The article is shown whole, as text.
    assert page.text_content("#article") == page.input_value("#text")

    # Stance toward the title and the claim, with probabilities and highlighted evidence.
    stances = [api["title_stance"], *api["claim_stances"]]
    for i, stance in enumerate(stances):
        card = page.locator(f'.stance[data-stance="e{i}"]')
        assert card.locator(".label").text_content() == stance["label"]
        assert stance["claim"] in card.text_content()
        best = max(stance["probabilities"].values())
        assert pct(best) in card.text_content()
        if stance["evidence"]:
            assert highlighted(page, "evidence", f"e{i}") == stance["evidence"]["text"]

    # A screenshot with the results drawn: a real PNG, and the summary area is not blank.
    page.evaluate("window.scrollTo(0, 0)")
    after = page.screenshot()
    shot = tmp_path / "opslens-page.png"
    shot.write_bytes(after)
    assert after[:8] == b"\x89PNG\r\n\x1a\n" and len(after) > 20_000
    box = page.locator("#summary").bounding_box()
    assert box is not None and box["height"] > 20
    x0, y0 = round(box["x"]), round(box["y"])
    x1, y1 = x0 + round(box["width"]), y0 + round(box["height"])
    region_before, region_after = pixels(before)[y0:y1, x0:x1], pixels(after)[y0:y1, x0:x1]
    changed = np.abs(region_after - region_before).sum(axis=2) > 60
    assert changed.mean() > 0.02, "the summary area looks blank in the screenshot"
    assert region_after.std() > 10

    # Selecting a summary sentence emphasises its span and scrolls it into view.
    page.click('#summary button[data-id="s2"]')
    mark = page.locator('#article mark[data-summary~="s2"]').first
    expect(mark).to_have_class("hl-summary active")
    expect(page.locator('#summary button[data-id="s2"]')).to_have_attribute("aria-pressed", "true")
    expect(mark).to_be_in_viewport()
    page.screenshot(path=tmp_path / "opslens-page-selected.png", full_page=True)


@pytest.mark.slow
def test_markup_is_text_and_emoji_offsets_line_up(page: Page, live_server: str, tmp_path: Path) -> None:
    analyze(page, HOSTILE, max_sentences=3)
    expect(page.locator("#status")).to_contain_text("Done", timeout=60_000)
    api = expected(live_server, page, max_sentences=3)
    text = page.input_value("#text")

    # Offsets are code points; the test only proves something if UTF-16 indices differ.
    def utf16(i: int) -> int:
        return len(text[:i].encode("utf-16-le")) // 2

    assert any(utf16(s["start"]) != s["start"] for s in api["sentences"])
    texts = [s["text"] for s in api["sentences"]]
    assert len(texts) == 3
    assert any("𝔘" in t for t in texts)
    for i, sentence in enumerate(texts):
        assert highlighted(page, "summary", f"s{i}") == sentence
    assert page.locator("#warning").is_hidden()

    # The markup is shown as characters, never parsed or run.
    assert page.text_content("#article") == text
    assert page.locator("#article img, #article script, #article b").count() == 0
    assert page.evaluate("window.__pwned") is None
    assert "<script>" in page.text_content("#article")
    page.screenshot(path=tmp_path / "opslens-markup-emoji.png", full_page=True)


@pytest.mark.slow
def test_validation_errors_name_the_field(page: Page) -> None:
    analyze(page, "The army said the bridge was destroyed overnight by a strike.", max_sentences=0)
    error = page.locator("#error")
    expect(error).to_be_visible(timeout=30_000)
    expect(error).to_contain_text("Please check the input")
    expect(error).to_contain_text("max_sentences")
    expect(error).to_contain_text("greater than or equal to 1")
    expect(page.locator("#max-sentences")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#results")).to_be_hidden()


@pytest.mark.slow
@pytest.mark.parametrize(
    ("status", "headers", "detail", "shown"),
    [
        (413, {}, [{"loc": ["body"], "msg": "request body exceeds the limit", "type": "x"}], "too large"),
        (429, {"Retry-After": "7"}, [{"loc": [], "msg": "queue full", "type": "x"}], "Try again in 7 s"),
        (503, {"Retry-After": "5"}, "model not loaded yet", "not ready yet"),
        (401, {}, "missing or invalid API key", "API key"),
    ],
)
def test_server_refusals_are_readable(
    page: Page, status: int, headers: dict[str, str], detail: object, shown: str
) -> None:
    """Refusals the example server will not produce on demand, answered by a stand-in route;
    the API key the user typed travels as X-API-Key."""
    sent: list[dict[str, str]] = []

    def refuse(route: Route) -> None:
        sent.append(route.request.headers)
        route.fulfill(
            status=status,
            headers={"Content-Type": "application/json", "X-Request-ID": "req-123", **headers},
            body=json.dumps({"detail": detail}),
        )

    page.route("**/summarize", refuse)
    page.click("details.advanced > summary")  # opens the "API key" disclosure
    page.fill("#api-key", "secret-key")
    analyze(page, "The army said the bridge was destroyed overnight by a strike.")
    error = page.locator("#error")
    expect(error).to_be_visible()
    expect(error).to_contain_text(shown)
    expect(error).to_contain_text("req-123")
    assert sent[0]["x-api-key"] == "secret-key"
