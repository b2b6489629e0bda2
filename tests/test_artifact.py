from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from opslens.model.artifact import ArtifactError, init_artifact, load_component, save_component
from opslens.model.card import write_card
from opslens.model.extractive import ExtractiveConfig, ExtractiveScorer
from opslens.model.pipeline import OpsLens

SMALL = ExtractiveConfig(input_dim=8, d_model=16, heads=2, ff_dim=32)


def _saved(tmp_path: Path) -> tuple[Path, ExtractiveScorer]:
    folder = tmp_path / "artifact"
    init_artifact(folder, "test", "0.1.0")
    model = ExtractiveScorer(SMALL)
    save_component(folder, "extractive", model, SMALL, {"command": "test", "metrics": {"rouge1": 1.0}})
    write_card(folder)
    return folder, model


def test_roundtrip_restores_fp16_weights_exactly(tmp_path: Path) -> None:
    folder, model = _saved(tmp_path)
    loaded, config = load_component(folder, "extractive", ExtractiveScorer, ExtractiveConfig)
    assert config == SMALL
    for name, tensor in model.state_dict().items():
        torch.testing.assert_close(loaded.state_dict()[name], tensor.half().float(), rtol=0, atol=0)
    card = (folder / "MODEL_CARD.md").read_text()
    assert "extractive" in card and "rouge1" in card


def test_corrupt_weights_are_refused(tmp_path: Path) -> None:
    folder, _ = _saved(tmp_path)
    weights = folder / "extractive.safetensors"
    weights.write_bytes(weights.read_bytes()[:-10] + b"0123456789")
    with pytest.raises(ArtifactError, match="checksum"):
        load_component(folder, "extractive", ExtractiveScorer, ExtractiveConfig)


def test_missing_and_malformed_artifacts_are_clear(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match="not found"):
        OpsLens.load(tmp_path / "nowhere")
    folder, _ = _saved(tmp_path)
    with pytest.raises(ArtifactError, match="lacks component"):
        OpsLens.load(folder)
    (folder / "manifest.json").write_text("{oops")
    with pytest.raises(ArtifactError, match="not valid JSON"):
        OpsLens.load(folder)


def test_config_mismatch_is_clear(tmp_path: Path) -> None:
    folder, _ = _saved(tmp_path)
    meta = json.loads((folder / "extractive.json").read_text())
    meta["config"]["d_model"] = 32
    (folder / "extractive.json").write_text(json.dumps(meta))
    with pytest.raises(ArtifactError, match="do not fit"):
        load_component(folder, "extractive", ExtractiveScorer, ExtractiveConfig)
