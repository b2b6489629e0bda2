from __future__ import annotations

import pytest

from opslens.eval.rouge import rouge_per_example, rouge_with_ci
from opslens.eval.stance_metrics import fnc_score, stance_metrics


def test_fnc_score_hand_computed() -> None:
    gold = ["agree", "discuss", "unrelated", "disagree"]
    pred = ["agree", "agree", "unrelated", "unrelated"]
    # max = 3 related * 1.0 + 1 unrelated * 0.25 = 3.25
    # got = agree 1.0 + discuss->agree 0.25 + unrelated 0.25 + disagree->unrelated 0 = 1.5
    assert fnc_score(gold, pred) == pytest.approx(100 * 1.5 / 3.25)


def test_stance_metrics_per_class_and_confusion() -> None:
    gold = ["agree", "agree", "disagree", "discuss", "unrelated", "unrelated"]
    pred = ["agree", "discuss", "disagree", "discuss", "unrelated", "agree"]
    m = stance_metrics(gold, pred)
    assert m["accuracy"] == pytest.approx(100 * 4 / 6)
    # agree: tp 1, predicted 2, actual 2 -> P = R = F1 = 50
    assert m["per_class"]["agree"]["f1"] == pytest.approx(50.0)
    assert m["per_class"]["disagree"]["f1"] == pytest.approx(100.0)
    assert m["confusion"]["matrix"][0] == [1, 0, 1, 0]
    assert m["macro_f1"] == pytest.approx((50 + 100 + 100 * 2 / 3 + 100 * 2 / 3) / 4)


def test_rouge_hand_computed() -> None:
    # pred unigrams: the cat sat (3); ref: the cat ran away (4); overlap 2 -> P 2/3, R 1/2
    [scores] = rouge_per_example(["the cat sat"], ["the cat ran away"])
    assert scores["rouge1"] == pytest.approx(100 * 2 * (2 / 3) * 0.5 / (2 / 3 + 0.5))
    assert scores["rouge2"] == pytest.approx(100 * 2 * 0.5 * (1 / 3) / (0.5 + 1 / 3))


def test_rouge_ci_brackets_the_mean() -> None:
    preds = ["the cat sat", "a dog ran", "birds fly south", "the cat ran away"]
    refs = ["the cat ran away", "a dog ran home", "birds fly", "the cat ran away"]
    ci = rouge_with_ci(preds, refs, n_samples=200)
    for figures in ci.values():
        assert figures["low"] <= figures["f1"] <= figures["high"]
