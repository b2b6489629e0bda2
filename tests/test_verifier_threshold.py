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
from opslens.training.verifier_threshold import balanced_accuracy, best_threshold, write


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
