"""The eval suite on the committed held-out sets: results.json layout and the quality floors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from opslens.cli import main
from opslens.eval.cli import DEFAULT_DATA
from opslens.eval.stance_metrics import FNC_BASELINE_FULL_TEST

pytestmark = pytest.mark.slow


def _run(suite: str, out: Path, *extra: str) -> dict:
    assert main(["eval", suite, "--out", str(out), *extra]) == 0
    assert (out / "report.md").is_file()
    assert (out / "predictions.jsonl").is_file()
    return json.loads((out / "results.json").read_text())


def test_summarization_beats_lead3_on_heldout(tmp_path: Path) -> None:
    assert DEFAULT_DATA["summarization"].is_file()
    results = _run("summarization", tmp_path, "--bootstrap", "300")
    m, lead = results["metrics"], results["baselines"]["lead3"]
    for key in ("rouge1", "rouge2", "rougeLsum"):
        assert 0 < m[key] < 100
        low, high = m["ci95"][key]
        assert low <= m[key] <= high
    assert m["rouge1"] > lead["rouge1"], (m["rouge1"], lead["rouge1"])
    assert results["provenance"]["examples"] >= 200
    assert len(results["provenance"]["data_sha256"]) == 64
    assert "random3" in results["baselines"]


def test_stance_beats_fnc_baseline_on_heldout(tmp_path: Path) -> None:
    results = _run("stance", tmp_path)
    m = results["metrics"]
    assert m["fnc_score"] > FNC_BASELINE_FULL_TEST, m["fnc_score"]
    assert set(m["per_class"]) == {"agree", "disagree", "discuss", "unrelated"}
    assert sum(map(sum, m["confusion"]["matrix"])) == results["provenance"]["examples"]
    majority = results["baselines"]["majority_unrelated"]
    assert m["fnc_score"] > majority["fnc_score"]


def test_eval_accepts_plain_jsonl(tmp_path: Path) -> None:
    import gzip

    src = DEFAULT_DATA["stance"]
    with gzip.open(src, "rt", encoding="utf-8") as f:
        lines = f.read().splitlines()[:30]
    plain = tmp_path / "small.jsonl"
    plain.write_text("\n".join(lines) + "\n", encoding="utf-8")
    results = _run("stance", tmp_path / "out", "--data", str(plain))
    assert results["provenance"]["examples"] == 30
