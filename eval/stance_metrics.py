"""Stance metrics: accuracy, per-class and macro F1, confusion matrix, FNC-1 score.

FNC-1 score (the challenge's official scorer): +0.25 when the related/unrelated call is
right, +0.75 more when a related pair's exact label is right; reported as % of the best
possible score for the gold labels.
"""

from __future__ import annotations

from collections.abc import Sequence

from opslens.model.labels import STANCE_LABELS

RELATED = ("agree", "disagree", "discuss")
FNC_BASELINE_FULL_TEST = 79.53  # official baseline, % of max, full competition test set


def fnc_score(gold: Sequence[str], pred: Sequence[str]) -> float:
    """% of the maximum possible FNC-1 score."""
    score = best = 0.0
    for g, p in zip(gold, pred, strict=True):
        best += 0.25 + (0.75 if g in RELATED else 0.0)
        if (g in RELATED) == (p in RELATED):
            score += 0.25
            if g in RELATED and g == p:
                score += 0.75
    return 100.0 * score / best if best else 0.0


def confusion(
    gold: Sequence[str], pred: Sequence[str], labels: Sequence[str] = STANCE_LABELS
) -> list[list[int]]:
    """Rows gold, columns predicted, in `labels` order."""
    index = {lab: i for i, lab in enumerate(labels)}
    matrix = [[0] * len(labels) for _ in labels]
    for g, p in zip(gold, pred, strict=True):
        matrix[index[g]][index[p]] += 1
    return matrix


def stance_metrics(gold: Sequence[str], pred: Sequence[str], labels: Sequence[str] = STANCE_LABELS) -> dict:
    matrix = confusion(gold, pred, labels)
    per_class = {}
    for i, lab in enumerate(labels):
        tp = matrix[i][i]
        predicted = sum(row[i] for row in matrix)
        actual = sum(matrix[i])
        p = tp / predicted if predicted else 0.0
        r = tp / actual if actual else 0.0
        f = 2 * p * r / (p + r) if p + r else 0.0
        per_class[lab] = {"precision": 100 * p, "recall": 100 * r, "f1": 100 * f, "support": actual}
    n = len(gold)
    return {
        "accuracy": 100.0 * sum(g == p for g, p in zip(gold, pred, strict=True)) / n if n else 0.0,
        "macro_f1": sum(c["f1"] for c in per_class.values()) / len(labels),
        "fnc_score": fnc_score(gold, pred),
        "per_class": per_class,
        "confusion": {"labels": list(labels), "matrix": matrix},
        "examples": n,
    }


def calibration(confidence: Sequence[float], correct: Sequence[bool], n_bins: int = 10) -> dict:
    """Top-label calibration: predictions binned by the probability of the label they chose; per
    bin the mean confidence and the accuracy, and the expected calibration error (the
    count-weighted mean gap between the two). All in %, like the other stance figures."""
    if n_bins < 1:
        raise ValueError("n_bins must be at least 1")
    bins: list[list[tuple[float, bool]]] = [[] for _ in range(n_bins)]
    for c, ok in zip(confidence, correct, strict=True):
        bins[min(int(c * n_bins), n_bins - 1)].append((c, ok))  # confidence 1.0 goes in the last bin
    n = sum(len(b) for b in bins)
    out, ece = [], 0.0
    for i, b in enumerate(bins):
        conf = 100 * sum(c for c, _ in b) / len(b) if b else 0.0
        acc = 100 * sum(ok for _, ok in b) / len(b) if b else 0.0
        ece += len(b) / n * abs(acc - conf) if n else 0.0
        out.append(
            {
                "low": 100 * i / n_bins,
                "high": 100 * (i + 1) / n_bins,
                "count": len(b),
                "confidence": round(conf, 2),
                "accuracy": round(acc, 2),
            }
        )
    return {"ece": round(ece, 2), "examples": n, "bins": out}
