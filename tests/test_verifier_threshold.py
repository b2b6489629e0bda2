"""The summary consistency threshold: chosen by balanced accuracy, stored in verifier.json
without touching the weights' hash, and rendered in the model card."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from opslens.model.artifact import SHIPPED_ARTIFACT, load_component_state, verify_artifact
from opslens.model.verifier import COMPONENT, VerifierConfig
from opslens.training.verifier_contrast import ContrastReadings, choose_name_contrast
from opslens.training.verifier_threshold import RULES, balanced_accuracy, best_threshold, main, write


def test_best_threshold_maximises_balanced_accuracy() -> None:
    scores = np.array([0.1, 0.2, 0.3, 0.35, 0.6, 0.7, 0.9])
    positive = np.array([False, False, False, True, True, False, True])
    threshold, acc = best_threshold(scores, positive)
    assert 0.3 < threshold <= 0.35 and acc == balanced_accuracy(positive, scores >= threshold)
    assert acc == max(balanced_accuracy(positive, scores >= t) for t in np.linspace(0, 1, 101))
    # Imbalance does not pull it: one positive among many negatives still counts half.
    positive, predicted = np.array([True, False, False, False]), np.array([True, True, False, False])
    assert balanced_accuracy(positive, predicted) == (1 + 2 / 3) / 2


def test_write_keeps_the_weights_hash_and_renders_the_card(tmp_path: Path) -> None:
    folder = tmp_path / "artifact"
    shutil.copytree(SHIPPED_ARTIFACT, folder)
    training = json.loads((folder / f"{COMPONENT}.json").read_text())["training"]
    chosen, veto = training["consistency_threshold"], training["stance_veto"]
    write(
        folder, {"consistency_threshold": {**chosen, "value": 0.4321}, "stance_veto": {**veto, "value": 0.85}}
    )
    verify_artifact(folder, [COMPONENT])
    _, config = load_component_state(folder, COMPONENT, VerifierConfig)
    assert config.consistency_threshold == 0.4321 and config.stance_veto == 0.85
    card = (folder / "MODEL_CARD.md").read_text()
    assert "consistency threshold: **0.4321**" in card and "Stance veto: **0.85**" in card


@pytest.mark.parametrize("key", ["consistency_threshold", "stance_veto"])
def test_shipped_values_were_chosen_on_validation_pairs(key: str) -> None:
    meta = json.loads((SHIPPED_ARTIFACT / f"{COMPONENT}.json").read_text())
    chosen = meta["training"][key]
    assert meta["config"][key] == chosen["value"]
    # One pairs file (as 1.2.0 recorded it) or several (a fine-tune's own and its start's).
    files = chosen["data"] if isinstance(chosen["data"], list) else [chosen["data"]]
    assert all(f["split"] == "validation" for f in files)
    assert meta["training"]["data"]["validation"]["sha256"] in {f["sha256"] for f in files}
    assert "factcheck" not in json.dumps(chosen) and "fnc1_test" not in json.dumps(chosen)


def _readings(gain: list[float]) -> ContrastReadings:
    # Two supported claims and two others, all read as supported (0.8) without the contrast; a
    # contrasted claim reads 0.1. The contrast catches the others (gain 0.3) but also one
    # supported claim at a smaller gain (0.08).
    g = np.array(gain)
    return ContrastReadings(
        plain=np.full(4, 0.8),
        contrasted=np.where(np.isfinite(g), 0.1, 0.8),
        gain=g,
        positive=np.array([True, True, False, False]),
        sources=np.array(["sentence", "sentence", "name_swap", "name_swap"]),
    )


def test_name_contrast_margin_is_the_largest_that_helps_most() -> None:
    chosen = choose_name_contrast(_readings([-np.inf, 0.08, 0.3, 0.3]), 0.5, [Path("c.json")], "cmd")
    # 0.1 to 0.3 catch both swaps and spare the supported claim; of equally good ones, the largest.
    assert chosen["value"] == 0.3 and chosen["balanced_accuracy"] == 100.0
    assert chosen["balanced_accuracy_without"] == 50.0 and chosen["by_margin"]["0.05"] == 75.0
    assert chosen["passed_by_source"] == {"name_swap": 0.0, "sentence": 1.0}
    # A contrast that never separates them is left off.
    assert choose_name_contrast(_readings([0.3, 0.3, 0.3, 0.3]), 0.5, [], "cmd")["value"] is None


def test_shipped_name_contrast_was_chosen_on_validation_claims() -> None:
    meta = json.loads((SHIPPED_ARTIFACT / f"{COMPONENT}.json").read_text())
    chosen = meta["training"]["name_contrast"]
    assert meta["config"]["name_contrast"] == chosen["value"] is not None
    assert meta["config"]["consistency_threshold"] == chosen["threshold"]
    # The margin was chosen with the rules the artifact serves (its variants, which it reads, the
    # misnamed rule that reads the same claims before it), each stored beside it.
    for key, (flag, _) in RULES.items():
        served = meta["config"].get(key, False)
        assert meta["training"].get(key, {"value": False})["value"] == served
        if key in meta["training"]:
            assert f"{flag} {'on' if served else 'off'}" in chosen["command"]
    assert chosen["balanced_accuracy"] > chosen["balanced_accuracy_without"]
    # The claims come from the configs' validation articles; the configs are in the repository.
    root = Path(__file__).resolve().parents[1]
    assert chosen["configs"] and all((root / c).is_file() for c in chosen["configs"])
    assert "factcheck" not in json.dumps(chosen) and "fnc1_test" not in json.dumps(chosen)


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        # The artifact holds one margin, chosen on torch's reading: another backend's reading is
        # printed for comparison, never written, and never chooses the threshold or the veto.
        (["--backend", "onnx"], "--contrast-only, no --write"),
        (["--backend", "onnx", "--contrast-only", "--claims-config", "c.json", "--write"], "no --write"),
        # The margin is chosen on the claims of training configs; without them there is nothing.
        (["--contrast-only"], "--contrast-only needs --claims-config"),
    ],
)
def test_flags_that_cannot_work_are_refused_before_loading(flags: list[str], message: str, capsys) -> None:
    with pytest.raises(SystemExit):
        main(flags)
    assert message in capsys.readouterr().err
