"""The summarization suites' baselines and reference handling (eval/summarization.py)."""

from __future__ import annotations

from opslens.eval.summarization import lead_words, reference_lines


def test_lead_words_cuts_the_lead_at_the_budget() -> None:
    sentences = ["Russia pressed its offensive.", "Kyiv says the attacks failed.", "More came later."]
    assert lead_words(sentences, 6) == ["Russia pressed its offensive.", "Kyiv says"]
    assert lead_words(sentences, 0) == []
    assert lead_words(sentences, 100) == sentences


def test_bbc_references_are_split_where_sentences_are_glued() -> None:
    glued = 'Profits jumped 76% to $1.13bn.The firm said "sales rose."But costs grew.Costs fell in 2004.'
    assert reference_lines(glued).splitlines() == [
        "Profits jumped 76% to $1.13bn.",
        'The firm said "sales rose."',
        "But costs grew.",
        "Costs fell in 2004.",
    ]


def test_references_with_one_sentence_per_line_are_kept() -> None:
    highlights = "police say the man fled .\nhe was caught on tuesday ."
    assert reference_lines(highlights) == highlights
