"""Stance suite: FNC-1 metrics for the model and a majority-class baseline.

Rows are grouped by article body and sent as one `analyze` call with the headlines as
claims: exactly how an application would ask.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Any

from tqdm import tqdm

from opslens.eval.stance_metrics import FNC_BASELINE_FULL_TEST, stance_metrics
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
            evidence[i] = st.evidence.text if st.evidence else None

    gold = [r["stance"] for r in rows]
    majority = Counter(gold).most_common(1)[0][0]
    metrics = stance_metrics(gold, pred)
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
