"""The verifier's synthetic claims: each edit changes what it says it changes, and only that."""

from __future__ import annotations

import random

import pytest

from opslens.training.perturb import (
    CONTRADICTIONS,
    antonym,
    article_names,
    change_number,
    contradiction,
    drop_clause,
    names,
    swap_name,
    swap_two_names,
    toggle_negation,
)

SENTENCE = "Russian forces suffered heavy losses around Bakhmut, Ukraine's military said on Monday."
ARTICLE = [
    SENTENCE,
    "Vladimir Putin, the Russian president, did not attend the summit in Paris.",
    "The company reported a profit of £1,250,000 in March 2015.",
]


def rng() -> random.Random:
    return random.Random(7)


def test_names_skip_common_sentence_starts_and_possessives() -> None:
    assert [n for _, _, n in names(SENTENCE)] == ["Russian", "Bakhmut", "Ukraine"]
    assert [n for _, _, n in names("However, the Bank of England raised rates.")] == ["Bank of England"]
    assert names("The weather was cold on Monday.") == []


def test_article_names_in_order_of_first_mention() -> None:
    assert article_names(ARTICLE)[:4] == ["Russian", "Bakhmut", "Ukraine", "Vladimir Putin"]


def test_swap_name_uses_another_name_of_the_article() -> None:
    pool = article_names(ARTICLE)
    out = swap_name(SENTENCE, pool, rng())
    assert out is not None and out != SENTENCE
    new = set(n for _, _, n in names(out)) - set(n for _, _, n in names(SENTENCE))
    assert new and new <= set(pool)
    assert swap_name("The weather was cold.", pool, rng()) is None


def test_swap_two_names_exchanges_them_but_never_a_plain_list() -> None:
    assert swap_two_names("Manchester United beat Chelsea in the final.", rng()) == (
        "Chelsea beat Manchester United in the final."
    )
    assert swap_two_names("Russia and Ukraine held talks.", rng()) is None


@pytest.mark.parametrize(
    "sentence",
    ["The company reported a profit of £1,250,000.", "Sales rose 3.5% in 2015.", "It happened on Monday."],
)
def test_change_number_changes_exactly_one_figure_or_date(sentence: str) -> None:
    out = change_number(sentence, rng())
    assert out is not None and out != sentence
    assert len(out.split()) == len(sentence.split())
    assert sum(a != b for a, b in zip(out.split(), sentence.split(), strict=True)) == 1


def test_change_number_none_without_a_figure() -> None:
    assert change_number("The weather was cold.", rng()) is None


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        ("The minister has resigned.", "The minister has not resigned."),
        ("The minister has not resigned.", "The minister has resigned."),
        ("He can't say why.", "He can say why."),
        ("They didn't win.", "They did win."),
        ("He can attend.", "He cannot attend."),
    ],
)
def test_toggle_negation(sentence: str, expected: str) -> None:
    assert toggle_negation(sentence, rng()) == expected


def test_toggle_negation_none_without_an_auxiliary() -> None:
    assert toggle_negation("Troops crossed the river.", rng()) is None


def test_antonym_keeps_case() -> None:
    assert antonym("Shares rose sharply.", rng()) == "Shares fell sharply."
    assert antonym("Higher prices hit shoppers.", rng()) == "Lower prices hit shoppers."
    assert antonym("The cat sat.", rng()) is None


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        (
            "Vladimir Putin, the Russian president, did not attend the summit.",
            "Vladimir Putin did not attend the summit.",
        ),
        ("The firm reported a profit (about $1.6m) in March.", "The firm reported a profit in March."),
        ("On Tuesday, the shares rose after the results.", "The shares rose after the results."),
    ],
)
def test_drop_clause_keeps_an_entailed_sentence(sentence: str, expected: str) -> None:
    assert drop_clause(sentence, rng()) == expected


def test_drop_clause_none_when_nothing_to_drop() -> None:
    assert drop_clause("The shares rose after the results.", rng()) is None


def test_same_seed_same_edits() -> None:
    pool = article_names(ARTICLE)
    for kind in CONTRADICTIONS:
        assert contradiction(kind, SENTENCE, pool, random.Random(3)) == contradiction(
            kind, SENTENCE, pool, random.Random(3)
        )


def test_unknown_kind_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown perturbation"):
        contradiction("typo", SENTENCE, [], rng())
