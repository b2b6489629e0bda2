"""Run under torchrun by tests/test_distributed.py (not a test module itself).

Trains both components through the real `opslens train` command inside one process group,
and records what each rank ended with, so the test can check the ranks agree.

    torchrun --standalone --nproc_per_node 2 tests/ddp_worker.py OUT_DIR NEWS FNC
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import torch

from opslens.cli import main
from opslens.training import distributed, extractive, stance
from opslens.training.loop import fit


def state_hash(state: dict[str, torch.Tensor]) -> str:
    h = hashlib.sha256()
    for name, tensor in sorted(state.items()):
        h.update(name.encode())
        h.update(tensor.detach().contiguous().numpy().tobytes())
    return h.hexdigest()


def recording_fit(out: Path, task_name: str):
    """The real `fit`, then this rank's final and best parameters as hashes."""

    def wrapped(task, cfg, *, resume=False):
        before = state_hash(task.model.state_dict())
        result = fit(task, cfg, resume=resume)
        record = {
            "rank": distributed.rank(),
            "world_size": distributed.world_size(),
            "initial": before,
            "final": state_hash(task.model.state_dict()),
            "best": state_hash(result.best_state),
            "steps": result.steps,
        }
        (out / f"{task_name}-rank{distributed.rank()}.json").write_text(json.dumps(record))
        return result

    return wrapped


def run(out: Path, news: Path, fnc: Path) -> None:
    extractive.fit = recording_fit(out, "extractive")
    stance.fit = recording_fit(out, "stance")
    common = ["--output-dir", str(out / "artifact"), "--threads", "1", "--seed", "3"]
    steps = ["--epochs", "2", "--batch-size", "4", "--eval-every", "2", "--checkpoint-every", "2"]
    for task, data in (("extractive", news), ("stance", fnc)):
        files = ["--train-file", str(data), "--validation-file", str(data), "--run-dir", str(out / task)]
        sizes = ["--max-train-examples", "10", "--max-validation-examples", "6"]
        assert main(["train", task, *files, *sizes, *common, *steps]) == 0


if __name__ == "__main__":
    out_dir, news_file, fnc_file = map(Path, sys.argv[1:4])
    with distributed.process_group():  # one group for both runs; the CLI's own is then a no-op
        run(out_dir, news_file, fnc_file)
