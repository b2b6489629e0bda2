"""`OpsLens.verify`: a summary's sentences and free-standing claims checked against an article.

Each statement gets the claim verifier's verdict (supported / not_found / contradicted, with
calibrated probabilities) and the article sentence(s) that decided it, plus the faithfulness
guard's span check (numbers, dates, names the article lacks). A summary also gets a
consistency score, the lowest P(supported) over its sentences, and `consistent` = score at or
above the threshold stored in the verifier component.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch

from opslens.model.encoder import Encoder
from opslens.model.errors import NoSentencesError
from opslens.model.faithfulness import ArticleFacts, unsupported_spans
from opslens.model.html import as_text, read_pages
from opslens.model.language import screen
from opslens.model.options import DEFAULT_FORMAT, DEFAULT_LANGUAGE_POLICY, Format, LanguagePolicy
from opslens.model.results import (
    ModelInfo,
    UnsupportedSpan,
    Verification,
    VerifiedEvidence,
    VerifiedStatement,
    VerifyTimings,
)
from opslens.model.text import Sentence, parse_document, split_sentences
from opslens.model.verifier import ClaimCheck, ClaimVerifier, VerifierConfig


@dataclass(frozen=True, kw_only=True)
class VerifyRequest:
    """One article with a summary to check, claims to check, or both."""

    text: str
    summary: str | None = None
    claims: Sequence[str] = field(default_factory=tuple)
    format: Format = DEFAULT_FORMAT  # html: the page's main content is extracted first (model/html.py)
    language_policy: LanguagePolicy = DEFAULT_LANGUAGE_POLICY  # an article not in English: warn or refuse


def elapsed_ms(since: float) -> float:
    """Milliseconds since `since` (a perf_counter reading), to two decimals."""
    return round((time.perf_counter() - since) * 1000, 2)


def _validate(req: VerifyRequest, where: str) -> None:
    if req.summary is None and not req.claims:
        raise ValueError(f"{where}give a summary, claims, or both")
    if req.summary is not None and not split_sentences(req.summary):
        raise ValueError(f"{where}summary: holds no sentence")
    for i, claim in enumerate(req.claims):
        if not claim.strip():
            raise ValueError(f"{where}claims[{i}]: empty claim")


def lower_case(text: str) -> bool:
    """A lower-cased text has no capitalised names, so the guard looks for rare words instead."""
    return not any(ch.isupper() for ch in text)


def _spans(
    text: str, sentences: Sequence[Sentence], facts: ArticleFacts, index: int
) -> list[list[UnsupportedSpan]]:
    """The span check of `text`, per sentence (`index` + position is each span's `sentence`)."""
    per: list[list[UnsupportedSpan]] = [[] for _ in sentences]
    for f in unsupported_spans(text, sentences, facts, rare_words=lower_case(text)):
        at = next((k for k, s in enumerate(sentences) if s.start <= f.start < s.end), 0)
        per[at].append(
            UnsupportedSpan(
                kind=f.kind,
                text=text[f.start : f.end],
                start=f.start,
                end=f.end,
                normalized=f.key,
                sentence=index + at,
            )
        )
    return per


def _statement(
    text: str,
    start: int,
    end: int,
    check: ClaimCheck,
    article: Sequence[Sentence],
    spans: list[UnsupportedSpan],
) -> VerifiedStatement:
    return VerifiedStatement(
        text=text,
        start=start,
        end=end,
        verdict=check.verdict,
        probabilities={k: round(v, 4) for k, v in check.probabilities.items()},
        evidence=[
            VerifiedEvidence(index=i, text=article[i].text, start=article[i].start, end=article[i].end)
            for i in check.evidence
        ],
        unsupported=spans,
    )


@torch.inference_mode()
def verify_requests(
    items: Sequence[VerifyRequest],
    *,
    encoder: Encoder,
    verifier: ClaimVerifier,
    info: ModelInfo,
    max_article_sentences: int,
    max_text_chars: int | None = None,
) -> list[Verification]:
    """Verify every item; all articles' sentences go through the sentence encoder together."""
    for n, req in enumerate(items):
        _validate(req, f"item {n}: " if len(items) > 1 else "")
    t0 = time.perf_counter()
    pages = read_pages(items, max_text_chars)
    items = [as_text(req, page) for req, page in zip(items, pages, strict=True)]
    docs = [parse_document(req.text) for req in items]
    for n, doc in enumerate(docs):
        if not doc.sentences:
            raise NoSentencesError.of(doc, n if len(items) > 1 else None)
    used = [doc.sentences[:max_article_sentences] for doc in docs]
    languages = screen([[s.normalized for s in u] for u in used], [req.language_policy for req in items])
    parse_ms = elapsed_ms(t0) / len(items)

    t1 = time.perf_counter()
    vectors = encoder.encode([s.normalized for sents in used for s in sents])
    encode_ms = elapsed_ms(t1) / len(items)

    out: list[Verification] = []
    cursor = 0
    for req, doc, sents, page, language in zip(items, docs, used, pages, languages, strict=True):
        t2 = time.perf_counter()
        vecs = vectors[cursor : cursor + len(sents)]
        cursor += len(sents)
        summary_sents = split_sentences(req.summary) if req.summary is not None else []
        claims = [c.strip() for c in req.claims]
        statements = [" ".join(s.text.split()) for s in summary_sents] + [" ".join(c.split()) for c in claims]
        checks = verifier.verify(statements, [s.normalized for s in sents], vecs)
        facts = ArticleFacts.of(doc.source)

        summary: list[VerifiedStatement] = []
        if req.summary is not None:
            spans = _spans(req.summary, summary_sents, facts, 0)
            summary = [
                _statement(s.text, s.start, s.end, check, sents, spans[k])
                for k, (s, check) in enumerate(zip(summary_sents, checks, strict=False))
            ]
        claim_out = []
        for k, (claim, check) in enumerate(zip(claims, checks[len(summary_sents) :], strict=True)):
            [spans_k] = _spans(claim, [Sentence(text=claim, start=0, end=len(claim))], facts, k)
            claim_out.append(_statement(claim, 0, len(claim), check, sents, spans_k))

        threshold = verifier.config.consistency_threshold
        score = min((c.probabilities["supported"] for c in checks[: len(summary_sents)]), default=None)
        verify_ms = elapsed_ms(t2)
        out.append(
            Verification(
                summary=summary,
                claims=claim_out,
                consistent=None if score is None else score >= threshold,
                score=None if score is None else round(score, 4),
                threshold=threshold,
                text=None if page is None else page.text,
                title=None if page is None else page.title,
                model=info,
                **language.fields(),
                timings_ms=VerifyTimings(
                    parse_ms=round(parse_ms, 2),
                    encode_ms=round(encode_ms, 2),
                    verify_ms=verify_ms,
                    total_ms=round(parse_ms + encode_ms + verify_ms, 2),
                ),
            )
        )
    return out


def describe(cfg: VerifierConfig | None) -> str | None:
    """ModelInfo.verifier: what the verifier is, in words (known before it is loaded)."""
    if cfg is None:
        return None
    return f"{cfg.base} cross-encoder + LoRA r={cfg.lora_r} (verdict and stance heads)"
