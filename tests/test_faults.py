"""Faults: a training run killed mid-way resumes from its last checkpoint; so does a batch run,
from where its output stops; a server given a broken artifact refuses to start with one clear
line; weights only ever load from safetensors."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from opslens.eval.loadgen import free_port
from opslens.model.artifact import SHIPPED_ARTIFACT, ArtifactError, load_component, verify_artifact
from opslens.model.extractive import ExtractiveConfig, ExtractiveScorer
from opslens.model.loading import COMPONENTS
from opslens.model.stance import StanceClassifier, StanceConfig
from opslens.training.checkpoint import CHECKPOINT, load_checkpoint
from opslens.training.loop import LOG

EVERY = 10  # --checkpoint-every: at most this many steps may be lost
EPOCHS = 30  # x 8 rows, batch size 1: 240 steps, long enough to be killed mid-way


def _log(run_dir: Path) -> list[dict]:
    path = run_dir / LOG
    if not path.is_file():
        return []
    # The last line may be half-written when the process is killed.
    return [json.loads(line) for line in path.read_text().splitlines() if line.endswith("}")]


def _train_command(tiny_data, run_dir: Path, out: Path, *extra: str) -> list[str]:
    config = run_dir.parent / "stance-config.json"
    # The validation file as given: the story split needs more stories than 8 rows hold.
    config.write_text(json.dumps({"validation_split": "file", "seed": 13}))
    return [
        sys.executable,
        "-m",
        "opslens.cli",
        "train",
        "stance",
        "--config",
        str(config),
        "--train-file",
        str(tiny_data.fnc),
        "--validation-file",
        str(tiny_data.fnc),
        "--run-dir",
        str(run_dir),
        "--output-dir",
        str(out),
        "--epochs",
        str(EPOCHS),
        "--batch-size",
        "1",
        "--checkpoint-every",
        str(EVERY),
        # Evaluating every step logs every step, so the log shows how far the run got.
        "--eval-every",
        "1",
        "--threads",
        "1",
        *extra,
    ]


def _run(command: list[str]) -> subprocess.CompletedProcess:
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def _weights(folder: Path) -> dict[str, torch.Tensor]:
    return load_file(str(folder / "stance.safetensors"))


@pytest.mark.slow
def test_killed_training_resumes_from_its_last_checkpoint(tmp_path: Path, tiny_data) -> None:
    run_dir, out = tmp_path / "run", tmp_path / "artifact"
    proc = subprocess.Popen(
        _train_command(tiny_data, run_dir, out), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and proc.poll() is None:
            checkpoint = load_checkpoint(run_dir) if (run_dir / CHECKPOINT).is_file() else None
            steps = [r["step"] for r in _log(run_dir) if r.get("event") == "eval"]
            if checkpoint is not None and steps and steps[-1] > checkpoint["step"]:
                break  # a checkpoint exists and training has gone past it
            time.sleep(0.01)
        assert proc.poll() is None, "training ended before it could be killed mid-way"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    reached = max(r["step"] for r in _log(run_dir) if r.get("event") == "eval")
    assert reached < EPOCHS * len(tiny_data.stances)
    assert not out.exists(), "a killed run must not write the component"

    _run(_train_command(tiny_data, run_dir, out, "--resume"))
    resumed = [r for r in _log(run_dir) if r.get("event") == "resume"]
    assert len(resumed) == 1
    start = resumed[0]["step"]
    # Resumed at a checkpoint, at most one checkpoint interval behind where the run was killed
    # (one more step may have finished unlogged; a kill during a checkpoint write keeps the previous one).
    assert start % EVERY == 0 and 0 < start <= reached + 1
    assert reached + 1 - start <= EVERY, (reached, start)
    meta = json.loads((out / "stance.json").read_text())
    assert meta["training"]["steps"] == EPOCHS * len(tiny_data.stances)
    _, config = load_component(out, "stance", StanceClassifier, StanceConfig)  # complete, loads
    assert config.temperature == meta["config"]["temperature"]

    # Compared with the same run never interrupted:
    fresh = tmp_path / "fresh"
    _run(_train_command(tiny_data, tmp_path / "run-fresh", fresh))
    a, b = _weights(out), _weights(fresh)
    diffs = {k: float((a[k].float() - b[k].float()).abs().max()) for k in a}
    print(f"killed at step {reached}, resumed at {start}; largest weight difference: {max(diffs.values())}")
    assert max(diffs.values()) == 0.0
    assert meta["config"] == json.loads((fresh / "stance.json").read_text())["config"]


BATCH_LINES = 120  # short articles: a few seconds of work, so the kill lands mid-way
BATCH_SIZE = 4


def _batch_command(src: Path, out: Path, *extra: str) -> list[str]:
    # --no-timings: the records then hold nothing that differs between two runs.
    command = [sys.executable, "-m", "opslens.cli", "batch", str(src), str(out), "--threads", "1"]
    return [*command, "--batch-size", str(BATCH_SIZE), "--no-timings", *extra]


def _complete_lines(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.is_file() else 0


@pytest.mark.slow
def test_killed_batch_resumes_where_its_output_stops(
    tmp_path: Path, example_text: str, request: pytest.FixtureRequest
) -> None:
    paragraphs = [p for p in example_text.split("\n\n") if len(p) > 80]
    src, out, fresh = tmp_path / "in.jsonl", tmp_path / "out.jsonl", tmp_path / "fresh.jsonl"
    with open(src, "w", encoding="utf-8") as f:
        for i in range(BATCH_LINES):
            text = "\n\n".join(paragraphs[(i + j) % len(paragraphs)] for j in range(2))
            title = "Russia suffers heavy losses near Bakhmut" if i % 3 == 0 else None
            f.write(json.dumps({"id": i, "text": text, "title": title, "max_sentences": 2}) + "\n")

    log, fresh_log = tmp_path / "killed.log", tmp_path / "fresh.log"
    # The same run never interrupted, beside it (each uses one thread; CI has two cores).
    with open(fresh_log, "wb") as stderr:
        uninterrupted = subprocess.Popen(_batch_command(src, fresh), stdout=subprocess.DEVNULL, stderr=stderr)
    request.addfinalizer(uninterrupted.kill)  # if the test fails before it ends
    with open(log, "wb") as stderr:
        proc = subprocess.Popen(_batch_command(src, out), stdout=subprocess.DEVNULL, stderr=stderr)
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and proc.poll() is None and _complete_lines(out) < BATCH_LINES // 4:
            time.sleep(0.01)
        ended = f"the batch run ended before it could be killed mid-way:\n{log.read_text()[-3000:]}"
        assert proc.poll() is None, ended
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    kept = _complete_lines(out)
    assert 0 < kept < BATCH_LINES
    with open(out, "ab") as f:  # and a write torn by a crash: cut and redone
        f.write(f'{{"line": {kept + 1}, "id": {kept}, "analysis": {{"mode": '.encode())

    resumed = _run(_batch_command(src, out, "--resume")).stderr
    assert f"resuming: {kept} of {BATCH_LINES} lines" in resumed
    assert f"{kept} lines kept from the previous run, {BATCH_LINES - kept} lines in" in resumed
    assert uninterrupted.wait(timeout=600) == 0, fresh_log.read_text()[-3000:]
    print(f"killed after {kept} of {BATCH_LINES} lines")
    assert out.read_bytes() == fresh.read_bytes()
    records = [json.loads(line) for line in fresh.read_text(encoding="utf-8").splitlines()]
    assert [(r["line"], r["id"]) for r in records] == [(i + 1, i) for i in range(BATCH_LINES)]
    assert all("timings_ms" not in r["analysis"] for r in records)


def _broken_artifact(tmp_path: Path, how: str) -> tuple[Path, Path]:
    """A copy of the shipped artifact with one fault; returns the folder and the file at fault."""
    folder = tmp_path / "opslens-v1"
    shutil.copytree(SHIPPED_ARTIFACT, folder)
    if how == "corrupt":
        bad = folder / "extractive.safetensors"
        data = bytearray(bad.read_bytes())
        for i in range(len(data) // 2, len(data) // 2 + 16):
            data[i] ^= 0xFF
        bad.write_bytes(bytes(data))
    elif how == "missing":
        bad = folder / "stance.safetensors"
        bad.unlink()
    else:
        bad = folder / "manifest.json"
        bad.write_text("name: opslens-v1\nversion: 1.0.0\n")
    return folder, bad


@pytest.mark.slow
@pytest.mark.parametrize(
    ("how", "problem"),
    [("corrupt", "checksum mismatch"), ("missing", "artifact file missing"), ("not_json", "not valid JSON")],
)
def test_server_refuses_a_broken_artifact_in_one_line(tmp_path: Path, how: str, problem: str) -> None:
    folder, bad = _broken_artifact(tmp_path, how)
    start = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "opslens.cli", "serve", "--host", "127.0.0.1", "--port", str(free_port())],
        env={**os.environ, "OPSLENS_MODEL_PATH": str(folder)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    elapsed = time.monotonic() - start
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert lines[0].startswith("opslens serve: error: ")
    assert problem in lines[0] and str(bad) in lines[0]
    # Refused before any model is built (a Python start and imports); generous for a loaded CI box.
    assert elapsed < 60, elapsed


class _Payload:
    """Unpickling this creates a file: proof that a pickle was loaded."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return (open, (str(self.marker), "w"))


def test_pickle_files_in_the_artifact_are_never_loaded(tmp_path: Path) -> None:
    folder, _ = _broken_artifact(tmp_path, "intact")
    shutil.copy(SHIPPED_ARTIFACT / "manifest.json", folder / "manifest.json")  # undo the fault
    marker = tmp_path / "unpickled"
    for name in ("extractive.bin", "stance.pt", "pytorch_model.bin", "stance.pkl"):
        (folder / name).write_bytes(pickle.dumps(_Payload(marker)))
    verify_artifact(folder, COMPONENTS)
    for name, module_cls, config_cls in (
        ("extractive", ExtractiveScorer, ExtractiveConfig),
        ("stance", StanceClassifier, StanceConfig),
    ):
        load_component(folder, name, module_cls, config_cls)
    assert not marker.exists()


def test_weights_that_are_a_pickle_are_refused(tmp_path: Path) -> None:
    folder, _ = _broken_artifact(tmp_path, "intact")
    shutil.copy(SHIPPED_ARTIFACT / "manifest.json", folder / "manifest.json")
    marker = tmp_path / "unpickled"
    weights = folder / "stance.safetensors"
    torch.save({"payload": _Payload(marker)}, weights)
    # Even with the recorded checksum updated to match, the file is not read as a pickle.
    meta = json.loads((folder / "stance.json").read_text())
    meta["sha256"] = hashlib.sha256(weights.read_bytes()).hexdigest()
    (folder / "stance.json").write_text(json.dumps(meta))
    with pytest.raises(ArtifactError, match=f"cannot read weights {weights}"):
        verify_artifact(folder, COMPONENTS)
    with pytest.raises(ArtifactError, match=f"cannot read weights {weights}"):
        load_component(folder, "stance", StanceClassifier, StanceConfig)
    assert not marker.exists()
