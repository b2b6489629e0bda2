"""The factual-consistency suite without a model: its metrics, its report and figure, the
stratified held-out sample, and the stance report's disagree line."""

from __future__ import annotations

import gzip
import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from opslens.corpus import load_table
from opslens.eval import report
from opslens.eval.factcheck import LEXICAL
from opslens.eval.factcheck_metrics import (
    balanced_accuracy,
    binary_metrics,
    bootstrap_ci,
    by_source,
    oracle_threshold,
    roc_points,
)
from opslens.eval.registry import DATA
from opslens.eval.suites import get

LABELS = [1, 1, 1, 1, 0, 0]
SCORES = [0.9, 0.8, 0.4, 0.7, 0.3, 0.75]
PREDICTED = [int(s >= 0.5) for s in SCORES]  # 1 1 0 1 0 1


def test_binary_metrics_by_hand() -> None:
    import numpy as np

    m = binary_metrics(LABELS, PREDICTED, SCORES)
    # Recall: consistent 3/4, inconsistent 1/2 -> balanced (75 + 50) / 2.
    assert m["balanced_accuracy"] == pytest.approx(62.5)
    assert m["recall_consistent"] == pytest.approx(75.0) and m["recall_inconsistent"] == pytest.approx(50.0)
    assert m["precision_inconsistent"] == pytest.approx(50.0)  # flagged: 0.4 (consistent) and 0.3
    # AUC = share of (consistent, inconsistent) pairs ranked right: 0.3 is below all 4, 0.75 below 2.
    assert m["roc_auc"] == pytest.approx(100 * 6 / 8)
    assert m["accuracy"] == pytest.approx(100 * 4 / 6)
    assert (m["examples"], m["consistent"], m["inconsistent"]) == (6, 4, 2)
    assert balanced_accuracy(np.array([1, 1]), np.array([1, 0])) == pytest.approx(50.0)  # one class only
    assert binary_metrics([1, 1], [1, 1], [0.2, 0.9])["roc_auc"] is None  # undefined, not 50


def test_ties_count_half_and_the_lexical_ranking_works() -> None:
    # Counts of unsupported spans as a score: many ties.
    m = binary_metrics([1, 1, 0, 0], [1, 1, 1, 0], [0, 0, 0, -2])
    assert m["roc_auc"] == pytest.approx(100 * (2 * 1.0 + 2 * 0.5) / 4)


def test_bootstrap_roc_and_oracle() -> None:
    ci = bootstrap_ci(LABELS * 5, PREDICTED * 5, SCORES * 5, n_samples=200)
    m = binary_metrics(LABELS * 5, PREDICTED * 5, SCORES * 5)
    for key in ("balanced_accuracy", "roc_auc"):
        low, high = ci[key]
        assert 0 <= low <= m[key] <= high <= 100
    assert bootstrap_ci(LABELS, PREDICTED, SCORES, n_samples=0) == {}
    roc = roc_points(LABELS, SCORES)
    assert roc is not None and roc["fpr"][0] == 0.0 and roc["fpr"][-1] == roc["tpr"][-1] == 1.0
    assert roc_points([1, 1], [0.1, 0.2]) is None
    oracle = oracle_threshold(LABELS, SCORES)
    # At 0.4 every consistent summary passes and one of two inconsistent ones are caught; at 0.8
    # half pass and both are caught: (100 + 50) / 2 either way, and the first best is kept.
    assert oracle == {"threshold": 0.8, "balanced_accuracy": 75.0}


def test_by_source_keeps_first_appearance_order() -> None:
    sources = ["b", "a", "b", "a", "b", "a"]
    out = by_source(sources, LABELS, PREDICTED, SCORES)
    assert list(out) == ["b", "a"] and out["b"]["examples"] == 3 and out["a"]["inconsistent"] == 1


def _results(examples: int = 6) -> dict[str, Any]:
    sources = ["cogensumm (x)", "qags-xsum (y)"] * 3
    model = {
        **binary_metrics(LABELS, PREDICTED, SCORES),
        "ci95": bootstrap_ci(LABELS, PREDICTED, SCORES, n_samples=50),
        "roc": roc_points(LABELS, SCORES),
        "per_source": by_source(sources, LABELS, PREDICTED, SCORES),
        "threshold": 0.5,
        "refused": 0,
        "oracle_threshold": oracle_threshold(LABELS, SCORES),
        "variants": {"every sentence's top verdict supported": binary_metrics(LABELS, PREDICTED, SCORES)},
    }
    lexical_scores = [0, 0, -1, 0, 0, -1]
    lexical_pred = [int(s == 0) for s in lexical_scores]
    lexical = {
        **binary_metrics(LABELS, lexical_pred, lexical_scores),
        "roc": roc_points(LABELS, lexical_scores),
        "per_source": by_source(sources, LABELS, lexical_pred, lexical_scores),
    }
    return {
        "schema_version": report.SCHEMA_VERSION,
        "suite": "factcheck",
        "mode": None,
        "metrics": model,
        "baselines": {LEXICAL: lexical},
        "provenance": {
            "data": "eval/data/factcheck_heldout.jsonl.gz",
            "data_sha256": "0" * 64,
            "examples": examples,
            "model": {"name": "opslens-v1", "version": "1.2.0", "encoder": "e", "backend": "torch"},
            "command": "opslens eval factcheck",
            "seconds": 1.0,
        },
    }


def test_report_and_roc_figure(tmp_path: Path) -> None:
    results = _results()
    suite = get("factcheck")
    plots = report.write_run(tmp_path, results, [{"id": i} for i in range(6)], suite)
    assert plots == ["factcheck_roc.png"]
    with Image.open(tmp_path / plots[0]) as image:
        assert image.format == "PNG" and image.size[0] > 300
    text = (tmp_path / "report.md").read_text()
    assert "| **OpsLens** | 62.50 [" in text and f"| {LEXICAL} |" in text
    assert "| cogensumm (x) |" in text and "threshold stored in the artifact" in text
    assert "For reference only (tuned on this very file" in text
    assert json.loads((tmp_path / "results.json").read_text())["metrics"]["balanced_accuracy"] == 62.5


def test_the_committed_sample_keeps_the_source_mix() -> None:
    suite = get("factcheck")
    assert suite.data == DATA / "factcheck_heldout.jsonl.gz" and not suite.summarizes
    rows = load_table(suite.data, suite.fields)
    assert len(rows) == 300 and set(rows["label"]) == {0, 1}
    counts: dict[str, int] = {}
    for src in rows["source"]:
        counts[src.split(" (")[0]] = counts.get(src.split(" (")[0], 0) + 1
    # 1,353 pairs: cogensumm 400, qags-cnndm 714, qags-xsum 239 -> shares of 300, largest remainders.
    assert counts == {"cogensumm": 89, "qags-cnndm": 158, "qags-xsum": 53}
    assert len(set(rows["id"])) == 300


def _builder() -> Any:
    spec = importlib.util.spec_from_file_location("build_heldout", DATA / "build_heldout.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_stratified_sample_quota_and_determinism() -> None:
    build = _builder()
    counts = (("a", 5), ("b", 3), ("c", 2))
    rows = [{"id": f"{s}-{i}", "source": s, "document": "d"} for s, n in counts for i in range(n)]
    kept = build.stratified_rows(rows, "source", 4, seed=3)
    # Shares 2.0 / 1.2 / 0.8: floors 2 / 1 / 0, and the row left over goes to the largest remainder (c).
    assert [r["source"] for r in kept] == ["a", "a", "b", "c"]
    assert kept == build.stratified_rows(rows, "source", 4, seed=3)
    assert len(build.stratified_rows(rows, "source", 50, seed=3)) == 10
    groups = build.sample_groups(rows, "source", 2, seed=3)
    assert len({r["source"] for r in groups}) == 2


def test_stance_report_names_disagree_precision_and_recall() -> None:
    from opslens.eval.stance_metrics import stance_metrics

    gold = ["agree", "disagree", "disagree", "unrelated"]
    pred = ["agree", "disagree", "discuss", "unrelated"]
    results = {"metrics": stance_metrics(gold, pred), "baselines": {}}
    text = "\n".join(get("stance").section(results))
    assert "Disagree: precision 100.0, recall 50.0, F1 66.7 (2 gold pairs)." in text


def test_sample_file_is_plain_gzip_jsonl() -> None:
    with gzip.open(DATA / "factcheck_heldout.jsonl.gz", "rt", encoding="utf-8") as f:
        first = json.loads(f.readline())
    assert {"id", "document", "summary", "label", "source"} <= set(first)
