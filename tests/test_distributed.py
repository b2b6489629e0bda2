"""Data-parallel training: two CPU processes under torchrun (gloo) train both components
through the unchanged `opslens train` command and end with identical parameters."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from opslens.training import distributed

ROOT = Path(__file__).resolve().parents[1]
EVAL_DATA = ROOT / "eval" / "data"


def test_single_process_shard_is_the_whole_batch() -> None:
    assert distributed.world_size() == 1
    assert distributed.shard([5, 1, 4]) == [5, 1, 4]


@pytest.mark.slow
def test_two_ranks_train_to_identical_parameters(tmp_path: Path) -> None:
    env = os.environ | {"OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false", "HF_HUB_OFFLINE": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    worker = [str(ROOT / "tests" / "ddp_worker.py"), str(tmp_path)]
    data = [str(EVAL_DATA / "news_heldout.jsonl.gz"), str(EVAL_DATA / "fnc1_heldout.jsonl.gz")]
    proc = subprocess.run([*cmd, *worker, *data], env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]

    for task in ("extractive", "stance"):
        ranks = [json.loads((tmp_path / f"{task}-rank{r}.json").read_text()) for r in (0, 1)]
        assert [r["world_size"] for r in ranks] == [2, 2]
        assert ranks[0]["final"] != ranks[0]["initial"], f"{task}: training changed nothing"
        for key in ("initial", "final", "best", "steps"):
            assert ranks[0][key] == ranks[1][key], f"{task}: ranks disagree on {key}"
        meta = json.loads((tmp_path / "artifact" / f"{task}.json").read_text())
        assert meta["training"]["processes"] == 2
        if task == "extractive":
            # Global batches keep their size, so the ranks take the steps one process would:
            # 10 articles in batches of 4, for 2 epochs. (The stance split's size varies.)
            assert ranks[0]["steps"] == 6
        # Only rank 0 logs: each evaluation once, not once per rank.
        log = (tmp_path / task / "train_log.jsonl").read_text().splitlines()
        eval_steps = [json.loads(line)["step"] for line in log if '"eval"' in line]
        assert eval_steps == sorted(set(eval_steps)) and eval_steps[-1] == ranks[0]["steps"]
