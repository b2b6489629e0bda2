"""The suite registry, the report of `opslens eval all` and its figures, without a model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from opslens.cli import build_parser
from opslens.corpus import load_table
from opslens.eval import report
from opslens.eval.registry import Suite, register, registered
from opslens.eval.stance_metrics import calibration, stance_metrics
from opslens.eval.suites import ALL, get, names


def _png(path: Path) -> tuple[int, int]:
    """Fails unless `path` is a whole, readable PNG; returns its size."""
    with Image.open(path) as image:
        assert image.format == "PNG"
        image.verify()
    with Image.open(path) as image:
        image.load()
        return image.size


def test_every_suite_is_registered_with_its_committed_data() -> None:
    assert {"summarization", "stance"} <= set(names())
    for name in names():
        suite = get(name)
        assert suite.name == name and suite.headline and suite.description
        assert suite.data.is_file(), suite.data
        assert len(load_table(suite.data, suite.fields, 2)) == 2  # the columns the suite reads exist
    assert get("summarization").summarizes and not get("stance").summarizes


def test_unknown_suite_and_second_registration_are_refused() -> None:
    with pytest.raises(KeyError, match="known: "):
        get("nope")
    stance = get("stance")
    impostor = Suite(**{**stance.__dict__, "description": "another"})
    with pytest.raises(ValueError, match="already registered"):
        register(impostor)
    assert registered()["stance"] is stance
    assert register(stance) is stance  # the same suite again (a module imported twice) is fine


def test_cli_choices_come_from_the_registry() -> None:
    parser = build_parser()
    for name in (*names(), ALL):
        assert parser.parse_args(["eval", name]).suite == name
    with pytest.raises(SystemExit):
        parser.parse_args(["eval", "nope"])


def test_eval_all_refuses_a_data_file(capsys: pytest.CaptureFixture[str]) -> None:
    args = build_parser().parse_args(["eval", ALL, "--data", "x.jsonl"])
    assert args.func(args) == 2
    assert "drop --data" in capsys.readouterr().err


def test_calibration() -> None:
    cal = calibration([0.95, 0.95, 0.35, 1.0], [True, False, True, True], n_bins=10)
    assert cal["examples"] == 4 and len(cal["bins"]) == 10
    last, fourth = cal["bins"][9], cal["bins"][3]
    assert last["count"] == 3 and last["accuracy"] == pytest.approx(66.67, abs=0.01)  # 1.0 in the last bin
    assert last["confidence"] == pytest.approx(96.67, abs=0.01)
    assert fourth["count"] == 1 and fourth["accuracy"] == 100.0
    # 3/4 * |66.67 - 96.67| + 1/4 * |100 - 35|
    assert cal["ece"] == pytest.approx(0.75 * 30 + 0.25 * 65, abs=0.01)
    assert calibration([], [])["ece"] == 0.0


def _provenance(examples: int) -> dict[str, Any]:
    return {
        "data": "eval/data/x.jsonl.gz",
        "data_sha256": "0" * 64,
        "examples": examples,
        "model": {"name": "opslens-v1", "version": "1.1.0", "encoder": "e", "backend": "torch"},
        "command": "opslens eval all",
        "seconds": 1.0,
    }


def _runs() -> dict[str, tuple[dict[str, Any], list[dict[str, Any]]]]:
    gold = ["agree", "unrelated", "discuss", "unrelated", "disagree"]
    pred = ["agree", "unrelated", "unrelated", "unrelated", "discuss"]
    metrics = stance_metrics(gold, pred)
    metrics["calibration"] = calibration(
        [0.9, 0.99, 0.5, 0.8, 0.4], [g == p for g, p in zip(gold, pred, strict=True)]
    )
    stance = {
        "schema_version": report.SCHEMA_VERSION,
        "suite": "stance",
        "mode": None,
        "metrics": metrics,
        "baselines": {"majority_unrelated": stance_metrics(gold, ["unrelated"] * 5)},
        "provenance": _provenance(5),
    }
    faith = {
        "summaries": 2.0,
        "share_with_unsupported": 0.5,
        "share_with_unsupported_entity_or_number": 0.5,
        "unsupported_spans_per_summary": 0.5,
    }

    def rouge(r1: float) -> dict[str, Any]:
        keys = ("rouge1", "rouge2", "rougeLsum")
        return {
            **{k: r1 / (i + 1) for i, k in enumerate(keys)},
            "ci95": {k: [r1 / (i + 1) - 2, r1 / (i + 1) + 2] for i, k in enumerate(keys)},
            "summary_words_mean": 50.0,
        }

    summarization = {
        "schema_version": report.SCHEMA_VERSION,
        "suite": "summarization",
        "mode": "extractive",
        "metrics": {**rouge(40.0), "faithfulness": faith},
        "baselines": {"lead3": rouge(38.0), "random3": rouge(30.0), "reference": {"faithfulness": faith}},
        "provenance": _provenance(2),
    }
    return {"stance": (stance, [{"id": i} for i in range(5)]), "summarization": (summarization, [{"id": 0}])}


def test_write_all_one_report_with_figures(tmp_path: Path) -> None:
    runs = _runs()
    suites = {name: get(name) for name in runs}
    combined = report.write_all(tmp_path, runs, suites, {"command": "opslens eval all", **_provenance(0)})
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved == combined and saved["schema_version"] == report.SCHEMA_VERSION
    assert saved["suites"]["stance"] == runs["stance"][0]  # each suite's results as `eval SUITE` writes them
    assert saved["plots"] == {
        "stance": ["stance_confusion.png", "stance_reliability.png"],
        "summarization": ["summarization_rouge.png"],
    }
    for name in ("stance_confusion.png", "stance_reliability.png", "summarization_rouge.png"):
        width, height = _png(tmp_path / name)
        assert width > 300 and height > 300
    assert len((tmp_path / "predictions_stance.jsonl").read_text().splitlines()) == 5
    text = (tmp_path / "report.md").read_text()
    assert text.count("# OpsLens evaluation") == 1 and "## stance" in text and "## summarization" in text
    assert "![summarization_rouge](summarization_rouge.png)" in text and "Calibration: " in text
    assert "| **OpsLens extractive** | 40.00 [38.00, 42.00]" in text and "Faithfulness" in text


def test_write_run_keeps_the_single_suite_layout(tmp_path: Path) -> None:
    results, records = _runs()["stance"]
    plots = report.write_run(tmp_path, results, records, get("stance"))
    assert {p.name for p in tmp_path.iterdir()} == {"predictions.jsonl", "results.json", "report.md", *plots}
    text = (tmp_path / "report.md").read_text()
    assert text.startswith("# OpsLens evaluation: stance") and "Confusion (rows gold" in text
    assert all(f"({name})" in text for name in plots)


def test_reliability_diagram_without_scored_pairs_is_left_out(tmp_path: Path) -> None:
    results, _ = _runs()["stance"]
    results = {**results, "metrics": {**results["metrics"], "calibration": calibration([], [])}}
    assert get("stance").plots(results, tmp_path) == ["stance_confusion.png"]
