"""Binary factual-consistency metrics: balanced accuracy at a fixed threshold, ROC AUC of a
score, their bootstrap intervals, the ROC curve, and the per-source breakdown.

Label 1 = consistent is the positive class, and a higher score means "more consistent", as in
the SummaC benchmark. Balanced accuracy (the mean of the recall on each class) is what the
literature reports on these unbalanced sets (about 3 consistent summaries to 1 inconsistent).
Figures are x100 like the other suites'. scikit-learn computes them (it comes with the
sentence-transformers package the encoder is installed from, and is pinned in the lock files).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.metrics import roc_auc_score, roc_curve


def _both_classes(labels: np.ndarray) -> bool:
    return bool(labels.min() != labels.max()) if labels.size else False


def balanced_accuracy(labels: np.ndarray, predictions: np.ndarray) -> float:
    """Mean recall over the classes present (x100)."""
    recalls = [float((predictions[labels == c] == c).mean()) for c in (0, 1) if (labels == c).any()]
    return 100.0 * sum(recalls) / len(recalls) if recalls else 0.0


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float | None:
    """Area under the ROC curve (x100); None when only one class is present (undefined)."""
    return 100.0 * float(roc_auc_score(labels, scores)) if _both_classes(labels) else None


def binary_metrics(
    labels: Sequence[int], predictions: Sequence[int], scores: Sequence[float]
) -> dict[str, Any]:
    """Balanced accuracy of `predictions` and ROC AUC of `scores` against `labels` (1 = consistent),
    with the recall of each class and how well inconsistent summaries are caught (x100)."""
    y, p, s = np.asarray(labels, int), np.asarray(predictions, int), np.asarray(scores, float)
    caught = int(((p == 0) & (y == 0)).sum())
    flagged, bad = int((p == 0).sum()), int((y == 0).sum())
    precision = caught / flagged if flagged else 0.0
    recall = caught / bad if bad else 0.0
    return {
        "balanced_accuracy": balanced_accuracy(y, p),
        "roc_auc": roc_auc(y, s),
        "accuracy": 100.0 * float((y == p).mean()) if y.size else 0.0,
        "recall_consistent": 100.0 * float((p[y == 1] == 1).mean()) if (y == 1).any() else None,
        "recall_inconsistent": 100.0 * recall,
        "precision_inconsistent": 100.0 * precision,
        "f1_inconsistent": 100.0 * 2 * precision * recall / (precision + recall)
        if precision + recall
        else 0.0,
        "examples": int(y.size),
        "consistent": int((y == 1).sum()),
        "inconsistent": bad,
    }


def bootstrap_ci(
    labels: Sequence[int],
    predictions: Sequence[int],
    scores: Sequence[float],
    *,
    n_samples: int = 1000,
    seed: int = 0,
) -> dict[str, list[float]]:
    """95% percentile intervals of balanced accuracy and ROC AUC over examples resampled with
    replacement; a resample that lacks a class says nothing about AUC and is skipped for it."""
    y, p, s = np.asarray(labels, int), np.asarray(predictions, int), np.asarray(scores, float)
    if n_samples < 1 or y.size == 0:
        return {}
    rng = np.random.default_rng(seed)
    bacc, auc = [], []
    for _ in range(n_samples):
        idx = rng.integers(0, y.size, y.size)
        bacc.append(balanced_accuracy(y[idx], p[idx]))
        a = roc_auc(y[idx], s[idx])
        if a is not None:
            auc.append(a)
    out = {"balanced_accuracy": [round(float(v), 2) for v in np.percentile(bacc, [2.5, 97.5])]}
    if auc:
        out["roc_auc"] = [round(float(v), 2) for v in np.percentile(auc, [2.5, 97.5])]
    return out


def roc_points(labels: Sequence[int], scores: Sequence[float]) -> dict[str, list[float]] | None:
    """The ROC curve's corners (false and true positive rates, consistent = positive), for the
    figure; None when only one class is present."""
    y, s = np.asarray(labels, int), np.asarray(scores, float)
    if not _both_classes(y):
        return None
    fpr, tpr, _ = roc_curve(y, s, drop_intermediate=True)
    return {"fpr": [round(float(v), 4) for v in fpr], "tpr": [round(float(v), 4) for v in tpr]}


def oracle_threshold(labels: Sequence[int], scores: Sequence[float]) -> dict[str, float] | None:
    """The threshold that maximises balanced accuracy on these very rows, and that maximum: a
    reference for how much of a gap is the stored threshold's and how much the ranking's. Never
    a figure to report as the model's (it is tuned on the file scored)."""
    y, s = np.asarray(labels, int), np.asarray(scores, float)
    if not _both_classes(y):
        return None
    fpr, tpr, thresholds = roc_curve(y, s, drop_intermediate=False)
    best = int(np.argmax(tpr + (1 - fpr)))  # balanced accuracy = (TPR + TNR) / 2
    return {
        "threshold": round(float(min(thresholds[best], 1.0)), 4),
        "balanced_accuracy": round(50.0 * float(tpr[best] + 1 - fpr[best]), 2),
    }


def by_source(
    sources: Sequence[str],
    labels: Sequence[int],
    predictions: Sequence[int],
    scores: Sequence[float],
) -> dict[str, dict[str, Any]]:
    """binary_metrics per source (in order of first appearance), each with its ROC corners."""
    rows: dict[str, list[int]] = defaultdict(list)
    for i, src in enumerate(sources):
        rows[src].append(i)
    out = {}
    for src, idx in rows.items():
        y = [labels[i] for i in idx]
        s = [scores[i] for i in idx]
        out[src] = {**binary_metrics(y, [predictions[i] for i in idx], s), "roc": roc_points(y, s)}
    return out
