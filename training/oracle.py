"""Oracle extractive labels: greedily add the sentence that most raises ROUGE-1 + ROUGE-2
F1 against the reference, stopping when nothing improves (BertSumExt's recipe)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from rouge_score.tokenizers import DefaultTokenizer

_TOKENIZER = DefaultTokenizer(use_stemmer=True)


def _ngrams(tokens: Sequence[str], n: int) -> Counter:
    return Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


def _f1(candidate: Counter, reference: Counter) -> float:
    overlap = sum((candidate & reference).values())
    if not overlap:
        return 0.0
    p = overlap / sum(candidate.values())
    r = overlap / sum(reference.values())
    return 2 * p * r / (p + r)


def greedy_oracle(sentences: Sequence[str], reference: str, max_sentences: int = 3) -> list[int]:
    """Indices (sorted) of the oracle summary sentences."""
    ref_tokens = _TOKENIZER.tokenize(reference)
    refs = {n: _ngrams(ref_tokens, n) for n in (1, 2)}
    sent_grams = [
        {n: _ngrams(toks, n) for n in (1, 2)} for toks in (_TOKENIZER.tokenize(s) for s in sentences)
    ]
    chosen: list[int] = []
    current = {1: Counter(), 2: Counter()}
    best = 0.0
    for _ in range(max_sentences):
        pick, pick_score = None, best
        for i, grams in enumerate(sent_grams):
            if i in chosen:
                continue
            score = sum(_f1(current[n] + grams[n], refs[n]) for n in (1, 2))
            if score > pick_score:
                pick, pick_score = i, score
        if pick is None:
            break
        chosen.append(pick)
        best = pick_score
        for n in (1, 2):
            current[n] += sent_grams[pick][n]
    return sorted(chosen)
