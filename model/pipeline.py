"""The public inference API: `OpsLens.load()` then `.analyze(text, title=..., claims=...)`.

The HTTP service and the evaluation harness both call this and nothing below it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from opslens.model.artifact import SHIPPED_ARTIFACT, load_component, verify_artifact
from opslens.model.encoder import ENCODER_NAME, Encoder, load_encoder
from opslens.model.errors import AbstractiveUnavailableError, NoSentencesError, VerifierUnavailableError
from opslens.model.extractive import ExtractiveConfig, ExtractiveScorer, summarize
from opslens.model.faithfulness import check
from opslens.model.language import screen
from opslens.model.options import (
    DEFAULT_BACKEND,
    DEFAULT_ENGINE,
    DEFAULT_LANGUAGE_POLICY,
    DEFAULT_MAX_SENTENCES,
    DEFAULT_MAX_WORDS,
    DEFAULT_MODE,
    DEFAULT_POLICY,
    Backend,
    Engine,
    LanguagePolicy,
    Mode,
    Policy,
)
from opslens.model.results import Analysis, GenerationInfo, ModelInfo, Timings, Truncation, Verification
from opslens.model.stance import StanceClassifier, StanceConfig, claim_stances, verified_stances
from opslens.model.text import Document, parse_document
from opslens.model.verification import VerifyRequest, describe, verify_requests
from opslens.model.verifier import COMPONENT as VERIFIER
from opslens.model.verifier import ClaimVerifier

if TYPE_CHECKING:
    from opslens.model.generator import Generation, Generator

COMPONENTS = ("extractive", "stance")  # what an artifact must hold to serve
ABSTRACTIVE = "abstractive"  # optional component: the generator's LoRA adapter
DEFAULT_MAX_ARTICLE_SENTENCES = 1000


@dataclass(frozen=True, kw_only=True)
class AnalysisRequest:
    """One article to analyze, with what the caller asked for."""

    text: str
    title: str | None = None
    claims: Sequence[str] = field(default_factory=tuple)
    max_sentences: int = DEFAULT_MAX_SENTENCES
    mode: Mode = DEFAULT_MODE
    max_words: int = DEFAULT_MAX_WORDS  # abstractive only
    policy: Policy = DEFAULT_POLICY  # abstractive only: what to do with unsupported spans
    language_policy: LanguagePolicy = DEFAULT_LANGUAGE_POLICY  # a text not in English: warn or refuse


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
        generator: Generator | None = None,
        verifier: ClaimVerifier | None = None,
    ) -> None:
        self.encoder = encoder
        self.scorer = scorer
        self.stance = stance
        self.info = info
        self.max_article_sentences = max_article_sentences
        self.generator = generator
        self.verifier = verifier

    @classmethod
    def load(
        cls,
        path: Path | str | None = None,
        *,
        threads: int | None = None,
        max_article_sentences: int = DEFAULT_MAX_ARTICLE_SENTENCES,
        backend: Backend = DEFAULT_BACKEND,
        cache_dir: Path | None = None,
        abstractive: bool = False,
        engine: Engine = DEFAULT_ENGINE,
        zero_shot: bool = False,
        verifier: bool = True,
    ) -> OpsLens:
        """Load an artifact folder (default: the one shipped in the package).

        `backend` picks the sentence encoder: "torch" (reference) or "onnx" (int8 ONNX Runtime,
        built into `cache_dir` on first use; see onnx_encoder.py). `abstractive` also loads the
        generator (the artifact's adapter on SmolLM2, or the bare base with `zero_shot`),
        decoding with `engine` ("ct2" int8 or "hf" float32; see generator.py). The claim verifier
        loads when the artifact has one, unless `verifier=False` (then stances and the guard are
        today's, and `verify` is refused)."""
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
        generator = None
        if abstractive:
            from opslens.model.base_model import default_cache
            from opslens.model.generator import Generator

            if not zero_shot and ABSTRACTIVE not in manifest.components:
                raise AbstractiveUnavailableError(
                    f"artifact {folder} has no '{ABSTRACTIVE}' component (train one with "
                    "`opslens train abstractive`), or load the zero-shot base instead"
                )
            generator = Generator.load(
                None if zero_shot else folder,
                threads=threads,
                engine=engine,
                cache=default_cache(cache_dir) if cache_dir else None,
            )
        checker = None
        if verifier and VERIFIER in manifest.components:
            checker = ClaimVerifier.load(folder, encoder)
        info = ModelInfo(
            name=manifest.name,
            version=manifest.version,
            encoder=ENCODER_NAME,
            backend=backend,
            generator=_describe(generator),
            verifier=describe(checker),
        )
        return cls(
            encoder,
            scorer,
            stance,
            info,
            max_article_sentences=max_article_sentences,
            generator=generator,
            verifier=checker,
        )

    def analyze(
        self,
        text: str,
        *,
        title: str | None = None,
        claims: Sequence[str] = (),
        max_sentences: int = DEFAULT_MAX_SENTENCES,
        mode: Mode = DEFAULT_MODE,
        max_words: int = DEFAULT_MAX_WORDS,
        policy: Policy = DEFAULT_POLICY,
    ) -> Analysis:
        request = AnalysisRequest(
            text=text,
            title=title,
            claims=tuple(claims),
            max_sentences=max_sentences,
            mode=mode,
            max_words=max_words,
            policy=policy,
        )
        return self.analyze_batch([request])[0]

    def verify(self, text: str, *, summary: str | None = None, claims: Sequence[str] = ()) -> Verification:
        """Check a summary's sentences and/or claims against the article `text`."""
        return self.verify_batch([VerifyRequest(text=text, summary=summary, claims=tuple(claims))])[0]

    def verify_batch(self, items: Sequence[VerifyRequest]) -> list[Verification]:
        if self.verifier is None:
            raise VerifierUnavailableError(
                f"no claim verifier loaded: the artifact has no '{VERIFIER}' component, or it was "
                "loaded with verifier=False"
            )
        return verify_requests(
            items,
            encoder=self.encoder,
            verifier=self.verifier,
            info=self.info,
            max_article_sentences=self.max_article_sentences,
        )

    def _need_generator(self) -> Generator:
        if self.generator is None:
            raise AbstractiveUnavailableError(
                "abstractive mode is off: load with abstractive=True (server: OPSLENS_ABSTRACTIVE=true) "
                f"and an artifact holding the '{ABSTRACTIVE}' component"
            )
        return self.generator

    @torch.inference_mode()
    def analyze_batch(self, requests: Sequence[AnalysisRequest]) -> list[Analysis]:
        """Analyze several articles; all their sentences go through the encoder together, and
        the abstractive ones are decoded together."""
        if any(r.mode == "abstractive" for r in requests):
            self._need_generator()  # refuse before any work is done
        out, contexts = self._extract(requests)
        todo = [(i, *contexts[i]) for i, r in enumerate(requests) if r.mode == "abstractive"]
        if todo:
            self._generate_guarded(requests, out, todo)
        return out

    def _extract(
        self, requests: Sequence[AnalysisRequest]
    ) -> tuple[list[Analysis], list[tuple[Document, torch.Tensor]]]:
        """Extractive summaries and stances, plus each article as used (sentences within the
        limit) with its sentence vectors, for the faithfulness guard."""
        t0 = time.perf_counter()
        docs = [parse_document(r.text) for r in requests]
        for i, doc in enumerate(docs):
            if not doc.sentences:
                raise NoSentencesError.of(doc, i if len(requests) > 1 else None)
        used = [doc.sentences[: self.max_article_sentences] for doc in docs]
        languages = screen([[s.normalized for s in u] for u in used], [r.language_policy for r in requests])
        parse_ms = _ms(t0)

        t1 = time.perf_counter()
        texts: list[str] = []
        for req, sents in zip(requests, used, strict=True):
            texts += [s.normalized for s in sents]
            texts += [" ".join(c.split()) for c in self._claims(req)]
        vectors = self.encoder.encode(texts)
        encode_ms = _ms(t1) / len(requests)

        out: list[Analysis] = []
        contexts: list[tuple[Document, torch.Tensor]] = []
        cursor = 0
        for req, doc, sents, language in zip(requests, docs, used, languages, strict=True):
            claims = self._claims(req)
            sent_vecs = vectors[cursor : cursor + len(sents)]
            claim_vecs = vectors[cursor + len(sents) : cursor + len(sents) + len(claims)]
            cursor += len(sents) + len(claims)

            t2 = time.perf_counter()
            picked = summarize(self.scorer, sents, sent_vecs, req.max_sentences)
            summarize_ms = _ms(t2)
            t3 = time.perf_counter()
            stances = claim_stances(self.stance, claims, claim_vecs, sents, sent_vecs)
            stance_ms = _ms(t3)
            t4 = time.perf_counter()
            if self.verifier is not None and stances:
                stances = verified_stances(self.verifier, stances, claim_vecs, sents, sent_vecs)
            verify_ms = _ms(t4)

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
                    **language.fields(),
                    timings_ms=Timings(
                        parse_ms=parse_ms / len(requests),
                        encode_ms=encode_ms,
                        summarize_ms=summarize_ms,
                        stance_ms=stance_ms,
                        verify_ms=verify_ms,
                        total_ms=_ms(t0) / len(requests),
                    ),
                )
            )
            contexts.append((replace(doc, sentences=tuple(sents)), sent_vecs))
        return out, contexts

    def _generate_guarded(
        self,
        requests: Sequence[AnalysisRequest],
        out: list[Analysis],
        items: list[tuple[int, Document, torch.Tensor]],
    ) -> None:
        """Generate the abstractive summaries of `items` (one decode batch per max_words) and
        replace each extractive answer in `out` with the guarded generation."""
        generator = self._need_generator()
        by_length: dict[int, list[tuple[int, Document, torch.Tensor]]] = {}
        for item in items:
            by_length.setdefault(requests[item[0]].max_words, []).append(item)
        for max_words, group in by_length.items():
            t0 = time.perf_counter()
            generations = generator.generate_batch(
                [_article(doc) for _, doc, _ in group], max_words=max_words
            )
            generate_ms = _ms(t0) / len(group)
            for (i, doc, vecs), generation in zip(group, generations, strict=True):
                out[i] = self._guarded(out[i], requests[i], doc, vecs, generation, generate_ms)

    def _guarded(
        self,
        extractive: Analysis,
        req: AnalysisRequest,
        doc: Document,
        vecs: torch.Tensor,
        generation: Generation,
        generate_ms: float,
    ) -> Analysis:
        """The extractive answer turned abstractive: the generation checked against the article,
        the policy applied (the extractive summary is the fallback)."""
        generator = self._need_generator()
        t0 = time.perf_counter()
        guard = check(
            doc,
            generation.text,
            policy=req.policy,
            fallback_summary=extractive.summary,
            encoder=self.encoder,
            article_vectors=vecs,
            rare_words=generator.config.lowercase,
            verifier=self.verifier,
        )
        check_ms = _ms(t0)
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
            max_words=req.max_words,
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

    def stream(self, request: AnalysisRequest) -> Iterator[str | Analysis]:
        """Abstractive mode, token by token: text pieces as they are decoded, then the finished
        `Analysis` (guarded, with stances). Close the iterator to stop decoding."""
        generator = self._need_generator()
        with torch.inference_mode():
            [extractive], [(doc, vecs)] = self._extract([request])
        t0 = time.perf_counter()
        generation = None
        for piece in generator.stream(_article(doc), max_words=request.max_words):
            if isinstance(piece, str):
                yield piece
            else:
                generation = piece
        if generation is None:  # the generator always ends with its Generation
            raise RuntimeError("generator stream ended without a result")
        with torch.inference_mode():
            result = self._guarded(extractive, request, doc, vecs, generation, _ms(t0))
        yield result

    @staticmethod
    def _claims(req: AnalysisRequest) -> list[str]:
        return ([req.title] if req.title else []) + list(req.claims)


def _article(doc: Document) -> str:
    """What the generator reads: the article's sentences, without the headings, boilerplate and
    junk blocks that `parse_document` dropped (they waste the prompt's token budget)."""
    return " ".join(s.text for s in doc.sentences)


def _describe(generator: Generator | None) -> str | None:
    if generator is None:
        return None
    weights = "LoRA adapter" if generator.adapter else "zero-shot base"
    return f"{generator.config.base} + {weights} ({generator.engine.name})"
