"""Stance suite: FNC-1 metrics for the model and a majority-class baseline, the calibration of
the probabilities it returns, and its report section and figures.

Rows are grouped by article body and sent as one `analyze` call with the headlines as
claims: exactly how an application would ask.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tqdm import tqdm

from opslens.eval import plots
from opslens.eval.registry import DATA, Outcome, RunConfig, Suite, register
from opslens.eval.stance_metrics import FNC_BASELINE_FULL_TEST, calibration, stance_metrics
from opslens.model.pipeline import NoSentencesError, OpsLens

FIELDS = ("id", "headline", "body", "stance")


def run_stance(model: OpsLens, rows: Sequence[dict[str, Any]]) -> tuple[dict, dict, list[dict]]:
    """Returns (metrics, baselines, per-example records)."""
    by_body: dict[str, list[int]] = defaultdict(list)
    for i, r in enumerate(rows):
        by_body[r["body"]].append(i)
    pred: list[str] = [""] * len(rows)
    confidence: list[float] = [0.0] * len(rows)
    evidence: list[str | None] = [None] * len(rows)
    scored = [False] * len(rows)  # the model gave probabilities (a body without sentences gets none)
    for body, idx in tqdm(by_body.items(), desc="stance", mininterval=5):
        claims = [rows[i]["headline"] for i in idx]
        try:
            stances = model.analyze(body, claims=claims, max_sentences=1).claim_stances
        except NoSentencesError:
            # A body with no readable sentence cannot support any claim.
            for i in idx:
                pred[i] = "unrelated"
            continue
        for i, st in zip(idx, stances, strict=True):
            pred[i] = st.label
            confidence[i] = st.probabilities[st.label]
            scored[i] = True
            evidence[i] = st.evidence.text if st.evidence else None

    gold = [r["stance"] for r in rows]
    majority = Counter(gold).most_common(1)[0][0]
    metrics = stance_metrics(gold, pred)
    kept = [i for i, s in enumerate(scored) if s]
    metrics["calibration"] = calibration([confidence[i] for i in kept], [pred[i] == gold[i] for i in kept])
    baselines = {
        f"majority_{majority}": stance_metrics(gold, [majority] * len(gold)),
        "fnc1_official_baseline_full_test": {
            "fnc_score": FNC_BASELINE_FULL_TEST,
            "note": "published figure, not computed in this run",
        },
    }
    records = [
        {
            "id": r["id"],
            "headline": r["headline"],
            "gold": g,
            "prediction": p,
            "confidence": round(c, 4),
            "evidence": e,
        }
        for r, g, p, c, e in zip(rows, gold, pred, confidence, evidence, strict=True)
    ]
    return metrics, baselines, records


def _run(
    model: OpsLens, zero_shot: OpsLens | None, rows: Sequence[dict[str, Any]], config: RunConfig
) -> Outcome:
    return Outcome(*run_stance(model, rows))


def section(results: dict[str, Any]) -> list[str]:
    main = results["metrics"]
    lines = [
        "",
        "Per class (P / R / F1, support):",
        "",
        "| label | P | R | F1 | support |",
        "|---|---|---|---|---|",
    ]
    for lab, c in main["per_class"].items():
        lines.append(f"| {lab} | {c['precision']:.1f} | {c['recall']:.1f} | {c['f1']:.1f} | {c['support']} |")
    disagree = main["per_class"].get("disagree")
    if disagree:
        # The rarest class and the one a reader most needs: an article disputing the claim.
        lines += [
            "",
            f"Disagree: precision {disagree['precision']:.1f}, recall {disagree['recall']:.1f}, "
            f"F1 {disagree['f1']:.1f} ({disagree['support']} gold pairs).",
        ]
    conf = main["confusion"]
    lines += [
        "",
        "Confusion (rows gold, columns predicted):",
        "",
        "| | " + " | ".join(conf["labels"]) + " |",
        "|---" * (len(conf["labels"]) + 1) + "|",
    ]
    lines += [
        f"| {lab} | " + " | ".join(str(x) for x in row) + " |"
        for lab, row in zip(conf["labels"], conf["matrix"], strict=True)
    ]
    cal = main.get("calibration")
    if cal:
        lines += [
            "",
            f"Calibration: expected calibration error {cal['ece']:.1f}% over {cal['examples']} pairs "
            f"({len(cal['bins'])} bins of the predicted label's probability).",
        ]
    return lines


def draw(results: dict[str, Any], out: Path) -> list[str]:
    main = results["metrics"]
    conf = main["confusion"]
    written = ["stance_confusion.png"]
    plots.confusion_matrix(out / written[0], conf["labels"], conf["matrix"], title="Stance: confusion")
    if main.get("calibration", {}).get("examples"):
        written.append("stance_reliability.png")
        plots.reliability_diagram(out / written[1], main["calibration"], title="Stance: reliability")
    return written


SUITE = register(
    Suite(
        name="stance",
        description="FNC-1 stance of headlines towards article bodies",
        data=DATA / "fnc1_heldout.jsonl.gz",
        fields=FIELDS,
        headline=("fnc_score", "accuracy", "macro_f1"),
        run=_run,
        section=section,
        plots=draw,
    )
)
