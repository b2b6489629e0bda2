"""Run checkpoints: everything needed to resume a run exactly where it stopped."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

CHECKPOINT = "checkpoint.pt"


def save_checkpoint(run_dir: Path, state: dict[str, Any]) -> None:
    """Write atomically, so a run killed mid-write keeps its previous checkpoint."""
    run_dir.mkdir(parents=True, exist_ok=True)
    tmp = run_dir / (CHECKPOINT + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, run_dir / CHECKPOINT)


def load_checkpoint(run_dir: Path) -> dict[str, Any] | None:
    path = run_dir / CHECKPOINT
    if not path.is_file():
        return None
    # weights_only: tensors, numbers, strings and containers; no pickled code.
    return torch.load(path, map_location="cpu", weights_only=True)
