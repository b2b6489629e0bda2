"""An abstractive answer: the generator's text checked against the article by the faithfulness
guard (spans, and the claim verifier's verdicts when there is one), the caller's policy applied,
in place of the extractive answer it started from (which stays the fallback)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, NamedTuple

import torch

from opslens.model.encoder import Encoder
from opslens.model.faithfulness import check
from opslens.model.options import Policy
from opslens.model.prompt import Source
from opslens.model.results import Analysis, GenerationInfo
from opslens.model.text import Document
from opslens.model.verification import elapsed_ms
from opslens.model.verifier import ClaimVerifier

if TYPE_CHECKING:
    from opslens.model.generator import Generation, Generator


class Context(NamedTuple):
    """An article as the extractive pass left it, for the generator and the guard: `doc` with
    the sentences used, their sentence vectors, and the generator's input."""

    doc: Document
    vecs: torch.Tensor
    source: Source


def generator_input(doc: Document, scores: Sequence[float], title: str | None) -> Source:
    """What the generator reads: the article's sentences (without the headings, boilerplate and
    junk blocks that `parse_document` dropped) with the extractive model's scores, which pick
    the ones a v2 prompt quotes, and the title."""
    return Source(tuple(s.text for s in doc.sentences), tuple(scores), title)


def guarded(
    extractive: Analysis,
    doc: Document,
    vecs: torch.Tensor,
    generation: Generation,
    *,
    generator: Generator,
    encoder: Encoder,
    verifier: ClaimVerifier | None,
    policy: Policy,
    max_words: int,
    generate_ms: float,
) -> Analysis:
    """The extractive answer turned abstractive: `generation` checked against the article (`doc`
    as used, `vecs` its sentence vectors), the policy applied."""
    t0 = time.perf_counter()
    guard = check(
        doc,
        generation.text,
        policy=policy,
        fallback_summary=extractive.summary,
        encoder=encoder,
        article_vectors=vecs,
        rare_words=generator.config.lowercase,
        verifier=verifier,
        quotes=extractive.sentences,
        max_words=max_words,
    )
    check_ms = elapsed_ms(t0)
    timings = extractive.timings_ms.model_copy(
        update={
            "generate_ms": round(generate_ms, 2),
            "check_ms": check_ms,
            "total_ms": round(extractive.timings_ms.total_ms + generate_ms + check_ms, 2),
        }
    )
    info = GenerationInfo(
        engine=generation.engine,
        adapter=generator.adapter,
        max_words=max_words,
        prompt_tokens=generation.prompt_tokens,
        new_tokens=generation.new_tokens,
        article_truncated=generation.article_truncated,
    )
    return extractive.model_copy(
        update={
            "mode": "abstractive",
            "summary": guard.summary,
            "faithfulness": guard,
            "generation": info,
            "timings_ms": timings,
        }
    )
