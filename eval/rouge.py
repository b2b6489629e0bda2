"""ROUGE as papers report it: rouge-score F1 with stemming, ROUGE-Lsum over
newline-separated sentences, 95% bootstrap confidence intervals."""

from __future__ import annotations

from collections.abc import Sequence

from rouge_score import rouge_scorer, scoring

ROUGE_TYPES = ("rouge1", "rouge2", "rougeLsum")


def _scorer() -> rouge_scorer.RougeScorer:
    return rouge_scorer.RougeScorer(list(ROUGE_TYPES), use_stemmer=True)


def rouge_per_example(predictions: Sequence[str], references: Sequence[str]) -> list[dict[str, float]]:
    """F1 x 100 per example. Summaries must have one sentence per line for ROUGE-Lsum."""
    scorer = _scorer()
    out = []
    for pred, ref in zip(predictions, references, strict=True):
        scores = scorer.score(ref, pred)
        out.append({k: 100 * scores[k].fmeasure for k in ROUGE_TYPES})
    return out


def rouge_with_ci(
    predictions: Sequence[str], references: Sequence[str], *, n_samples: int = 1000, seed: int = 0
) -> dict[str, dict[str, float]]:
    """{rouge_type: {"f1", "low", "high"}} with F1 x 100 and a 95% bootstrap interval."""
    import numpy as np

    scorer = _scorer()
    # BootstrapAggregator draws with numpy's global RNG; seed it so reruns agree.
    np.random.seed(seed)
    agg = scoring.BootstrapAggregator(confidence_interval=0.95, n_samples=n_samples)
    for pred, ref in zip(predictions, references, strict=True):
        agg.add_scores(scorer.score(ref, pred))
    result = agg.aggregate()
    return {
        k: {
            "f1": 100 * result[k].mid.fmeasure,
            "low": 100 * result[k].low.fmeasure,
            "high": 100 * result[k].high.fmeasure,
        }
        for k in ROUGE_TYPES
    }
