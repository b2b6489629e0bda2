"""HTML in over the API: POST /summarize, /summarize/batch and /verify with `format: "html"`, on
the saved news pages of tests/data/html; the answer carries the extracted text its offsets index
and the page title, and every bad page is a 4xx naming the field, never a 500."""

from __future__ import annotations

import copy

import httpx
import pytest
from fastapi.testclient import TestClient
from test_html import CASES, NAV_ONLY, saved_page

from opslens.api.app import create_app
from opslens.api.settings import Limits, Settings

pytestmark = pytest.mark.slow

MALFORMED = "<html><body><p>Breaking: <b>unclosed</p><div><span>"  # parsed as browsers would: 2 words
LIMITS = Limits(max_body_bytes=400_000, max_text_chars=20_000, max_html_chars=100_000, max_batch_items=3)


@pytest.fixture(scope="module")
def client(model) -> TestClient:
    with TestClient(create_app(Settings(limits=LIMITS), model=model)) as c:
        yield c


def _problems(r: httpx.Response) -> list[tuple[list, str, str]]:
    return [(e["loc"], e["type"], e["msg"]) for e in r.json()["detail"]]


def test_summarize_html_returns_text_title_and_offsets_into_the_text(client: TestClient) -> None:
    body = {"text": saved_page("foxnews-dwts"), "format": "html", "max_sentences": 4}
    r = client.post("/summarize", json=body)
    assert r.status_code == 200, r.text
    body = r.json()
    title, kept, furniture = CASES["foxnews-dwts"]
    assert body["title"] == title and body["title_stance"]["claim"] == title
    assert kept[0] in body["text"] and "<" not in body["text"]
    assert len(body["sentences"]) == 4
    for s in body["sentences"]:
        assert body["text"][s["start"] : s["end"]] == s["text"]
    for junk in furniture:
        assert junk not in body["summary"]


def test_plain_text_answers_keep_their_shape(client: TestClient, example_text: str) -> None:
    body = client.post("/summarize", json={"text": example_text, "title": "Russia presses offensive"}).json()
    assert "text" not in body and "title" not in body
    body = client.post("/verify", json={"text": example_text, "claims": ["Russia attacked."]}).json()
    assert "text" not in body and "title" not in body


def test_batch_mixes_formats_and_names_the_page_without_an_article(client: TestClient, example_text) -> None:
    items = [{"text": example_text}, {"text": saved_page("aljazeera-helicopter"), "format": "html"}]
    r = client.post("/summarize/batch", json={"items": items})
    assert r.status_code == 200, r.text
    plain, html = r.json()["items"]
    assert "text" not in plain and html["title"] == CASES["aljazeera-helicopter"][0]
    r = client.post("/summarize/batch", json={"items": [*items, {"text": NAV_ONLY, "format": "html"}]})
    assert r.status_code == 422
    [(loc, kind, msg)] = _problems(r)
    assert loc == ["body", "items", "text"] and kind == "no_article" and msg.startswith("item 2: text: ")


def test_verify_html_evidence_indexes_the_extracted_text(client: TestClient) -> None:
    r = client.post(
        "/verify",
        json={"text": saved_page("ap-sondland"), "format": "html", "summary": "Sondland is an ambassador."},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["title"] == CASES["ap-sondland"][0]
    evidence = [ev for s in body["summary"] for ev in s["evidence"]]
    assert evidence and all(body["text"][ev["start"] : ev["end"]] == ev["text"] for ev in evidence)


@pytest.mark.parametrize("route", ["/summarize", "/verify"])
@pytest.mark.parametrize(
    ("payload", "loc", "kind", "needle"),
    [
        ({"text": NAV_ONLY, "format": "html"}, ["body", "text"], "no_article", "no article content"),
        ({"text": MALFORMED, "format": "html"}, ["body", "text"], "no_sentences", ""),
        ({"text": "\x00\x01\x02", "format": "html"}, ["body", "text"], "no_article", ""),
        ({"text": saved_page("ap-sondland"), "format": "pdf"}, ["body", "format"], "literal_error", "'html'"),
        ({"text": "x" * 100_001, "format": "html"}, ["body", "text"], "string_too_long", "max_html_chars"),
        ({"text": "x" * 20_001}, ["body", "text"], "string_too_long", "limits.max_text_chars"),
    ],
)
def test_bad_pages_are_422_naming_the_field(client: TestClient, route, payload, loc, kind, needle) -> None:
    if route == "/verify":
        payload = {**payload, "claims": ["Something happened."]}
    r = client.post(route, json=payload)
    assert r.status_code == 422, r.text
    [(got_loc, got_kind, msg)] = _problems(r)
    assert (got_loc, got_kind) == (loc, kind) and needle in msg


def test_html_over_the_body_limit_is_413(client: TestClient) -> None:
    r = client.post("/summarize", json={"text": "<p>" + "word " * 90_000 + "</p>", "format": "html"})
    assert r.status_code == 413
    assert "400000" in r.json()["detail"][0]["msg"]


def test_extracted_text_over_the_text_limit_is_422(model) -> None:
    """The text limit applies to the text extracted from a page: the server's model is loaded
    with it (app.load_model); here a copy of the test model gets a small one."""
    small = copy.copy(model)
    small.max_text_chars = 2_000
    with TestClient(create_app(Settings(limits=LIMITS), model=small)) as c:
        r = c.post("/summarize", json={"text": saved_page("foxnews-dwts"), "format": "html"})
        assert r.status_code == 422
        [(loc, kind, msg)] = _problems(r)
        assert loc == ["body", "text"] and kind == "text_too_long" and "over the limit of 2000" in msg
        r = c.post("/summarize", json={"text": saved_page("aljazeera-helicopter"), "format": "html"})
        assert r.status_code == 200


def test_real_server_reads_html_and_limits_the_extracted_text(serve) -> None:
    with serve(OPSLENS_LIMITS__MAX_TEXT_CHARS="2000") as server:
        r = httpx.post(
            f"{server.url}/summarize",
            json={"text": saved_page("aljazeera-helicopter"), "format": "html"},
            timeout=60,
        )
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["title"] == CASES["aljazeera-helicopter"][0]
        assert all(body["text"][s["start"] : s["end"]] == s["text"] for s in body["sentences"])
        assert "Afghan woman politician" not in body["summary"]
        html = saved_page("physorg-hibernation")
        r = httpx.post(f"{server.url}/summarize", json={"text": html, "format": "html"}, timeout=60)
        assert r.status_code == 422 and r.json()["detail"][0]["type"] == "text_too_long"
        r = httpx.post(f"{server.url}/summarize", json={"text": NAV_ONLY, "format": "html"}, timeout=60)
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "text"]
        info = httpx.get(f"{server.url}/info", timeout=10).json()
        assert info["limits"]["max_html_chars"] == 1_000_000


def test_page_switch_reads_a_web_page(page, live_server: str) -> None:
    """The analyst page: with "A web page" chosen, the HTML is sent with format html and the
    article is shown as extracted, its summary sentences highlighted in it, no menu in sight."""
    from playwright.sync_api import expect
    from webpage import analyze, expected, highlighted

    page.select_option("#format", "html")
    html = saved_page("physorg-hibernation")
    analyze(page, html)
    expect(page.locator("#status")).to_contain_text("Done", timeout=60_000)
    api = expected(live_server, page, format="html", max_sentences=3)
    assert html.startswith("<") and page.text_content("#article") == api["text"]
    sentences = [s["text"] for s in api["sentences"]]
    assert page.locator("#summary button.sentence").all_text_contents() == sentences
    for i, text in enumerate(sentences):
        assert highlighted(page, "summary", f"s{i}") == text
    for junk in CASES["physorg-hibernation"][2]:
        assert junk not in page.text_content("#article")
