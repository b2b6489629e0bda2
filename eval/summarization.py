"""Summarization suite: the model against lead-3 and random-3 on the same articles.

Every summary comes from the public `OpsLens.analyze_batch`; baselines read the same
cleaned sentences (`parse_document`), so the comparison is about choice, not cleaning.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from typing import Any

from opslens.eval.rouge import ROUGE_TYPES, rouge_per_example, rouge_with_ci
from opslens.model.pipeline import OpsLens, Request
from opslens.model.text import parse_document, words
from tqdm import tqdm

FIELDS = ("id", "article", "summary")


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for lo in range(0, len(items), size):
        yield items[lo : lo + size]


def lead_k(sentences: Sequence[str], k: int) -> list[str]:
    return list(sentences[:k])


def random_k(sentences: Sequence[str], k: int, rng: random.Random) -> list[str]:
    picked = sorted(rng.sample(range(len(sentences)), min(k, len(sentences))))
    return [sentences[i] for i in picked]


def _figures(preds: Sequence[str], refs: Sequence[str], articles: Sequence[str], n_bootstrap: int) -> dict:
    ci = rouge_with_ci(preds, refs, n_samples=n_bootstrap)
    summary_words = [len(words(p)) for p in preds]
    article_words = [len(words(a)) for a in articles]
    return {
        **{k: round(ci[k]["f1"], 3) for k in ROUGE_TYPES},
        "ci95": {k: [round(ci[k]["low"], 3), round(ci[k]["high"], 3)] for k in ROUGE_TYPES},
        "summary_words_mean": round(sum(summary_words) / len(preds), 2),
        "compression_mean": round(
            sum(a / max(s, 1) for a, s in zip(article_words, summary_words, strict=True)) / len(preds), 2
        ),
    }


def run_summarization(
    model: OpsLens,
    rows: Sequence[dict[str, Any]],
    *,
    max_sentences: int = 3,
    batch_size: int = 8,
    n_bootstrap: int = 1000,
    seed: int = 0,
) -> tuple[dict, dict, list[dict]]:
    """Returns (metrics, baselines, per-example records)."""
    articles = [r["article"] for r in rows]
    refs = [r["summary"] for r in rows]
    preds: list[str] = []
    for batch in tqdm(list(_chunks(rows, batch_size)), desc="summarize", mininterval=5):
        results = model.analyze_batch(
            [Request(r["article"], r.get("title"), (), max_sentences) for r in batch]
        )
        # One sentence per line: what ROUGE-Lsum expects.
        preds += ["\n".join(" ".join(s.text.split()) for s in res.sentences) for res in results]

    rng = random.Random(seed)
    sentences = [[s.normalized for s in parse_document(a).sentences] for a in articles]
    lead = ["\n".join(lead_k(s, max_sentences)) for s in sentences]
    rand = ["\n".join(random_k(s, max_sentences, rng)) for s in sentences]

    metrics = _figures(preds, refs, articles, n_bootstrap)
    baselines = {
        f"lead{max_sentences}": _figures(lead, refs, articles, n_bootstrap),
        f"random{max_sentences}": _figures(rand, refs, articles, n_bootstrap),
    }
    per = rouge_per_example(preds, refs)
    per_lead = rouge_per_example(lead, refs)
    records = [
        {
            "id": r["id"],
            "prediction": p,
            "reference": r["summary"],
            "lead": ld,
            **{k: round(v, 3) for k, v in s.items()},
            "lead_rouge1": round(sl["rouge1"], 3),
        }
        for r, p, ld, s, sl in zip(rows, preds, lead, per, per_lead, strict=True)
    ]
    return metrics, baselines, records
