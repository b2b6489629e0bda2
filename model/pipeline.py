"""The public inference API: `OpsLens.load()` then `.analyze(text, title=..., claims=...)`.

The HTTP service and the evaluation harness both call this and nothing below it.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from opslens.model.artifact import SHIPPED_ARTIFACT, load_component, verify_artifact
from opslens.model.encoder import ENCODER_NAME, Backend, Encoder, load_encoder
from opslens.model.extractive import ExtractiveConfig, ExtractiveScorer, pad_documents, select_sentences
from opslens.model.labels import STANCE_READINGS
from opslens.model.results import (
    Analysis,
    Evidence,
    ModelInfo,
    Stance,
    SummarySentence,
    Timings,
    Truncation,
)
from opslens.model.stance import StanceClassifier, StanceConfig, collate, stance_input
from opslens.model.text import Sentence, parse_document, words

DEFAULT_MAX_SENTENCES = 3
COMPONENTS = ("extractive", "stance")  # what an artifact must hold to serve
DEFAULT_MAX_ARTICLE_SENTENCES = 1000


class NoSentencesError(ValueError):
    """The text holds no article sentence to summarise."""


@dataclass(frozen=True)
class Request:
    text: str
    title: str | None = None
    claims: Sequence[str] = field(default_factory=tuple)
    max_sentences: int = DEFAULT_MAX_SENTENCES


def _ms(since: float) -> float:
    return round((time.perf_counter() - since) * 1000, 2)


class OpsLens:
    def __init__(
        self,
        encoder: Encoder,
        scorer: ExtractiveScorer,
        stance: StanceClassifier,
        info: ModelInfo,
        *,
        max_article_sentences: int = DEFAULT_MAX_ARTICLE_SENTENCES,
    ) -> None:
        self.encoder = encoder
        self.scorer = scorer
        self.stance = stance
        self.info = info
        self.max_article_sentences = max_article_sentences

    @classmethod
    def load(
        cls,
        path: Path | str | None = None,
        *,
        threads: int | None = None,
        max_article_sentences: int = DEFAULT_MAX_ARTICLE_SENTENCES,
        backend: Backend = "torch",
        cache_dir: Path | None = None,
    ) -> OpsLens:
        """Load an artifact folder (default: the one shipped in the package).

        `backend` picks the sentence encoder: "torch" (reference) or "onnx" (int8 ONNX Runtime,
        built into `cache_dir` on first use; see onnx_encoder.py)."""
        if threads:
            torch.set_num_threads(threads)
        folder = Path(path) if path else SHIPPED_ARTIFACT
        manifest = verify_artifact(folder, COMPONENTS)
        scorer, _ = load_component(folder, "extractive", ExtractiveScorer, ExtractiveConfig)
        stance, _ = load_component(folder, "stance", StanceClassifier, StanceConfig)
        encoder = load_encoder(
            backend,
            window_tokens=int(manifest.encoder.get("window_tokens", 256)),
            threads=threads,
            cache_dir=cache_dir,
        )
        info = ModelInfo(name=manifest.name, version=manifest.version, encoder=ENCODER_NAME, backend=backend)
        return cls(encoder, scorer, stance, info, max_article_sentences=max_article_sentences)

    def analyze(
        self,
        text: str,
        *,
        title: str | None = None,
        claims: Sequence[str] = (),
        max_sentences: int = DEFAULT_MAX_SENTENCES,
    ) -> Analysis:
        return self.analyze_batch([Request(text, title, tuple(claims), max_sentences)])[0]

    @torch.inference_mode()
    def analyze_batch(self, requests: Sequence[Request]) -> list[Analysis]:
        """Analyse several articles; all their sentences go through the encoder together."""
        t0 = time.perf_counter()
        docs = [parse_document(r.text) for r in requests]
        for i, doc in enumerate(docs):
            if not doc.sentences:
                where = f"item {i}: " if len(requests) > 1 else ""
                raise NoSentencesError(
                    f"{where}text contains no article sentence (need a sentence of at least 4 words; "
                    f"{len(doc.dropped)} block(s) were ignored as headings, boilerplate or unreadable data)"
                )
        used = [doc.sentences[: self.max_article_sentences] for doc in docs]
        parse_ms = _ms(t0)

        t1 = time.perf_counter()
        texts: list[str] = []
        for req, sents in zip(requests, used, strict=True):
            texts += [s.normalized for s in sents]
            texts += [" ".join(c.split()) for c in self._claims(req)]
        vectors = self.encoder.encode(texts)
        encode_ms = _ms(t1) / len(requests)

        out: list[Analysis] = []
        cursor = 0
        for req, doc, sents in zip(requests, docs, used, strict=True):
            claims = self._claims(req)
            sent_vecs = vectors[cursor : cursor + len(sents)]
            claim_vecs = vectors[cursor + len(sents) : cursor + len(sents) + len(claims)]
            cursor += len(sents) + len(claims)

            t2 = time.perf_counter()
            picked = self._summarize(sents, sent_vecs, req.max_sentences)
            summarize_ms = _ms(t2)
            t3 = time.perf_counter()
            stances = self._stances(claims, claim_vecs, sents, sent_vecs)
            stance_ms = _ms(t3)

            truncated = len(doc.sentences) > len(sents)
            out.append(
                Analysis(
                    summary=" ".join(s.text.strip() for s in picked),
                    sentences=picked,
                    title_stance=stances[0] if req.title else None,
                    claim_stances=stances[1:] if req.title else stances,
                    n_sentences=len(doc.sentences),
                    dropped_blocks=len(doc.dropped),
                    truncated=truncated,
                    truncation=Truncation(
                        truncated=truncated,
                        sentences_total=len(doc.sentences),
                        sentences_used=len(sents),
                        limit=self.max_article_sentences,
                    ),
                    model=self.info,
                    timings_ms=Timings(
                        parse_ms=parse_ms / len(requests),
                        encode_ms=encode_ms,
                        summarize_ms=summarize_ms,
                        stance_ms=stance_ms,
                        total_ms=_ms(t0) / len(requests),
                    ),
                )
            )
        return out

    @staticmethod
    def _claims(req: Request) -> list[str]:
        return ([req.title] if req.title else []) + list(req.claims)

    def _summarize(
        self, sents: Sequence[Sentence], vecs: torch.Tensor, max_sentences: int
    ) -> list[SummarySentence]:
        padded, mask = pad_documents([vecs])
        scores = torch.sigmoid(self.scorer(padded, mask))[0].tolist()
        chosen = select_sentences(scores, [words(s.text) for s in sents], max_sentences)
        return [
            SummarySentence(
                index=i, text=sents[i].text, start=sents[i].start, end=sents[i].end, score=round(scores[i], 4)
            )
            for i in chosen
        ]

    def _stances(
        self, claims: list[str], claim_vecs: torch.Tensor, sents: Sequence[Sentence], sent_vecs: torch.Tensor
    ) -> list[Stance]:
        if not claims:
            return []
        texts = [s.normalized for s in sents]
        batch = collate(
            [stance_input(c, v, texts, sent_vecs) for c, v in zip(claims, claim_vecs, strict=True)]
        )
        logits, weights = self.stance(**batch)
        probs = self.stance.probabilities(logits)
        labels = self.stance.config.labels
        out = []
        for claim, p, w in zip(claims, probs, weights, strict=True):
            label = labels[int(p.argmax())]
            best = int(w.argmax())
            evidence = None
            if label != "unrelated":
                s = sents[best]
                evidence = Evidence(
                    index=best, text=s.text, start=s.start, end=s.end, weight=round(float(w[best]), 4)
                )
            out.append(
                Stance(
                    claim=claim,
                    label=label,
                    reading=STANCE_READINGS[label],
                    probabilities={lab: round(float(x), 4) for lab, x in zip(labels, p, strict=True)},
                    evidence=evidence,
                )
            )
        return out
