"""Training smoke test: both trainers on a handful of rows, resume, and the result serves."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from opslens.cli import main
from opslens.model.pipeline import OpsLens

pytestmark = pytest.mark.slow


def test_train_both_components_resume_and_serve(tmp_path: Path, tiny_data) -> None:
    news, fnc = tiny_data.news, tiny_data.fnc
    out = tmp_path / "artifact"

    def train(task: str, data: Path, run: str, *extra: str) -> int:
        paths = ["--train-file", str(data), "--validation-file", str(data), "--run-dir", str(tmp_path / run)]
        steps = ["--epochs", "2", "--batch-size", "2", "--checkpoint-every", "1", "--eval-every", "2"]
        return main(["train", task, *paths, "--output-dir", str(out), *steps, *extra])

    assert train("extractive", news, "ext") == 0
    assert train("stance", fnc, "st") == 0
    # Resuming a finished run continues from its last checkpoint instead of starting over.
    assert train("stance", fnc, "st", "--resume") == 0
    log = [json.loads(line) for line in (tmp_path / "st" / "train_log.jsonl").read_text().splitlines()]
    assert {"event": "resume", "step": 8} in log

    meta = json.loads((out / "stance.json").read_text())
    assert meta["training"]["steps"] == 8
    assert meta["training"]["data"]["train"]["examples"] == len(tiny_data.stances)
    assert 0.05 < meta["config"]["temperature"] < 20

    # Resumed again with --keep last, the finished run writes its final weights, validated once more.
    assert train("stance", fnc, "st", "--resume", "--keep", "last") == 0
    log = [json.loads(line) for line in (tmp_path / "st" / "train_log.jsonl").read_text().splitlines()]
    last = [r for r in log if r["event"] == "eval"][-1]
    meta = json.loads((out / "stance.json").read_text())
    assert (meta["training"]["kept"], meta["training"]["kept_step"]) == ("last", 8) and last["step"] == 8
    assert meta["training"]["metrics"]["macro_f1"] == round(last["macro_f1"], 3)

    model = OpsLens.load(out)
    result = model.analyze(tiny_data.articles[0][0], title="Kherson shelling kills three", max_sentences=2)
    assert 1 <= len(result.sentences) <= 2
    assert result.title_stance is not None
    assert "Model card" in (out / "MODEL_CARD.md").read_text()


def test_missing_column_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"id": "1", "text": "no article field here"}) + "\n")
    with pytest.raises(ValueError, match="missing column"):
        main(
            [
                "train",
                "extractive",
                "--train-file",
                str(bad),
                "--validation-file",
                str(bad),
                "--run-dir",
                str(tmp_path / "r"),
                "--output-dir",
                str(tmp_path / "o"),
            ]
        )


def test_keep_average_writes_the_mean_of_the_last_evaluations_weights(tmp_path: Path, tiny_data) -> None:
    out, run = tmp_path / "artifact", tmp_path / "st"
    args = ["train", "stance", "--train-file", str(tiny_data.fnc), "--validation-file", str(tiny_data.fnc)]
    args += ["--run-dir", str(run), "--output-dir", str(out), "--epochs", "2", "--batch-size", "2"]
    args += ["--checkpoint-every", "1", "--eval-every", "2", "--keep", "average"]
    assert main(args) == 0
    log = [json.loads(line) for line in (run / "train_log.jsonl").read_text().splitlines()]
    averaged = [r for r in log if r["event"] == "eval_average"]
    training = json.loads((out / "stance.json").read_text())["training"]
    # 8 steps evaluated every 2: the last three evaluations' weights (average_last 3) are averaged,
    # and the averaged weights are what was validated and written.
    assert (training["kept"], training["averaged_steps"], training["kept_step"]) == ("average", [4, 6, 8], 8)
    assert averaged[-1]["steps"] == [4, 6, 8]
    assert training["metrics"]["macro_f1"] == round(averaged[-1]["macro_f1"], 3)
    # The weights to average travel in the checkpoint: resuming the finished run averages the same ones.
    assert main([*args, "--resume"]) == 0
    again = json.loads((out / "stance.json").read_text())["training"]
    assert again["averaged_steps"] == [4, 6, 8] and again["metrics"] == training["metrics"]
