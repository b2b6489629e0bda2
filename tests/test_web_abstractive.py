"""The analyst page's abstractive mode: POST /summarize/stream, read by the page as server-sent
events, in headless Chromium against the real server (a stand-in stream where the answer must be fixed).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, Route, expect
from webpage import CLAIM, HOSTILE, TITLE, analyze, expected, highlighted

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
    # Article sentences served in the room of dropped ones: marked as quoted, found in the article.
    quoted = page.locator("#summary li.quoted")
    assert quoted.locator("button.sentence").all_text_contents() == [q["text"] for q in f.get("quoted", [])]
    expect(quoted.locator(".tag")).to_have_text(["Quoted"] * len(f.get("quoted", [])))
    for i, q in enumerate(f.get("quoted", [])):
        assert highlighted(page, "summary", f"q{i}") == q["text"]
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
@pytest.mark.parametrize("action", ["dropped_sentences", "replaced_sentences", "fallback"])
def test_streamed_result_with_unsupported_spans(page: Page, live_server: str, action: str) -> None:
    """A stand-in stream (fixed answer, astral characters in the generated text and the article)
    drawn like a real one: draft, then result; the request carries the abstractive fields."""
    stub_info(page, live_server, "SmolLM2 (stand-in)")
    policy = "replace_sentence" if action == "replaced_sentences" else "drop_sentence"
    choose_abstractive(page, max_words=25, policy=policy)
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
    # replace_sentence: the extractive summary's last sentence served in the dropped ones' room.
    quoted = [art[-1]] if action == "replaced_sentences" else []
    served = " ".join([parts[2]] + [q["text"] for q in quoted])
    summary = extractive["summary"] if action == "fallback" else served
    detail = "2 unsupported span(s); stand-in detail"
    result = {
        **extractive,
        "mode": "abstractive",
        "summary": summary,
        "faithfulness": {
            "generated": generated,
            "summary": summary,
            "policy": policy,
            "action": action,
            "detail": detail,
            "alignment": "encoder",
            "sentences": sentences,
            "unsupported": unsupported,
            "quoted": quoted,
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
            "faithfulness_policy": policy,
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
