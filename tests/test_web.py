"""The analyst page at GET /, driven in headless Chromium against the real server.

Uses Debian's `chromium` (playwright cannot download its own browser here); .ci/run installs it.
"""

from __future__ import annotations

import io
import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from playwright.sync_api import Browser, Page, Route, expect, sync_playwright

from opslens.api.app import create_app
from opslens.api.page import STATIC

CHROMIUM = shutil.which("chromium")
TITLE = "Russia presses offensive in east"
CLAIM = "Ukraine says Russia has suffered heavy losses around Bakhmut."
# Markup that would run, or at least become elements, if the page ever used innerHTML; and
# astral characters (emoji, a flag, a ZWJ family, a math letter) before and inside sentences,
# so code-point offsets and UTF-16 indices differ.
HOSTILE = (
    '<img src=x onerror="window.__pwned = 1"><script>window.__pwned = 2</script> 🇺🇦😀 Officials in Kyiv '
    "said the bridge over the river was destroyed overnight by a missile strike.\n\n"
    "👩‍👩‍👧 The army said repairs to the 𝔘-shaped bridge would take three weeks, officials added.\n\n"
    "<b>Bold</b> claims about the front were denied by the ministry on Sunday evening, a spokesman said."
)


def test_page_and_assets_are_served_without_the_model() -> None:
    """The page is static: it loads before the model does, with a strict CSP."""
    client = TestClient(create_app())  # no `with`: lifespan (model loading) does not run
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "script-src" not in page.headers["content-security-policy"]  # default-src 'self' covers it
    assert "default-src 'self'" in page.headers["content-security-policy"]
    for asset in ("app.js", "app.css"):
        assert f'src="static/{asset}"' in page.text or f'href="static/{asset}"' in page.text
        served = client.get(f"/static/{asset}")
        assert served.status_code == 200 and served.text == (STATIC / asset).read_text(encoding="utf-8")
    assert client.get("/static/..%2fapp.py").status_code == 404  # nothing outside api/static
    assert "/" not in client.get("/openapi.json").json()["paths"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (apt-get install chromium); .ci/run installs it")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser, live_server: str) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1200, "height": 1800})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    # HTTP errors the tests provoke are logged as "Failed to load resource"; anything else
    # (a script error, a CSP violation) is a bug.
    page.on(
        "console",
        lambda msg: errors.append(msg.text)
        if msg.type == "error" and not msg.text.startswith("Failed to load resource")
        else None,
    )
    page.goto(f"{live_server}/")
    yield page
    context.close()
    assert errors == [], f"the page logged errors: {errors}"


def analyze(page: Page, text: str, title: str = "", claims: str = "", max_sentences: int = 3) -> None:
    page.fill("#text", text)
    page.fill("#title", title)
    page.fill("#claims", claims)
    page.fill("#max-sentences", str(max_sentences))
    page.click("#submit")


def expected(live_server: str, page: Page, **fields: object) -> dict:
    """What the API says for exactly the text the page sent (a textarea normalises newlines)."""
    body = {"text": page.input_value("#text"), **fields}
    r = httpx.post(f"{live_server}/summarize", json=body, timeout=60)
    assert r.status_code == 200, r.text
    return r.json()


def highlighted(page: Page, kind: str, span_id: str) -> str:
    return "".join(page.locator(f'#article mark[data-{kind}~="{span_id}"]').all_text_contents())


def pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.int16)


@pytest.mark.slow
def test_page_summarises_highlights_and_labels(page: Page, live_server: str, example_text: str,
                                               tmp_path: Path) -> None:
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
        assert f"{100 * best:.1f}%" in card.text_content()
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


# ---- Abstractive mode: POST /summarize/stream, read by the page as server-sent events ----

NO_GENERATOR = (
    "the server has no generator (GET /info model.generator is null): the artifact lacks an "
    "'abstractive' component; set OPSLENS_MODEL_PATH to one that has it"
)


def info_of(live_server: str) -> dict:
    r = httpx.get(f"{live_server}/info", timeout=30)
    assert r.status_code == 200, r.text
    return r.json()


def sse_events(body: str) -> list[tuple[str, dict]]:
    """(event, data) pairs of a text/event-stream body."""
    out = []
    for block in body.replace("\r\n", "\n").split("\n\n"):
        lines = [line for line in block.split("\n") if line and not line.startswith(":")]
        event = next((line[6:].strip() for line in lines if line.startswith("event:")), "message")
        data = "\n".join(line[5:].removeprefix(" ") for line in lines if line.startswith("data:"))
        if data:
            out.append((event, json.loads(data)))
    return out


def wait_for_info(page: Page) -> None:
    """loadLimits() has applied GET /info (it sets the text's description last but one)."""
    expect(page.locator("#text")).to_have_attribute("aria-description", re.compile("At most"))


def choose_abstractive(page: Page, max_words: int, policy: str) -> None:
    wait_for_info(page)
    page.select_option("#mode", "abstractive")
    expect(page.locator("#abstractive-options")).to_be_visible()
    page.fill("#max-words", str(max_words))
    page.select_option("#faithfulness-policy", policy)


# Records what the draft showed each time it changed, and whether the final result was up yet.
WATCH_DRAFT = """() => {
  window.__draft = [];
  const text = document.getElementById("draft-text");
  new MutationObserver(() => window.__draft.push({
    text: text.textContent,
    visible: !document.getElementById("draft").hidden,
    final: !document.getElementById("abstractive-result").hidden,
  })).observe(text, { childList: true, characterData: true, subtree: true });
}"""


def assert_abstractive_result(page: Page, result: dict) -> None:
    """The page shows `result` (an abstractive POST /summarize answer) faithfully."""
    f = result["faithfulness"]
    expect(page.locator("#draft")).to_be_hidden()
    expect(page.locator("#abstractive-result")).to_be_visible()
    final = page.locator("#final-summary")
    if f["action"] == "fallback":
        assert final.locator("button.sentence").all_text_contents() == [
            s["text"] for s in result["sentences"]
        ]
        for i, s in enumerate(result["sentences"]):
            assert highlighted(page, "summary", f"x{i}") == s["text"]
    else:
        assert final.text_content() == result["summary"]
    assert final.text_content().strip()
    policy = page.locator("#policy-result")
    assert policy.get_attribute("data-action") == f["action"]
    expect(policy).to_contain_text(f["action"].replace("_", " "))
    expect(policy).to_contain_text(f["detail"])

    # Each generated sentence, its unsupported spans marked, its evidence highlighted on demand.
    items = page.locator("#summary li.generated")
    assert items.locator("button.sentence").all_text_contents() == [s["text"] for s in f["sentences"]]
    marks = page.locator("#summary mark.unsupported")
    assert marks.all_text_contents() == [u["text"] for u in f["unsupported"]]
    for i, u in enumerate(f["unsupported"]):
        assert marks.nth(i).get_attribute("data-kind") == u["kind"]
        assert "Not found in the article" in (marks.nth(i).get_attribute("title") or "")
    for i, s in enumerate(f["sentences"]):
        assert ("dropped" in (items.nth(i).get_attribute("class") or "")) == (not s["kept"])
        by_position = sorted(s["evidence"], key=lambda e: e["start"])
        assert highlighted(page, "summary", f"s{i}") == "".join(e["text"] for e in by_position)
    with_evidence = next(i for i, s in enumerate(f["sentences"]) if s["evidence"])
    page.click(f'#summary button[data-id="s{with_evidence}"]')
    expect(page.locator(f'#summary button[data-id="s{with_evidence}"]')).to_have_attribute(
        "aria-pressed", "true"
    )
    mark = page.locator(f'#article mark[data-summary~="s{with_evidence}"]').first
    expect(mark).to_have_class(re.compile(r"\bactive\b"))
    expect(mark).to_be_in_viewport()
    assert page.locator("#warning").is_hidden() or "did not match" not in page.text_content("#warning")


@pytest.mark.slow
def test_abstractive_summary_streams_then_shows_the_checked_result(
    page: Page, live_server: str, example_text: str, tmp_path: Path
) -> None:
    assert info_of(live_server)["model"]["generator"] is not None, NO_GENERATOR
    choose_abstractive(page, max_words=30, policy="flag")
    page.evaluate(WATCH_DRAFT)
    with page.expect_request("**/summarize/stream") as request:
        analyze(page, example_text, TITLE, CLAIM)
    expect(page.locator("#status")).to_contain_text("Done", timeout=120_000)
    # The browser keeps no copy of a body read as a stream: ask again (greedy decoding, so the
    # same request gets the same answer).
    body = json.loads(request.value.post_data or "{}")
    assert body["mode"] == "abstractive" and body["max_words"] == 30 and body["faithfulness_policy"] == "flag"
    r = httpx.post(f"{live_server}/summarize/stream", json=body, timeout=120)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    events = sse_events(r.text)
    tokens = [data["text"] for event, data in events if event == "token"]
    results = [data for event, data in events if event == "result"]
    assert tokens and len(results) == 1 and events[-1][0] == "result"
    result = results[0]
    assert result["mode"] == "abstractive" and result["faithfulness"]["policy"] == "flag"

    # The tokens were shown, as a draft, before the checked result replaced them.
    seen = page.evaluate("window.__draft")
    assert any(s["visible"] and s["text"] and not s["final"] for s in seen), seen
    assert max((s["text"] for s in seen), key=len) == "".join(tokens)

    assert_abstractive_result(page, result)
    assert result["summary"].strip()
    assert page.locator(".stance").count() == 2  # stances as in extractive mode
    expect(page.locator("#meta")).to_contain_text(f"{result['generation']['new_tokens']} tokens")
    page.screenshot(path=tmp_path / "opslens-abstractive.png", full_page=True)


def stub_info(page: Page, live_server: str, generator: str | None) -> None:
    """GET /info as the live server answers it, but with `model.generator` set as given."""
    info = info_of(live_server)
    info["model"]["generator"] = generator
    page.route(
        "**/info",
        lambda route: route.fulfill(status=200, content_type="application/json", body=json.dumps(info)),
    )
    page.reload()
    wait_for_info(page)


@pytest.mark.slow
def test_abstractive_option_follows_the_server(page: Page, live_server: str) -> None:
    stub_info(page, live_server, None)
    option = page.locator('#mode option[value="abstractive"]')
    expect(option).to_be_disabled()
    expect(page.locator("#mode-help")).to_contain_text("Abstractive summaries are off on this server")
    expect(page.locator("#abstractive-options")).to_be_hidden()

    page.unroute("**/info")
    stub_info(page, live_server, "SmolLM2 (stand-in)")
    expect(option).to_be_enabled()
    expect(page.locator("#mode-help")).to_have_text("")
    page.select_option("#mode", "abstractive")
    expect(page.locator("#abstractive-options")).to_be_visible()
    expect(page.locator("#max-words")).to_have_value(
        str(info_of(live_server)["abstractive"]["default_max_words"])
    )
    page.select_option("#mode", "extractive")
    expect(page.locator("#abstractive-options")).to_be_hidden()


def sse(*events: tuple[str, object]) -> str:
    """A text/event-stream body with CRLF line ends (the format allows them)."""
    return "".join(f"event: {event}\r\ndata: {json.dumps(data)}\r\n\r\n" for event, data in events)


@pytest.mark.slow
@pytest.mark.parametrize("action", ["dropped_sentences", "fallback"])
def test_streamed_result_with_unsupported_spans(page: Page, live_server: str, action: str) -> None:
    """A stand-in stream (fixed answer, astral characters in the generated text and the article)
    drawn like a real one: draft, then result; the request carries the abstractive fields."""
    stub_info(page, live_server, "SmolLM2 (stand-in)")
    choose_abstractive(page, max_words=25, policy="drop_sentence")
    page.fill("#text", HOSTILE)
    text = page.input_value("#text")
    extractive = expected(live_server, page, max_sentences=2)
    art = extractive["sentences"]

    parts = [
        "😀 Officials said 12 missiles hit the 𝔘-shaped bridge.",
        "Repairs take three weeks, said Petrenko.",
        "🇺🇦 It was rebuilt.",
    ]
    generated = " ".join(parts)
    spans = [("number", "12", 0), ("entity", "Petrenko", 1)]
    unsupported = [
        {"kind": k, "text": t, "start": (a := generated.index(t)), "end": a + len(t), "normalized": t.lower()}
        | {"sentence": n}
        for k, t, n in spans
    ]
    support = [{**s, "score": 0.8} for s in art]
    sentences = []
    for n, part in enumerate(parts):
        start = generated.index(part)
        own = [u for u in unsupported if u["sentence"] == n]
        kept = action != "fallback" and not own
        evidence = [support[n % len(support)]] if n < 2 else []
        sentences.append(
            {
                "text": part,
                "start": start,
                "end": start + len(part),
                "evidence": evidence,
                "unsupported": own,
                "kept": kept,
            }
        )
    summary = extractive["summary"] if action == "fallback" else parts[2]
    detail = "2 unsupported span(s); stand-in detail"
    result = {
        **extractive,
        "mode": "abstractive",
        "summary": summary,
        "faithfulness": {
            "generated": generated,
            "summary": summary,
            "policy": "drop_sentence",
            "action": action,
            "detail": detail,
            "alignment": "encoder",
            "sentences": sentences,
            "unsupported": unsupported,
        },
        "generation": {
            "engine": "stand-in",
            "adapter": True,
            "max_words": 25,
            "prompt_tokens": 10,
            "new_tokens": 5,
            "article_truncated": False,
        },
    }
    tokens = ["😀 off", "icials said", " 12", " missiles…", " \U0001d518"]
    sent: list[dict] = []

    def stream(route: Route) -> None:
        sent.append(json.loads(route.request.post_data or "{}"))
        body = ": keep-alive\r\n\r\n" + sse(*[("token", {"text": t}) for t in tokens], ("result", result))
        route.fulfill(status=200, content_type="text/event-stream", body=body)

    page.route("**/summarize/stream", stream)
    page.click("#submit")
    expect(page.locator("#status")).to_contain_text("Done")
    assert sent == [
        {
            "text": text,
            "claims": [],
            "max_sentences": 3,
            "mode": "abstractive",
            "max_words": 25,
            "faithfulness_policy": "drop_sentence",
        }
    ]
    expect(page.locator("#status")).to_contain_text(f"{len(tokens)} tokens streamed")
    assert_abstractive_result(page, result)
    assert page.text_content("#article") == text
    assert page.locator("#summary img, #summary script, #final-summary b").count() == 0


@pytest.mark.slow
@pytest.mark.parametrize(
    ("status", "body", "shown"),
    [
        (
            200,
            sse(
                ("token", {"text": "the army"}),
                (
                    "error",
                    {
                        "detail": [
                            {
                                "loc": [],
                                "msg": "no result within serving.request_timeout_s=30",
                                "type": "timeout",
                            }
                        ]
                    },
                ),
            ),
            "took too long",
        ),
        (200, sse(("error", {"detail": "internal error"})), "internal error"),
        (200, sse(("token", {"text": "the army"})), "stopped before the summary was finished"),
        (
            429,
            {"detail": [{"loc": [], "msg": "too many streams in progress", "type": "streams_full"}]},
            "Try again in 2 s",
        ),
        (
            422,
            {
                "detail": [
                    {
                        "loc": ["body", "mode"],
                        "msg": "abstractive mode is off on this server",
                        "type": "mode_unavailable",
                    }
                ]
            },
            "abstractive mode is off",
        ),
    ],
)
def test_stream_failures_are_readable(
    page: Page, live_server: str, status: int, body: object, shown: str
) -> None:
    """Refusals before the stream (JSON, as POST /summarize) and `error` events in it."""

    def stream(route: Route) -> None:
        if isinstance(body, str):
            route.fulfill(status=status, content_type="text/event-stream", body=body)
        else:
            route.fulfill(
                status=status,
                headers={"Content-Type": "application/json", "Retry-After": "2", "X-Request-ID": "req-456"},
                body=json.dumps(body),
            )

    stub_info(page, live_server, "SmolLM2 (stand-in)")
    page.route("**/summarize/stream", stream)
    choose_abstractive(page, max_words=20, policy="flag")
    analyze(page, "The army said the bridge was destroyed overnight by a strike.")
    error = page.locator("#error")
    expect(error).to_be_visible()
    expect(error).to_contain_text(shown)
    expect(page.locator("#draft")).to_be_hidden()
    expect(page.locator("#submit")).to_be_enabled()
    if status == 422:
        expect(page.locator("#mode")).to_have_attribute("aria-invalid", "true")
