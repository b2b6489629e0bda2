from __future__ import annotations

from opslens.model.text import classify_block, parse_document


def test_offsets_index_the_original_text(example_text: str) -> None:
    doc = parse_document(example_text)
    assert len(doc.sentences) > 20
    for s in doc.sentences:
        assert example_text[s.start : s.end] == s.text


def test_boilerplate_is_dropped_and_prose_kept(example_text: str) -> None:
    doc = parse_document(example_text)
    texts = " ".join(s.text for s in doc.sentences)
    assert "Source link" not in texts
    assert "click here" not in texts
    assert "Live Briefing" not in texts
    assert "WATCH:" not in texts
    assert "With reporting by" not in texts
    # Real article sentences survive, including the first and the last prose paragraph.
    assert "Zelenskiy says his forces have inflicted" in texts
    assert "February 24 will mark one year" in texts
    reasons = {d.reason for d in doc.dropped}
    assert {"boilerplate", "promo", "heading"} <= reasons


def test_sentences_are_split_with_abbreviations() -> None:
    text = "U.S. Secretary of State Antony Blinken warned China on Feb. 19. Beijing said it had no plans."
    doc = parse_document(text)
    assert [s.text for s in doc.sentences] == [
        "U.S. Secretary of State Antony Blinken warned China on Feb. 19.",
        "Beijing said it had no plans.",
    ]


def test_hard_wrapped_lines_are_joined_and_offsets_kept() -> None:
    text = (
        "Troops advanced toward the river\nbefore dawn on Sunday, officials said.\n"
        "The bridge was destroyed overnight."
    )
    doc = parse_document(text)
    assert len(doc.sentences) == 2
    first = doc.sentences[0]
    assert (
        text[first.start : first.end]
        == "Troops advanced toward the river\nbefore dawn on Sunday, officials said."
    )
    assert first.normalized == "Troops advanced toward the river before dawn on Sunday, officials said."


def test_binary_junk_yields_no_sentences() -> None:
    junk = "".join(chr(c) for c in range(0, 32)) * 20 + "\ufffd" * 50
    doc = parse_document(junk)
    assert doc.sentences == ()


def test_empty_and_whitespace() -> None:
    assert parse_document("").sentences == ()
    assert parse_document("  \n\n \t ").sentences == ()


def test_non_english_text_is_segmented_with_offsets() -> None:
    text = "Президент України заявив про значні втрати противника. Бої тривають біля Бахмута цього тижня."
    doc = parse_document(text)
    assert len(doc.sentences) == 2
    assert all(text[s.start : s.end] == s.text for s in doc.sentences)


def test_block_classification() -> None:
    assert classify_block("Source link") == "boilerplate"
    assert classify_block("For all of our coverage of the war, click here.") == "promo"
    assert classify_block("Russia Presses Ahead With Offensive In East") == "heading"
    assert classify_block("Russian forces have suffered massive losses in recent weeks.") is None
