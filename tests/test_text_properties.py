"""Property-based tests of model/text.py: whatever is pasted, parsing never fails and every
offset points back into the text exactly as sent."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from opslens.model.text import (
    HEADING_MAX_WORDS,
    MIN_SENTENCE_WORDS,
    Document,
    classify_block,
    is_summary_candidate,
    parse_document,
    words,
)

# Bounded so the whole file runs in seconds: pysbd is slow on long texts.
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Fragments that exercise the cleaner's special cases: every newline style, NULs and
# other control characters, boilerplate and promo openers, abbreviations, emoji and
# combining marks, right-to-left text, and Unicode line/paragraph separators.
SPECIAL = st.sampled_from(
    [
        "\n",
        "\n\n",
        "\r\n",
        "\r\n\r\n",
        "\r",
        "\n \t\n",
        "\x00",
        "\x0b",
        "\x0c",
        "\x1b[0m",
        "\u2028",
        "\u2029",
        "\x85",
        "\ufeff",
        "\ufffd",
        "\u200b",
        " ",
        "  ",
        "\t",
        ". ",
        "? ",
        "! ",
        "...",
        "…",
        "\u201d",
        "U.S. ",
        "Feb. 19. ",
        "e.g. ",
        "Mr. ",
        "3.5 ",
        "Source link",
        "Live Briefing: ",
        "click here",
        "WATCH: ",
        "© ",
        "Reporting by ",
        "The army said the bridge was destroyed overnight. ",
        "Officials in Kyiv confirmed the attack on Sunday evening. ",
        "🇺🇦 ",
        "👩‍👩‍👧 ",
        "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 ",
        "e\u0301 ",
        "مرحبا بالعالم. ",
        "日本語の文。",
    ]
)
LONG_WORD = st.text(alphabet=st.characters(codec="utf-8", categories=["L", "N"]), min_size=100, max_size=3000)
# st.text() draws any code point except surrogates (which a JSON/UTF-8 body cannot carry).
PASTE = st.lists(st.one_of(st.text(max_size=60), SPECIAL, LONG_WORD), max_size=40).map("".join)


def check_invariants(source: str, doc: Document) -> None:
    assert doc.source is source
    previous_end = 0
    for s in doc.sentences:
        # The documented contract: text is source[start:end], untouched ...
        assert 0 <= s.start < s.end <= len(source)
        assert source[s.start : s.end] == s.text
        # ... trimmed, in order, not overlapping the previous sentence ...
        assert s.text == s.text.strip()
        assert s.start >= previous_end
        previous_end = s.end
        # ... and only sentences worth summarising are kept.
        assert is_summary_candidate(s)
        assert len(words(s.text)) >= MIN_SENTENCE_WORDS
        assert s.normalized == " ".join(s.normalized.split()) and "\n" not in s.normalized
    previous_end = 0
    for d in doc.dropped:
        assert 0 <= d.start < d.end <= len(source) and d.start >= previous_end
        previous_end = d.end
        assert d.reason in {"boilerplate", "promo", "heading", "junk"}
        dropped = source[d.start : d.end]
        assert dropped == dropped.strip()
        # A dropped block never also yields sentences.
        assert not any(s.start < d.end and d.start < s.end for s in doc.sentences)


@FAST
@given(st.text())
def test_any_text_parses_with_valid_offsets(source: str) -> None:
    check_invariants(source, parse_document(source))


@FAST
@given(PASTE)
def test_pasted_mixtures_parse_with_valid_offsets(source: str) -> None:
    check_invariants(source, parse_document(source))


@FAST
@given(st.text(alphabet=st.characters(categories=["Cc", "Zs", "Zl", "Zp", "Co", "Cf"]), max_size=500))
def test_control_and_space_only_text_has_no_sentences(source: str) -> None:
    doc = parse_document(source)
    check_invariants(source, doc)
    assert doc.sentences == ()


WORD = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=3, max_size=9)
# Prose the cleaner must keep: hypothesis does spell "copyright ..." or "click here" by chance.
PROSE = (
    st.lists(WORD, min_size=MIN_SENTENCE_WORDS, max_size=HEADING_MAX_WORDS)
    .map(lambda ws: " ".join(ws).capitalize() + ".")
    .filter(lambda p: classify_block(p) is None)
)
PARAGRAPH_BREAK = st.sampled_from(["\n\n", "\r\n\r\n", "\n \n", "\n\t\n\n", "\n\n\n"])


@FAST
@given(st.lists(st.tuples(PROSE, PARAGRAPH_BREAK), min_size=1, max_size=8), st.sampled_from(["", " ", "\n"]))
def test_plain_paragraphs_come_back_exactly(paragraphs: list[tuple[str, str]], lead: str) -> None:
    """One plain sentence per paragraph, any paragraph break: each is found, at its own offsets."""
    expected = [p for p, _ in paragraphs]
    source = lead + "".join(p + brk for p, brk in paragraphs)
    doc = parse_document(source)
    check_invariants(source, doc)
    assert [s.text for s in doc.sentences] == expected
    starts, at = [], 0
    for p, brk in paragraphs:
        starts.append(source.index(p, at))
        at = starts[-1] + len(p) + len(brk)
    assert [s.start for s in doc.sentences] == starts


@FAST
@given(PROSE, st.sampled_from(["🇺🇦", "😀", "𝔘", "👩‍👩‍👧", "\x00", "<b>x</b>"]))
def test_astral_and_markup_characters_keep_code_point_offsets(prose: str, insert: str) -> None:
    """Offsets count code points (Python str indices), so an emoji before a sentence shifts
    it by len(emoji) in Python, whatever its UTF-16 or UTF-8 length."""
    source = f"{insert} {prose}\n\n{prose}"
    doc = parse_document(source)
    check_invariants(source, doc)
    assert doc.sentences[-1].start == len(insert) + 1 + len(prose) + 2
    assert doc.sentences[-1].text == prose
