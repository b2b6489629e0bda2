"""HTML in: real saved news pages (tests/data/html, see SOURCES.md there) through the extractor,
the pipeline, the CLI and the batch records; the HTTP side is in test_html_api.py."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from opslens.batch.records import Columns, Item, parse_line
from opslens.model.errors import ExtractedTextTooLongError, HtmlError, NoArticleError
from opslens.model.html import extract_page, read_pages
from opslens.model.options import DEFAULT_FORMAT, FORMATS
from opslens.model.pipeline import AnalysisRequest
from opslens.model.verification import VerifyRequest

PAGES = Path(__file__).parent / "data" / "html"


def saved_page(name: str) -> str:
    with gzip.open(PAGES / f"{name}.html.gz", "rt", encoding="utf-8") as f:
        return f.read()


# Per page: its headline, sentences of the article that must be kept, and furniture on the page
# (menus, banners, captions, link lists) that must not reach the text. Each furniture string is
# checked to be in the HTML, so a test cannot pass because the page lacks it.
CASES = {
    "physorg-hibernation": (
        "Hibernating astronauts would need smaller spacecraft",
        [
            "Now ESA has investigated how real life crew hibernation would impact space mission design.",
            "starting with animals and proceeding to people.",
        ],
        [
            "This site uses cookies to assist with navigation",  # cookie banner
            "Related Stories",
            "Unravelling the neural network of torpor",  # a related story's link
            "Recommended for you",
            "Infants from 2100 years ago found with helmets",  # "Popular" list
            "Nanotechnology",  # topic menu
            "Forget Password?",  # sign-in box
            "Newsletter sign up",
            "Credit: ESA",  # figure captions
            "Your friend's email",  # e-mail-the-story form
        ],
    ),
    "foxnews-dwts": (
        "James Van Der Beek eliminated from 'Dancing with the Stars' after announcing wife suffered "
        "miscarriage",
        ["James Van Der Beek has been eliminated from “Dancing with the Stars.”"],
        [
            "Hot Topics",
            "Personal Freedoms",  # one of 28 <nav> menus
            "SEAN SPICER ELIMINATED FROM 'DANCING WITH THE STARS'",  # links to other stories, in the text
            "Closed Captioning Policy",
            "Expand / Collapse search",
        ],
    ),
    "aljazeera-helicopter": (
        "US service members killed in Afghanistan helicopter crash",
        ["It was not possible to independently verify the group's claim."],
        [
            "Afghan woman politician sees Taliban talks as only hope",  # "More:" related links
            "China invites Taliban, Afghan officials for two-day talks",
            "Cookie Preferences",
            "Featured Documentaries",
            # a photo caption
            "18 years after Washington invaded the country 2001",
        ],
    ),
    "ap-sondland": (
        "Unpredictable Sondland faces questions about Trump, Ukraine",
        ["WASHINGTON (AP) — Ambassador Gordon Sondland, the most anticipated witness"],
        [],
    ),
}
NAV_ONLY = (
    "<html><body><nav><a href='/'>Home</a> <a href='/w'>World news and politics today</a></nav></body></html>"
)


def test_format_vocabulary() -> None:
    assert FORMATS == ("text", "html") and DEFAULT_FORMAT == "text"
    assert AnalysisRequest(text="x").format == VerifyRequest(text="x").format == "text"


@pytest.mark.parametrize("name", sorted(CASES))
def test_extraction_keeps_the_article_and_drops_the_furniture(name: str) -> None:
    html = saved_page(name)
    title, kept, furniture = CASES[name]
    got = extract_page(html)
    assert got.title == title
    for sentence in kept:
        assert sentence in got.text
    squashed = " ".join(html.split())
    for junk in furniture:
        assert junk in squashed or junk.replace("'", "&#39;") in squashed, f"not on the page: {junk!r}"
        assert junk not in got.text, junk


def test_a_page_of_menus_has_no_article() -> None:
    with pytest.raises(NoArticleError, match=r"text: .*no article content"):
        extract_page(NAV_ONLY)


@pytest.mark.parametrize("junk", ["", "\x00\x01", "</html>", "<html><head><title>T</title></head></html>"])
def test_pages_without_text_have_no_article(junk: str) -> None:
    with pytest.raises(NoArticleError):
        extract_page(junk)


def test_a_feed_item_fragment_is_read() -> None:
    got = extract_page("<p>The council approved the budget on Monday.</p><p>It takes effect in May.</p>")
    assert got.text == "The council approved the budget on Monday.\nIt takes effect in May."
    assert got.title is None


TAGS = ["<p>", "</p>", "<html>", "<body>", "<!--", "<script>", "<nav>", "<?xml encoding='utf-8'?>", "\ud800"]
PIECES = st.sampled_from([*"<>/ab =\"'!-?&;#\x00\x0b\n\ufffeé", *TAGS])


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(st.lists(PIECES, max_size=60).map("".join))
def test_any_input_is_a_page_or_a_typed_error(html: str) -> None:
    try:
        got = extract_page(html)
    except HtmlError:
        return
    assert got.text.strip()


def test_read_pages_names_the_item_and_the_limit() -> None:
    good = AnalysisRequest(text=saved_page("aljazeera-helicopter"), format="html")
    plain = AnalysisRequest(text=NAV_ONLY)  # format text: not extracted
    pages = read_pages([plain, good])
    assert pages[0] is None and pages[1] is not None
    with pytest.raises(NoArticleError, match=r"^item 1: text: "):
        read_pages([good, AnalysisRequest(text=NAV_ONLY, format="html")])
    with pytest.raises(ExtractedTextTooLongError, match=r"is \d+ characters, over the limit of 500"):
        read_pages([good], max_chars=500)


def test_batch_lines_take_a_format_column() -> None:
    html = saved_page("ap-sondland")
    columns = Columns(text="body", format="kind")
    item = parse_line(json.dumps({"id": 1, "body": html, "kind": "html"}), columns, 3)
    assert isinstance(item, Item) and item.request().format == "html"
    assert parse_line(json.dumps({"text": "Plain."}), Columns(), 3).request().format == "text"  # type: ignore[union-attr]
    bad = parse_line(json.dumps({"id": 2, "text": html, "format": "pdf"}), Columns(), 3)
    assert bad == {"id": 2, "error": {"type": "invalid", "message": bad["error"]["message"]}}  # type: ignore[index]
    assert bad["error"]["message"].startswith("format: ")  # type: ignore[index]


@pytest.mark.slow
def test_summary_of_a_furnished_page_holds_none_of_the_furniture(model) -> None:
    plain, html = model.analyze_batch(
        [
            AnalysisRequest(text=saved_page("aljazeera-helicopter"), title="Helicopter crash in Afghanistan"),
            AnalysisRequest(text=saved_page("physorg-hibernation"), format="html", max_sentences=5),
        ]
    )
    # The same page as plain text: the pipeline reads the raw markup, and the answer keeps its
    # plain-text shape (no `text`, no `title`).
    assert not {"text", "title"} & set(json.loads(plain.model_dump_json()))
    title, _, furniture = CASES["physorg-hibernation"]
    assert html.title == title and html.title_stance is not None  # the page's title stands in
    assert html.text == extract_page(saved_page("physorg-hibernation")).text
    assert all(html.text[s.start : s.end] == s.text for s in html.sentences)
    for junk in furniture:
        assert junk not in html.summary
    assert "hibernation" in html.summary.lower()


@pytest.mark.slow
def test_the_callers_title_wins_and_verify_reads_html(model) -> None:
    request = AnalysisRequest(text=saved_page("ap-sondland"), title="Sondland testifies", format="html")
    [result] = model.analyze_batch([request])
    assert result.title == "Sondland testifies"
    [check] = model.verify_batch(
        [VerifyRequest(text=saved_page("ap-sondland"), summary="Sondland is a witness.", format="html")]
    )
    assert check.title == CASES["ap-sondland"][0]
    for statement in check.summary:
        for ev in statement.evidence:
            assert check.text is not None and check.text[ev.start : ev.end] == ev.text


@pytest.mark.slow
def test_cli_summarize_html_file(tmp_path: Path) -> None:
    saved = tmp_path / "page.html"
    saved.write_text(saved_page("foxnews-dwts"), encoding="utf-8")
    run = subprocess.run(
        [sys.executable, "-m", "opslens.cli", "summarize", "--html", str(saved)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    assert out["title"] == CASES["foxnews-dwts"][0]
    assert all(out["text"][s["start"] : s["end"]] == s["text"] for s in out["sentences"])
    assert "Hot Topics" not in out["summary"] and "Van Der Beek" in out["summary"]
    saved.write_text(NAV_ONLY, encoding="utf-8")
    run = subprocess.run(
        [sys.executable, "-m", "opslens.cli", "summarize", "--html", str(saved)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 1 and "no article content" in run.stderr
