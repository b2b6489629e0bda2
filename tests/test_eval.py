"""The eval suite on the committed held-out sets: results.json layout and the quality floors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from opslens.cli import main
from opslens.eval.cli import DEFAULT_DATA
from opslens.eval.stance_metrics import FNC_BASELINE_FULL_TEST
from opslens.model.artifact import SHIPPED_ARTIFACT

pytestmark = pytest.mark.slow


def _run(suite: str, out: Path, *extra: str) -> dict:
    assert main(["eval", suite, "--out", str(out), *extra]) == 0
    assert (out / "report.md").is_file()
    assert (out / "predictions.jsonl").is_file()
    return json.loads((out / "results.json").read_text())


def test_summarization_beats_lead3_on_heldout(tmp_path: Path) -> None:
    assert DEFAULT_DATA["summarization"].is_file()
    results = _run("summarization", tmp_path, "--bootstrap", "300", "--mode", "extractive")
    assert results["mode"] == "extractive" and "modes" not in results
    m, lead = results["metrics"], results["baselines"]["lead3"]
    for key in ("rouge1", "rouge2", "rougeLsum"):
        assert 0 < m[key] < 100
        low, high = m["ci95"][key]
        assert low <= m[key] <= high
    # Measured (artifact 1.10.0, onnx) 38.95 / 17.79 / 35.91 against lead-3's 37.77 / 16.61 / 34.31
    # (ratio 1.031; 1.9.0: 38.69, 1.024; 1.7.0: 38.46, 1.018; 1.6.0: 1.012). The floor: 1.02.
    for key in ("rouge1", "rouge2", "rougeLsum"):
        assert m[key] > lead[key], (key, m[key], lead[key])
    assert m["rouge1"] >= 1.02 * lead["rouge1"], (m["rouge1"], lead["rouge1"])
    # The fine-tuned encoder against the frozen-vector scorer of the same artifact (37.71), same run.
    assert m["rouge1"] >= results["baselines"]["extractive, frozen vectors"]["rouge1"]
    assert results["provenance"]["examples"] >= 200
    assert len(results["provenance"]["data_sha256"]) == 64
    assert "random3" in results["baselines"]
    matched = results["baselines"]["lead, extractive's length"]
    assert m["rouge1"] >= matched["rouge1"]  # measured 38.95 vs 38.04


def test_bbc_summaries_against_lead_at_the_same_length(tmp_path: Path) -> None:
    """The cased BBC held-out set: the fine-tuned extractive model of artifact 1.10.0 measured 50.91
    against lead-3's 45.61 and lead cut to its length 46.09 (1.9.0: 50.89; 1.7.0: 50.87; the
    frozen-vector scorer 44.91; 1.6.0's encoder 45.78). The issue's goal is lead-3 + 3."""
    results = _run("summarization-bbc", tmp_path, "--bootstrap", "200", "--mode", "extractive")
    assert results["provenance"]["examples"] == 236
    m, base = results["metrics"], results["baselines"]
    matched = base["lead, extractive's length"]
    assert abs(matched["summary_words_mean"] - m["summary_words_mean"]) < 1.0  # the same length
    assert m["rouge1"] >= base["lead3"]["rouge1"] + 3.0 and m["rouge1"] >= matched["rouge1"] + 2.0
    assert m["rouge1"] >= base["extractive, frozen vectors"]["rouge1"]


def test_the_shipped_artifact_has_the_abstractive_adapter() -> None:
    # The abstractive tests below rely on it (they used to skip without it).
    assert "abstractive" in json.loads((SHIPPED_ARTIFACT / "manifest.json").read_text())["components"]


def test_both_modes_side_by_side_with_the_zero_shot_baseline(tmp_path: Path) -> None:
    results = _run("summarization", tmp_path, "--limit", "3", "--bootstrap", "50")
    modes = results["modes"]
    assert set(modes) == {"extractive", "abstractive"} and results["metrics"] == modes["extractive"]
    assert {"lead3", "random3", "zero-shot SmolLM2", "reference"} <= set(results["baselines"])
    for figures in (modes["abstractive"], results["baselines"]["zero-shot SmolLM2"]):
        f = figures["faithfulness"]
        assert 0 <= f["share_with_unsupported_entity_or_number"] <= 1 and sum(f["actions"].values()) == 3
        assert 0 < figures["rouge1"] < 100
    assert modes["extractive"]["faithfulness"]["summaries"] == 3
    record = json.loads((tmp_path / "predictions.jsonl").read_text().splitlines()[0])
    assert {"prediction", "prediction_abstractive", "prediction_zero_shot", "rouge1_abstractive"} <= set(
        record
    )
    for mode, figures in modes.items():  # each mode gets the lead cut to its own length
        matched = results["baselines"][f"lead, {mode}'s length"]
        # Within a few words on 3 articles (the two modes differ by ~25 words on average).
        assert abs(matched["summary_words_mean"] - figures["summary_words_mean"]) < 3.0, (mode, matched)
    report = (tmp_path / "report.md").read_text()
    assert "**OpsLens abstractive**" in report and "Faithfulness" in report
    assert "ratio **OpsLens abstractive** / lead, abstractive's length" in report
    assert "ratio **OpsLens abstractive** / lead, extractive's length" not in report


# The shipped adapter (prompt v2) on the first 60 held-out articles, onnxruntime-genai int8 with
# trigram blocking over the summary alone, artifact 1.7.0, served under the default policy
# replace_sentence: ROUGE-1 30.47 against lead-3's 29.39 on the same articles (ratio 1.037; under
# drop_sentence, which leaves the rejected sentences' room empty, 28.76, 0.979; artifact 1.6.0 under
# drop_sentence 0.958, CTranslate2 0.917). The floor sits about 0.06 below the measured ratio.
ABSTRACTIVE_RATIO_FLOOR = 0.97


def test_abstractive_mode_alone_floor_and_grounding(tmp_path: Path) -> None:
    results = _run("summarization", tmp_path, "--limit", "60", "--bootstrap", "50", "--mode", "abstractive")
    assert results["mode"] == "abstractive" and "modes" not in results
    assert "zero-shot SmolLM2" not in results["baselines"]  # --zero-shot adds it
    assert results["metrics"]["generator"].endswith("(onnxruntime-genai-int8)")
    assert results["provenance"]["config"]["policy"] == "replace_sentence"
    m, lead = results["metrics"], results["baselines"]["lead3"]
    assert m["rouge1"] >= ABSTRACTIVE_RATIO_FLOOR * lead["rouge1"], (m["rouge1"], lead["rouge1"])
    f = m["faithfulness"]
    assert f["judged_sentences"] >= 60 and f["served_sentences"] > 0
    assert f["share_served_contradicted"] == 0 and f["share_served_not_found"] == 0
    assert f["share_final_with_unsupported"] == 0
    # Article sentences fill rejected sentences' room (0.80 per summary on the held-out 300).
    assert 0 < f["quoted_sentences_per_summary"] <= 3


# Floors on the held-out set: what the shipped model reached (stance head for relatedness, claim
# verifier for the related label: FNC 81.12, macro-F1 61.82, disagree F1 28.4; the head alone had
# 79.59 / 52.75 / 0.0), minus a margin for platform differences.
STANCE_FLOORS = {"fnc_score": 80.5, "macro_f1": 59.0}
DISAGREE_F1_FLOOR = 22.0


def test_stance_beats_fnc_baseline_on_heldout(tmp_path: Path) -> None:
    results = _run("stance", tmp_path)
    m = results["metrics"]
    assert m["fnc_score"] > FNC_BASELINE_FULL_TEST, m["fnc_score"]
    for key, floor in STANCE_FLOORS.items():
        assert m[key] >= floor, (key, m[key])
    assert m["per_class"]["disagree"]["f1"] >= DISAGREE_F1_FLOOR, m["per_class"]["disagree"]
    assert set(m["per_class"]) == {"agree", "disagree", "discuss", "unrelated"}
    assert sum(map(sum, m["confusion"]["matrix"])) == results["provenance"]["examples"]
    majority = results["baselines"]["majority_unrelated"]
    assert m["fnc_score"] > majority["fnc_score"]


# Measured on the committed sample (300 pairs; figures of the full factcheck_dev run restricted to
# its rows), artifact 1.6.0: balanced accuracy 61.7 against the lexical guard's 53.1, ROC AUC 68.5
# (1.4.0: 64.4 [58.6, 70.2] and 67.1 [60.0, 73.5]; on all 1,353 rows 1.6.0 is ahead, 64.7 / 71.1
# against 61.4 / 67.5: 300 rows are noisy). The floors sit below, to catch a regression, not noise.
FACTCHECK_MARGIN_OVER_LEXICAL = 6.0
FACTCHECK_AUC_FLOOR = 60.0


def test_factcheck_beats_the_lexical_guard_on_heldout(tmp_path: Path) -> None:
    from opslens.eval.factcheck import LEXICAL

    results = _run("factcheck", tmp_path, "--bootstrap", "200")
    m, lexical = results["metrics"], results["baselines"][LEXICAL]
    assert results["provenance"]["examples"] == 300 and m["refused"] == 0
    assert 0 < m["threshold"] < 1  # the artifact's, never fitted here
    assert m["balanced_accuracy"] >= lexical["balanced_accuracy"] + FACTCHECK_MARGIN_OVER_LEXICAL, (
        m["balanced_accuracy"],
        lexical["balanced_accuracy"],
    )
    assert m["roc_auc"] >= FACTCHECK_AUC_FLOOR, m["roc_auc"]
    assert len(m["per_source"]) == 3 and (tmp_path / "factcheck_roc.png").is_file()


def test_eval_accepts_plain_jsonl(tmp_path: Path) -> None:
    import gzip

    src = DEFAULT_DATA["stance"]
    with gzip.open(src, "rt", encoding="utf-8") as f:
        lines = f.read().splitlines()[:30]
    plain = tmp_path / "small.jsonl"
    plain.write_text("\n".join(lines) + "\n", encoding="utf-8")
    results = _run("stance", tmp_path / "out", "--data", str(plain))
    assert results["provenance"]["examples"] == 30


def test_eval_all_writes_one_report_with_figures(tmp_path: Path) -> None:
    from PIL import Image

    from opslens.eval.report import SCHEMA_VERSION
    from opslens.eval.suites import names

    args = [
        "eval",
        "all",
        "--out",
        str(tmp_path),
        "--limit",
        "6",
        "--bootstrap",
        "50",
        "--mode",
        "extractive",
    ]
    assert main(args) == 0
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["schema_version"] == SCHEMA_VERSION and set(results["suites"]) == set(names())
    for name, suite in results["suites"].items():
        # Each suite's results as `opslens eval SUITE` writes them, on its committed held-out set.
        assert suite["suite"] == name and suite["schema_version"] == SCHEMA_VERSION
        assert {"metrics", "baselines", "provenance"} <= set(suite) and suite["provenance"]["examples"] == 6
        assert suite["provenance"]["data"].endswith(DEFAULT_DATA[name].name)
        assert len((tmp_path / f"predictions_{name}.jsonl").read_text().splitlines()) == 6
    assert results["suites"]["summarization"]["mode"] == "extractive"
    assert "rouge1" in results["suites"]["summarization"]["metrics"]
    assert 0 <= results["suites"]["stance"]["metrics"]["calibration"]["ece"] <= 100
    assert results["provenance"]["model"]["name"] and "matplotlib" in results["provenance"]["libraries"]
    report = (tmp_path / "report.md").read_text()
    for name, plots in results["plots"].items():
        assert f"## {name}" in report and plots
        for plot in plots:
            assert f"]({plot})" in report
            with Image.open(tmp_path / plot) as image:
                assert image.format == "PNG"
                image.verify()
    assert {
        "stance_confusion.png",
        "stance_reliability.png",
        "summarization_rouge.png",
        "factcheck_roc.png",
    } <= {p.name for p in tmp_path.iterdir()}
