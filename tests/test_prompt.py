"""The generator's v2 input (extract, then write): which sentences a prompt quotes, and how
training articles are scored so the reference's content is among them. Any tokenizer shows
the selection; the encoder's small one is used here (the generator's needs the base model)."""

from __future__ import annotations

import pytest

from opslens.model.extractive_encoder import tokenizer
from opslens.model.prompt import Source, select_extract
from opslens.training.abstractive import scored_sources

SENTENCES = (
    "Russian forces shelled the city of Kherson on Sunday.",
    "The weather was mild and the markets were open as usual across the region that morning.",
    "Three people were killed, officials said.",
    "The governor called for calm.",
)


def _tokens(text: str) -> int:
    return len(tokenizer()(text, add_special_tokens=False)["input_ids"])


def test_best_scored_sentences_are_quoted_in_article_order() -> None:
    budget = _tokens(SENTENCES[0]) + _tokens(SENTENCES[2])
    text, kept = select_extract(tokenizer(), SENTENCES, (0.6, 0.1, 0.9, 0.2), budget)
    assert text == f"{SENTENCES[0]} {SENTENCES[2]}" and kept == budget


def test_a_sentence_over_the_budget_is_passed_over_for_shorter_ones() -> None:
    budget = _tokens(SENTENCES[2]) + _tokens(SENTENCES[3])
    text, _ = select_extract(tokenizer(), SENTENCES, (0.1, 0.9, 0.8, 0.2), budget)
    assert text == f"{SENTENCES[2]} {SENTENCES[3]}"  # the best one (1) is too long to fit


def test_unscored_sources_quote_the_lead_and_nothing_fitting_cuts_the_best() -> None:
    text, _ = select_extract(tokenizer(), SENTENCES, None, _tokens(SENTENCES[0]))
    assert text == SENTENCES[0]
    text, kept = select_extract(tokenizer(), SENTENCES, (0.0, 1.0, 0.0, 0.0), 4)
    assert kept == 4 and SENTENCES[1].startswith(text) and text != SENTENCES[1]
    assert select_extract(tokenizer(), (), None, 10) == ("", 0)
    with pytest.raises(ValueError, match="budget"):
        select_extract(tokenizer(), SENTENCES, None, 0)


def test_source_checks_its_scores_and_lowers_title_and_sentences() -> None:
    with pytest.raises(ValueError, match="3 scores for 4 sentences"):
        Source(SENTENCES, (0.1, 0.2, 0.3))
    low = Source(SENTENCES, None, "Kherson Shelled").lower()
    assert low.title == "kherson shelled" and low.sentences[0].startswith("russian forces")
    assert Source.of(" ".join(SENTENCES)).sentences == SENTENCES


def test_training_puts_the_references_oracle_sentences_first() -> None:
    article = " ".join(SENTENCES)
    [[sentences, scores]] = scored_sources(
        [article], ["Three people were killed in Kherson."], selector=None, oracle_sentences=3
    )
    assert tuple(sentences) == SENTENCES
    best = max(range(len(scores)), key=scores.__getitem__)
    assert best == 2 and scores[best] >= 1.0 and min(scores) == 0.0
