"""The guard: the spans of a summary its article does not back, and the policy applied to them.

The result (`opslens.model.results.Faithfulness`) always says what was done.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

import torch

from opslens.model.faithfulness.alignment import DEFAULT_TOP_K, align
from opslens.model.faithfulness.dates import find_dates
from opslens.model.faithfulness.names import acronyms, find_entities, is_acronym, name_supported
from opslens.model.faithfulness.numbers import find_numbers, number_supported
from opslens.model.faithfulness.rare_words import common_words, find_rare_words
from opslens.model.faithfulness.spans import STEM, FactSpan, name_tokens
from opslens.model.options import POLICIES, Policy
from opslens.model.results import CheckedSentence, Faithfulness, SummarySentence, Support, UnsupportedSpan
from opslens.model.text import Document, Sentence, split_sentences

if TYPE_CHECKING:
    from opslens.model.encoder import SentenceEncoder
    from opslens.model.verifier import ClaimVerifier

REJECTED = ("contradicted", "not_found")  # verdicts that count against a sentence like a bad span


@dataclass(frozen=True)
class ArticleFacts:
    """What the article offers to support a summary: computed once per article."""

    numbers: frozenset[str]
    dates: frozenset[str]
    tokens: tuple[str, ...]

    @cached_property
    def acronyms(self) -> frozenset[str]:
        # On first use only: few summaries hold an acronym, and the initials of every run of
        # words cost ~7 ms of a 900-word article's /verify.
        return acronyms(self.tokens)

    @classmethod
    def of(cls, text: str) -> ArticleFacts:
        return cls(
            numbers=frozenset(f.key for f in find_numbers(text)),
            dates=frozenset(f.key for f in find_dates(text)),
            tokens=tuple(name_tokens(text)),
        )


def unsupported_spans(
    generated: str, sentences: Sequence[Sentence], facts: ArticleFacts, *, rare_words: bool = True
) -> list[FactSpan]:
    """Numbers, dates and names of `generated` that the article does not back; with
    `rare_words`, also lower-case words that are rare in English and absent from the article."""
    found = find_numbers(generated) + find_dates(generated)
    article_words = set(facts.tokens)
    extra = find_entities(generated, sentences, article_words)
    if rare_words:
        extra += find_rare_words(generated, common_words(), {w[:STEM] for w in article_words})
    for item in extra:
        if not any(f.start < item.end and item.start < f.end for f in found):
            found.append(item)
    bad = []
    for f in sorted(found, key=lambda f: f.start):
        if f.kind == "number":
            ok = number_supported(f.key, facts.numbers)
        elif f.kind == "date":
            ok = f.key in facts.dates or f.key in article_words
        elif f.kind == "rare_word":
            ok = False  # found only when absent from the article
        else:
            tokens = f.key.split()
            ok = name_supported(tokens, facts.tokens) or (
                len(tokens) == 1 and is_acronym(generated[f.start : f.end]) and tokens[0] in facts.acronyms
            )
        if not ok:
            bad.append(f)
    return bad


def check(
    article: Document,
    generated: str,
    *,
    policy: Policy = "flag",
    fallback_summary: str | None = None,
    encoder: SentenceEncoder | None = None,
    article_vectors: torch.Tensor | None = None,
    top_k: int = DEFAULT_TOP_K,
    rare_words: bool = True,
    verifier: ClaimVerifier | None = None,
    quotes: Sequence[SummarySentence] = (),
    max_words: int | None = None,
) -> Faithfulness:
    """Check `generated` against `article` and apply `policy` to unsupported sentences.

    A sentence is unsupported when it holds an unsupported span, or (with a `verifier`, the
    cross-encoder that reads each sentence with its evidence window and so sees swapped names,
    negations and reversed relations that every span check passes) when its verdict is
    contradicted or not_found.

    - flag: keep the summary, report them.
    - drop_sentence: remove every unsupported sentence; if none is left, use
      `fallback_summary` when given, else return an empty summary.
    - replace_sentence: as drop_sentence, then fill the room left, up to `max_words` in all, with
      `quotes` (the extractive summary's sentences, in article order) that fit, skipping those a
      kept sentence already rests on (its best evidence): the summary keeps its length, and what
      is not written and verified is the article's own text.
    - fallback: if anything is unsupported, return `fallback_summary` instead (required).

    `rare_words=False` skips the rare-word check (for cased text the name check suffices).
    """
    if policy not in POLICIES:
        raise ValueError(f"unknown policy {policy!r}; expected one of {', '.join(POLICIES)}")
    if policy == "fallback" and fallback_summary is None:
        raise ValueError("policy 'fallback' needs a fallback_summary (the extractive summary)")
    sentences = split_sentences(generated)
    evidence, method = align(
        sentences, article, encoder=encoder, article_vectors=article_vectors, top_k=top_k
    )
    bad = unsupported_spans(generated, sentences, ArticleFacts.of(article.source), rare_words=rare_words)

    spans: list[UnsupportedSpan] = []
    per_sentence: list[list[UnsupportedSpan]] = [[] for _ in sentences]
    for f in bad:
        idx = next((i for i, s in enumerate(sentences) if s.start <= f.start < s.end), -1)
        span = UnsupportedSpan(
            kind=f.kind,
            text=generated[f.start : f.end],
            start=f.start,
            end=f.end,
            normalized=f.key,
            sentence=idx,
        )
        spans.append(span)
        if idx >= 0:
            per_sentence[idx].append(span)

    verdicts: list[tuple[str | None, float | None]] = [(None, None)] * len(sentences)
    if verifier is not None and sentences and article.sentences:
        found = verifier.verify(
            [s.normalized for s in sentences],
            [s.normalized for s in article.sentences],
            article_vectors,
            attribute=False,  # the evidence shown is the alignment's
        )
        verdicts = [(c.verdict, round(c.probabilities[c.verdict], 4)) for c in found]
    rejected = [v in REJECTED for v, _ in verdicts]
    bad_sentence = [bool(per_sentence[i]) or rejected[i] for i in range(len(sentences))]
    n_bad = bad_sentence.count(True)
    what = _unsupported_words(len(spans), rejected.count(True))

    keep = [True] * len(sentences)
    quoted: list[SummarySentence] = []
    summary, action = generated.strip(), "none"
    detail = f"nothing unsupported in {len(sentences)} sentence(s)"
    if n_bad and policy == "flag":
        action, detail = "flagged", f"{what} flagged; summary kept as generated"
    elif n_bad and policy in ("drop_sentence", "replace_sentence"):
        keep = [not b for b in bad_sentence]
        kept = [s.text.strip() for s, k in zip(sentences, keep, strict=True) if k]
        detail = f"dropped {n_bad} of {len(sentences)} sentence(s) for {what}"
        if policy == "replace_sentence":
            quoted = _fill(quotes, [ev for ev, k in zip(evidence, keep, strict=True) if k], kept, max_words)
        if quoted:
            action, summary = "replaced_sentences", " ".join(kept + [q.text.strip() for q in quoted])
            detail += f"; {len(quoted)} sentence(s) of the article served in their place"
        elif kept:
            action, summary = "dropped_sentences", " ".join(kept)
        elif fallback_summary is not None:
            action, summary = "fallback", fallback_summary
            detail = f"all {len(sentences)} sentence(s) unsupported ({what}); used the extractive summary"
        else:
            action, summary = "dropped_sentences", ""
            detail = f"all {len(sentences)} sentence(s) unsupported ({what}); nothing left"
    elif n_bad and policy == "fallback":
        keep = [False] * len(sentences)
        action, summary = "fallback", fallback_summary or ""
        detail = f"{what}; replaced by the extractive summary"

    checked = [
        CheckedSentence(
            text=s.text,
            start=s.start,
            end=s.end,
            evidence=ev,
            unsupported=per_sentence[i],
            kept=keep[i],
            verdict=verdicts[i][0],
            verdict_probability=verdicts[i][1],
        )
        for i, (s, ev) in enumerate(zip(sentences, evidence, strict=True))
    ]
    return Faithfulness(
        generated=generated,
        summary=summary,
        policy=policy,
        action=action,
        detail=detail,
        alignment=method,
        sentences=checked,
        unsupported=spans,
        quoted=quoted,
    )


def _fill(
    quotes: Sequence[SummarySentence],
    kept_evidence: Sequence[Sequence[Support]],
    kept: Sequence[str],
    max_words: int | None,
) -> list[SummarySentence]:
    """The quotes that fit the room the kept sentences leave, in order, minus those a kept
    sentence already paraphrases (its best evidence)."""
    used = {ev[0].index for ev in kept_evidence if ev}
    room = math.inf if max_words is None else max_words - sum(len(t.split()) for t in kept)
    out = []
    for q in quotes:
        words = len(q.text.split())
        if q.index in used or words > room:
            continue
        out.append(q)
        used.add(q.index)
        room -= words
    return out


def _unsupported_words(spans: int, rejected: int) -> str:
    """What made sentences unsupported, in words ("2 unsupported span(s) and 1 sentence(s) the
    verifier found contradicted or not in the article")."""
    parts = []
    if spans:
        parts.append(f"{spans} unsupported span(s)")
    if rejected:
        parts.append(f"{rejected} sentence(s) the verifier found contradicted or not in the article")
    return " and ".join(parts)
