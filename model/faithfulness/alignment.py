"""Evidence for each summary sentence: its best supporting article sentences, by cosine of
sentence-encoder vectors, or by content-word overlap when no encoder is given."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch

from opslens.model.lexical import content_words
from opslens.model.results import Alignment, Support
from opslens.model.text import Document, Sentence

if TYPE_CHECKING:
    from opslens.model.encoder import SentenceEncoder

DEFAULT_TOP_K = 2


def _lexical_scores(summary_sentences: Sequence[str], article_sentences: Sequence[str]) -> torch.Tensor:
    """Share of a summary sentence's content words found in each article sentence."""
    art = [set(content_words(a)) for a in article_sentences]
    rows = []
    for s in summary_sentences:
        words = set(content_words(s))
        rows.append([len(words & a) / max(len(words), 1) for a in art])
    return torch.tensor(rows, dtype=torch.float32).reshape(len(summary_sentences), len(article_sentences))


def align(
    summary_sentences: Sequence[Sentence],
    article: Document,
    *,
    encoder: SentenceEncoder | None = None,
    article_vectors: torch.Tensor | None = None,
    top_k: int = DEFAULT_TOP_K,
) -> tuple[list[list[Support]], Alignment]:
    """Best `top_k` supporting article sentences for each summary sentence, best first.

    `article_vectors` (unit rows, one per `article.sentences`) saves re-encoding the article
    when the caller has them; an encoder is still needed for the summary sentences.
    """
    if top_k < 1:
        raise ValueError(f"top_k must be at least 1, got {top_k}")
    arts = article.sentences
    if not summary_sentences or not arts:
        return [[] for _ in summary_sentences], "encoder" if encoder else "lexical"
    if encoder is not None:
        if article_vectors is None:
            article_vectors = encoder.encode([s.normalized for s in arts])
        if article_vectors.shape[0] != len(arts):
            raise ValueError(
                f"article_vectors has {article_vectors.shape[0]} rows for {len(arts)} article sentences"
            )
        scores = encoder.encode([s.normalized for s in summary_sentences]) @ article_vectors.T
        method: Alignment = "encoder"
    else:
        scores = _lexical_scores([s.text for s in summary_sentences], [s.text for s in arts])
        method = "lexical"
    k = min(top_k, len(arts))
    best = torch.topk(scores, k, dim=1)
    out = []
    for vals, idx in zip(best.values.tolist(), best.indices.tolist(), strict=True):
        out.append(
            [
                Support(index=i, text=arts[i].text, start=arts[i].start, end=arts[i].end, score=round(v, 4))
                for v, i in zip(vals, idx, strict=True)
                if not math.isnan(v)
            ]
        )
    return out, method
