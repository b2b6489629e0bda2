"""Backend agreement script: its pure helpers (fast), and one tiny real run of two backends (slow)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from opslens.eval.backend_agreement import Reading, agreement, main, related_pairs, report

EVAL_DATA = Path(__file__).resolve().parents[1] / "eval" / "data"


def _rows() -> list[dict[str, str]]:
    stances = ["unrelated", "agree", "discuss", "unrelated", "disagree", "agree"]
    return [{"headline": f"h{i}", "body": f"b{i}", "stance": s} for i, s in enumerate(stances)]


def test_related_pairs_are_a_seeded_sample_of_related_rows_in_file_order() -> None:
    rows = _rows()
    picked = related_pairs(rows, 3, seed=0)
    assert len(picked) == 3 and picked == related_pairs(rows, 3, seed=0)
    assert all(h in {"h1", "h2", "h4", "h5"} for h, _ in picked)  # never an unrelated pair
    assert [h for h, _ in picked] == sorted(h for h, _ in picked)
    assert {h for h, _ in related_pairs(rows, 10, seed=1)} == {"h1", "h2", "h4", "h5"}  # all there are
    with pytest.raises(ValueError, match="no related pairs"):
        related_pairs([r for r in rows if r["stance"] == "unrelated"], 3, seed=0)


def test_agreement_counts_same_verdicts_and_probability_gaps() -> None:
    ref = [Reading("supported", 0.8, 10), Reading("contradicted", 0.1, 10), Reading("not_found", 0.3, 10)]
    other = [Reading("supported", 0.7, 5), Reading("supported", 0.6, 5), Reading("not_found", 0.3, 5)]
    got = agreement(ref, other)
    assert got["verdicts_same"] == pytest.approx(66.7)
    assert got["dp_supported_mean"] == pytest.approx(0.2) and got["dp_supported_p95"] == pytest.approx(0.5)
    assert agreement(ref, ref) == {"verdicts_same": 100.0, "dp_supported_mean": 0.0, "dp_supported_p95": 0.0}
    with pytest.raises(ValueError, match="same non-empty claims"):
        agreement(ref, other[:2])
    rows = report({"torch": ref, "onnx": other})
    assert [r["backend"] for r in rows] == ["torch", "onnx"]
    assert rows[0]["ms_ratio"] == 1.0 and rows[1]["ms_ratio"] == 0.5 and rows[1]["ms_per_claim"] == 5


def test_bad_arguments_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["--backends", "torch"], ["--backends", "torch,gpu"], ["--claims", "0"]):
        with pytest.raises(SystemExit):
            main(argv)
    with pytest.raises(SystemExit):
        main(["--data", "no/such/file.jsonl.gz"])
    assert "data file not found" in capsys.readouterr().err


@pytest.mark.slow
def test_two_backends_read_the_same_claims(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "agreement.json"
    data = EVAL_DATA / "fnc1_heldout.jsonl.gz"
    argv = ["--backends", "torch,bf16", "--claims", "3", "--data", str(data), "--json", str(out)]
    assert main(argv) == 0
    rows = json.loads(out.read_text(encoding="utf-8"))["rows"]
    assert [r["backend"] for r in rows] == ["torch", "bf16"] and all(r["claims"] == 3 for r in rows)
    assert rows[0]["verdicts_same"] == 100.0 and rows[0]["dp_supported_mean"] == 0.0
    assert 0 <= rows[1]["verdicts_same"] <= 100 and 0 <= rows[1]["dp_supported_mean"] < 0.5
    assert rows[1]["ms_per_claim"] > 0 and rows[1]["ms_ratio"] > 0
    assert "| bf16 | 3 |" in capsys.readouterr().out
