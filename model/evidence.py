"""The evidence window a claim is verified against: a few article sentences, in article order.

A cross-encoder reads the claim and its evidence together, so the evidence must fit its
window (~256 tokens with the claim). We rank the article's sentences by the sentence
encoder's cosine to the claim plus the share of the claim's content words they contain
(the encoder alone misses a sentence that repeats the claim's names and numbers in other
words; overlap alone misses paraphrases), keep the best ones that fit the token budget, and
return them in article order so the window reads as the article does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from opslens.model.lexical import content_words

DEFAULT_SENTENCES = 4
DEFAULT_MAX_TOKENS = 256
DEFAULT_LEXICAL_WEIGHT = 0.5
SPECIAL_TOKENS = 3  # [CLS] claim [SEP] evidence [SEP]


def claim_budget(max_tokens: int) -> int:
    """Tokens a claim may take; a longer claim is cut so the evidence always gets half."""
    return max_tokens // 2


@dataclass(frozen=True, slots=True)
class EvidenceWindow:
    """Indices into the article's sentences, ascending, and each one's retrieval score."""

    indices: tuple[int, ...]
    scores: tuple[float, ...]

    def text(self, sentences: Sequence[str]) -> str:
        return " ".join(sentences[i] for i in self.indices)

    @property
    def best(self) -> int | None:
        """The best-ranked sentence of the window (None for an empty article)."""
        if not self.indices:
            return None
        return self.indices[max(range(len(self.scores)), key=self.scores.__getitem__)]


def lexical_overlap(claim: str, sentences: Sequence[str]) -> list[float]:
    """Share of the claim's content words each sentence contains."""
    wanted = set(content_words(claim))
    if not wanted:
        return [0.0] * len(sentences)
    return [len(wanted & set(content_words(s))) / len(wanted) for s in sentences]


def select_window(
    claim: str,
    claim_vector: torch.Tensor,
    sentences: Sequence[str],
    sentence_vectors: torch.Tensor,
    sentence_tokens: Sequence[int],
    claim_tokens: int,
    *,
    k: int = DEFAULT_SENTENCES,
    max_tokens: int = DEFAULT_MAX_TOKENS,
    lexical_weight: float = DEFAULT_LEXICAL_WEIGHT,
) -> EvidenceWindow:
    """The top-`k` sentences by cosine + `lexical_weight` x overlap that fit, with the claim,
    in `max_tokens`. The best sentence is always kept (the model truncates it if it must)."""
    if not sentences:
        return EvidenceWindow((), ())
    cosine = (sentence_vectors @ claim_vector).tolist()
    overlap = lexical_overlap(claim, sentences)
    scores = [c + lexical_weight * o for c, o in zip(cosine, overlap, strict=True)]
    order = sorted(range(len(sentences)), key=lambda i: (-scores[i], i))
    budget = max_tokens - SPECIAL_TOKENS - min(claim_tokens, claim_budget(max_tokens))
    chosen: list[int] = []
    for i in order:
        if len(chosen) == k:
            break
        if chosen and sentence_tokens[i] > budget:
            continue  # a shorter, lower-ranked sentence may still fit
        chosen.append(i)
        budget -= sentence_tokens[i]
    chosen.sort()
    return EvidenceWindow(tuple(chosen), tuple(round(scores[i], 4) for i in chosen))
