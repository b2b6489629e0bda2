"""The public inference API: `OpsLens.load()` then `.analyze(text, title=..., claims=...)`.

The HTTP service and the evaluation harness both call this and nothing below it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from opslens.model.artifact import ArtifactError
from opslens.model.base_model import BaseModelError
from opslens.model.encoder import Encoder
from opslens.model.engine_build import EngineBuildError
from opslens.model.errors import AbstractiveUnavailableError, NoSentencesError, VerifierUnavailableError
from opslens.model.extractive import ExtractiveScorer, frozen_scores, summarize
from opslens.model.extractive_encoder import ExtractiveEncoder
from opslens.model.guarded import Context, generator_input, guarded
from opslens.model.html import Page, as_text, read_pages
from opslens.model.language import Identified, screen
from opslens.model.loading import ABSTRACTIVE, load_parts
from opslens.model.on_demand import OnDemand
from opslens.model.options import (
    DEFAULT_BACKEND,
    DEFAULT_ENGINE,
    DEFAULT_EXTRACTOR,
    DEFAULT_MAX_SENTENCES,
    DEFAULT_MAX_WORDS,
    DEFAULT_MODE,
    DEFAULT_POLICY,
    Backend,
    Engine,
    Extractor,
    Loading,
    Mode,
    Policy,
)
from opslens.model.prompt import Source
from opslens.model.requests import AnalysisRequest
from opslens.model.results import Analysis, ModelInfo, Timings, Truncation, Verification
from opslens.model.stance import StanceClassifier, claim_stances, verified_stances
from opslens.model.text import Document, Sentence, parse_document
from opslens.model.verification import VerifyRequest, elapsed_ms, verify_requests
from opslens.model.verifier import COMPONENT as VERIFIER
from opslens.model.verifier import ClaimVerifier

if TYPE_CHECKING:
    from opslens.model.generator import Generation, Generator

DEFAULT_MAX_ARTICLE_SENTENCES = 1000


@dataclass(frozen=True)
class _Read:
    """A batch's articles after the first part of the extractive pass (`OpsLens._read`)."""

    requests: list[AnalysisRequest]  # html requests as their extracted text
    docs: list[Document]
    used: list[list[Sentence]]  # each article's sentences within the limit
    pages: list[Page | None]
    languages: list[Identified]
    scores: list[list[float]] | None  # the fine-tuned extractor's; None: the frozen scorer's come later
    parse_ms: float
    extract_ms: float  # per request
    elapsed_ms: float

    def source(self, k: int) -> Source | None:
        """The generator's input for article `k`, when the extractor has scored it."""
        if self.scores is None:
            return None
        doc = replace(self.docs[k], sentences=tuple(self.used[k]))
        return generator_input(doc, self.scores[k], self.requests[k].title)


class OpsLens:
    def __init__(
        self,
        encoder: Encoder,
        scorer: ExtractiveScorer,
        stance: StanceClassifier,
        info: ModelInfo,
        *,
        max_article_sentences: int = DEFAULT_MAX_ARTICLE_SENTENCES,
        max_text_chars: int | None = None,
        generator: Generator | None = None,
        generator_on_demand: OnDemand[Generator] | None = None,
        verifier: ClaimVerifier | None = None,
        verifier_on_demand: OnDemand[ClaimVerifier] | None = None,
        extractor: ExtractiveEncoder | None = None,
    ) -> None:
        self.encoder = encoder
        self.scorer = scorer
        self.extractor = extractor  # the fine-tuned extractive model; None: the frozen scorer
        self.stance = stance
        self.info = info
        self.max_article_sentences = max_article_sentences
        self.max_text_chars = max_text_chars  # the longest article text extracted from an HTML page
        self.generator = generator
        self.generator_on_demand = generator_on_demand
        self.verifier = verifier
        self.verifier_on_demand = verifier_on_demand

    @classmethod
    def load(
        cls,
        path: Path | str | None = None,
        *,
        threads: int | None = None,
        max_article_sentences: int = DEFAULT_MAX_ARTICLE_SENTENCES,
        max_text_chars: int | None = None,
        backend: Backend = DEFAULT_BACKEND,
        cache_dir: Path | None = None,
        abstractive: bool | Loading = False,
        engine: Engine = DEFAULT_ENGINE,
        zero_shot: bool = False,
        verifier: bool | Loading = True,
        extractor: Extractor = DEFAULT_EXTRACTOR,
    ) -> OpsLens:
        """Load an artifact folder (default: the one shipped in the package).

        `backend` picks the sentence encoder: "torch" (reference) or "onnx" (int8 ONNX Runtime,
        built into `cache_dir` on first use; see onnx_encoder.py). `abstractive` True (or "on")
        also loads the generator (the artifact's adapter on SmolLM2, or the bare base with
        `zero_shot`), decoding with `engine` ("ort" or "ct2" int8, "hf" float32; see generator.py);
        "auto" loads it on the first abstractive request instead (`load_generator`). The claim verifier
        loads when the artifact has one, unless `verifier=False` (then stances and the guard are
        without it, and `verify` is refused); "auto" loads it when a request first needs it.
        `extractor`: see options.Extractor."""
        parts = load_parts(
            path,
            threads=threads,
            backend=backend,
            cache_dir=cache_dir,
            abstractive=abstractive,
            engine=engine,
            zero_shot=zero_shot,
            verifier=verifier,
            extractor=extractor,
        )
        return cls(
            parts.encoder,
            parts.scorer,
            parts.stance,
            parts.info,
            max_article_sentences=max_article_sentences,
            max_text_chars=max_text_chars,
            generator=parts.generator,
            generator_on_demand=parts.generator_on_demand,
            verifier=parts.verifier,
            verifier_on_demand=parts.verifier_on_demand,
            extractor=parts.extractor,
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
        request = AnalysisRequest(text=text, title=title, claims=tuple(claims), max_sentences=max_sentences)
        return self.analyze_batch([replace(request, mode=mode, max_words=max_words, policy=policy)])[0]

    def verify(self, text: str, *, summary: str | None = None, claims: Sequence[str] = ()) -> Verification:
        """Check a summary's sentences and/or claims against the article `text`."""
        return self.verify_batch([VerifyRequest(text=text, summary=summary, claims=tuple(claims))])[0]

    def verify_batch(self, items: Sequence[VerifyRequest]) -> list[Verification]:
        checker = self._loaded_verifier()
        if checker is None:
            raise VerifierUnavailableError(
                f"no claim verifier loaded: the artifact has no '{VERIFIER}' component, or it was "
                "loaded with verifier=False"
            )
        return verify_requests(
            items,
            encoder=self.encoder,
            verifier=checker,
            info=self.info,
            max_article_sentences=self.max_article_sentences,
            max_text_chars=self.max_text_chars,
        )

    @property
    def abstractive_available(self) -> bool:
        """Whether abstractive requests are served: the generator is loaded, or loads on demand."""
        return self.generator is not None or self.generator_on_demand is not None

    def load_generator(self) -> float:
        """Load the generator now if it loads on demand and has not yet; the seconds this call
        waited for it (0.0 when it was loaded). Refused when abstractive mode is off, or when
        loading failed (the reason is in the message)."""
        if self.generator is not None:
            return 0.0
        if self.generator_on_demand is None:
            raise AbstractiveUnavailableError(
                "abstractive mode is off: load with abstractive=True or 'auto' (server: OPSLENS_ABSTRACTIVE="
                f"auto or on) and an artifact holding the '{ABSTRACTIVE}' component"
            )
        try:
            generator, waited = self.generator_on_demand.get()
        except (BaseModelError, ArtifactError, EngineBuildError, OSError) as exc:
            raise AbstractiveUnavailableError(f"the generator could not be loaded: {exc}") from exc
        self.generator = generator
        self._loaded("generator")
        return waited

    def load_verifier(self) -> float:
        """Load the claim verifier now if it loads on demand and has not yet; the seconds this
        call waited for it (0.0 when it was loaded, or is off)."""
        if self.verifier is not None or self.verifier_on_demand is None:
            return 0.0
        try:
            self.verifier, waited = self.verifier_on_demand.get()
        except (ArtifactError, OSError) as exc:
            raise VerifierUnavailableError(f"the claim verifier could not be loaded: {exc}") from exc
        self._loaded("verifier")
        return waited

    def _loaded_verifier(self) -> ClaimVerifier | None:
        """The claim verifier (None when off), loaded now if it loads on demand and nobody
        loaded it ahead (the API does, outside the model queue)."""
        self.load_verifier()
        return self.verifier

    def _loaded(self, name: str) -> None:
        still = [other for other in self.info.on_demand if other != name]
        self.info = self.info.model_copy(update={"on_demand": still})

    def _need_generator(self) -> Generator:
        self.load_generator()
        assert self.generator is not None  # load_generator raises otherwise
        return self.generator

    @torch.inference_mode()
    def analyze_batch(self, requests: Sequence[AnalysisRequest]) -> list[Analysis]:
        """Analyze several articles; all their sentences go through the encoder together, and
        the abstractive ones are decoded together."""
        if any(r.mode == "abstractive" for r in requests):
            self.load_generator()  # refuse (or load) before any work is done
        out, contexts = self._extract(requests)
        todo = [(i, contexts[i]) for i, r in enumerate(requests) if r.mode == "abstractive"]
        if todo:
            self._generate_guarded(requests, out, todo)
        return out

    def _extract(self, requests: Sequence[AnalysisRequest]) -> tuple[list[Analysis], list[Context]]:
        """Extractive summaries and stances, plus each article as used (sentences within the
        limit) with its sentence vectors, for the faithfulness guard."""
        return self._finish(self._read(requests))

    def _read(self, requests: Sequence[AnalysisRequest]) -> _Read:
        """The first part of `_extract`: the articles parsed and screened, and the fine-tuned
        extractor's sentence scores — all a prompt needs, so a stream starts decoding after it."""
        t0 = time.perf_counter()
        pages = read_pages(requests, self.max_text_chars)
        requests = [as_text(r, page) for r, page in zip(requests, pages, strict=True)]
        docs = [parse_document(r.text) for r in requests]
        for i, doc in enumerate(docs):
            if not doc.sentences:
                raise NoSentencesError.of(doc, i if len(requests) > 1 else None)
        used = [doc.sentences[: self.max_article_sentences] for doc in docs]
        languages = screen([[s.normalized for s in u] for u in used], [r.language_policy for r in requests])
        parse_ms = elapsed_ms(t0)
        t_ext = time.perf_counter()
        scores = self.extractor.scores([[s.normalized for s in u] for u in used]) if self.extractor else None
        extract_ms = elapsed_ms(t_ext) / len(requests)
        return _Read(requests, docs, used, pages, languages, scores, parse_ms, extract_ms, elapsed_ms(t0))

    def _finish(self, read: _Read) -> tuple[list[Analysis], list[Context]]:
        """The rest of `_extract`: sentence vectors, stances and the extractive answers."""
        requests = read.requests
        t1 = time.perf_counter()
        # Sentence vectors serve the stances, the frozen scorer and the guard: an extractive request
        # without title or claims needs none of them when the fine-tuned extractor serves.
        vectorized = [bool(r.claim_texts) or r.mode == "abstractive" or not self.extractor for r in requests]
        texts: list[str] = []
        for req, sents, wanted in zip(requests, read.used, vectorized, strict=True):
            if wanted:
                texts += [s.normalized for s in sents] + [" ".join(c.split()) for c in req.claim_texts]
        vectors = self.encoder.encode(texts)
        encode_ms = elapsed_ms(t1) / len(requests)

        out: list[Analysis] = []
        contexts: list[Context] = []
        cursor = 0
        for k, (req, doc, sents, page, language) in enumerate(
            zip(requests, read.docs, read.used, read.pages, read.languages, strict=True)
        ):
            claims = req.claim_texts
            sent_vecs = vectors[cursor : cursor + len(sents) * vectorized[k]]
            claim_vecs = vectors[cursor + len(sent_vecs) : cursor + len(sent_vecs) + len(claims)]
            cursor += len(sent_vecs) + len(claims)

            t2 = time.perf_counter()
            article_scores = read.scores[k] if read.scores else frozen_scores(self.scorer, sent_vecs)
            picked = summarize(sents, article_scores, req.max_sentences)
            summarize_ms = read.extract_ms + elapsed_ms(t2)
            t3 = time.perf_counter()
            stances = claim_stances(self.stance, claims, claim_vecs, sents, sent_vecs)
            stance_ms = elapsed_ms(t3)
            verify_ms = 0.0  # the verifier's own time: 0 when it did not run
            if stances and (checker := self._loaded_verifier()) is not None:
                t4 = time.perf_counter()
                stances = verified_stances(checker, stances, claim_vecs, sents, sent_vecs)
                verify_ms = elapsed_ms(t4)

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
                    text=req.text if page else None,
                    title=req.title if page else None,
                    model=self.info,
                    **language.fields(),
                    timings_ms=Timings(
                        parse_ms=read.parse_ms / len(requests),
                        encode_ms=encode_ms,
                        summarize_ms=summarize_ms,
                        stance_ms=stance_ms,
                        verify_ms=verify_ms,
                        # The two parts' own time (a stream decodes between them).
                        total_ms=(read.elapsed_ms + elapsed_ms(t1)) / len(requests),
                    ),
                )
            )
            used_doc = replace(doc, sentences=tuple(sents))
            contexts.append(
                Context(used_doc, sent_vecs, generator_input(used_doc, article_scores, req.title))
            )
        return out, contexts

    def _generate_guarded(
        self,
        requests: Sequence[AnalysisRequest],
        out: list[Analysis],
        items: list[tuple[int, Context]],
    ) -> None:
        """Generate the abstractive summaries of `items` (one decode batch per max_words) and
        replace each extractive answer in `out` with the guarded generation."""
        generator = self._need_generator()
        by_length: dict[int, list[tuple[int, Context]]] = {}
        for item in items:
            by_length.setdefault(requests[item[0]].max_words, []).append(item)
        for max_words, group in by_length.items():
            t0 = time.perf_counter()
            generations = generator.generate_batch(
                [context.source for _, context in group], max_words=max_words
            )
            generate_ms = elapsed_ms(t0) / len(group)
            for (i, context), generation in zip(group, generations, strict=True):
                out[i] = self._guarded(out[i], requests[i], context, generation, generate_ms)

    def _guarded(
        self,
        extractive: Analysis,
        req: AnalysisRequest,
        context: Context,
        generation: Generation,
        generate_ms: float,
    ) -> Analysis:
        return guarded(
            extractive,
            context.doc,
            context.vecs,
            generation,
            generator=self._need_generator(),
            encoder=self.encoder,
            verifier=self._loaded_verifier(),
            policy=req.policy,
            max_words=req.max_words,
            generate_ms=generate_ms,
        )

    def stream(self, request: AnalysisRequest) -> Iterator[str | Analysis]:
        """Abstractive mode, token by token: text pieces as they are decoded, then the finished
        `Analysis` (guarded, with stances). Close the iterator to stop decoding."""
        generator = self._need_generator()
        with torch.inference_mode():
            read = self._read([request])
            # The prompt needs only the extractor's scores: the sentence vectors, stances and the
            # verifier's title row wait until the summary is decoded, so the first token comes
            # sooner. The frozen scorer reads the vectors, so without the extractor they come first.
            done = None if read.scores is not None else self._finish(read)
        source = done[1][0].source if done is not None else read.source(0)
        t0 = time.perf_counter()
        generation = None
        for piece in generator.stream(source, max_words=request.max_words):
            if isinstance(piece, str):
                yield piece
            else:
                generation = piece
        if generation is None:  # the generator always ends with its Generation
            raise RuntimeError("generator stream ended without a result")
        generate_ms = elapsed_ms(t0)
        with torch.inference_mode():
            [extractive], [context] = done if done is not None else self._finish(read)
            result = self._guarded(extractive, request, context, generation, generate_ms)
        yield result
