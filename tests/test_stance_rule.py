"""The restated-agree chooser: both readings from one loaded model, the rule kept unless it lowers
the stance macro-F1, and the pairs it moves recorded."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from opslens.model.verifier import VerifierConfig
from opslens.training.stance_rule import choose, main


class Restating:
    """A model whose stance agrees with the headlines marked "restated" only while the rule is on."""

    def __init__(self) -> None:
        self.verifier = SimpleNamespace(config=VerifierConfig())

    def analyze(self, body: str, *, claims: list[str], max_sentences: int) -> Any:
        on = self.verifier.config.restated_agree
        labels = ["agree" if on and "restated" in c else "discuss" for c in claims]
        stances = [SimpleNamespace(label=lab, probabilities={lab: 0.7}, evidence=None) for lab in labels]
        return SimpleNamespace(claim_stances=stances)


def _rows(gold_of_restated: str) -> list[dict[str, str]]:
    return [
        {"id": "1", "headline": "restated claim", "body": "Body one.", "stance": gold_of_restated},
        {"id": "2", "headline": "other claim", "body": "Body one.", "stance": "discuss"},
        {"id": "3", "headline": "a third claim", "body": "Body two.", "stance": "agree"},
    ]


@pytest.mark.parametrize(("gold", "kept"), [("agree", True), ("discuss", False)])
def test_the_rule_is_kept_only_when_it_does_not_lower_the_macro_f1(gold: str, kept: bool) -> None:
    model = Restating()
    chosen = choose(model, _rows(gold), Path("fnc.jsonl"), "the command")  # type: ignore[arg-type]
    assert chosen["value"] is kept
    assert (chosen["stance_macro_f1"] > chosen["stance_macro_f1_without"]) is kept
    assert chosen["pairs"] == 3 and chosen["labels_changed"] == 1
    assert chosen["changed"] == [
        {"id": "1", "headline": "restated claim", "gold": gold, "without": "discuss", "with": "agree"}
    ]
    assert chosen["commands"] == ["the command"] and "FNC-1-format file fnc.jsonl" in chosen["method"]
    assert model.verifier.config.restated_agree is True  # the last reading was with the rule


def test_writing_a_decision_taken_on_part_of_the_file_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--limit", "10", "--write"])
    assert exc.value.code == 2 and "--write decides on the whole file" in capsys.readouterr().err
