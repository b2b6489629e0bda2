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

from opslens.model.artifact import (
    SHIPPED_ARTIFACT,
    ArtifactError,
    load_component,
    read_component_meta,
    verify_artifact,
)
from opslens.model.base_model import BASE_NAME, BaseModelError
from opslens.model.ct2_engine import EngineBuildError
from opslens.model.encoder import ENCODER_NAME, Encoder, load_encoder
from opslens.model.errors import AbstractiveUnavailableError, NoSentencesError, VerifierUnavailableError
from opslens.model.extractive import ExtractiveConfig, ExtractiveScorer, summarize
from opslens.model.faithfulness import check
from opslens.model.html import as_text, read_pages
from opslens.model.language import screen
from opslens.model.on_demand import OnDemand
from opslens.model.options import (
    DEFAULT_BACKEND,
    DEFAULT_ENGINE,
    DEFAULT_FORMAT,
    DEFAULT_LANGUAGE_POLICY,
    DEFAULT_MAX_SENTENCES,
    DEFAULT_MAX_WORDS,
    DEFAULT_MODE,
    DEFAULT_POLICY,
    ENGINE_NAMES,
    Backend,
    Engine,
    Format,
    LanguagePolicy,
    Loading,
    Mode,
    Policy,
)
from opslens.model.results import Analysis, GenerationInfo, ModelInfo, Timings, Truncation, Verification
from opslens.model.stance import StanceClassifier, StanceConfig, claim_stances, verified_stances
from opslens.model.text import Document, parse_document
from opslens.model.verification import VerifyRequest, describe, elapsed_ms, verify_requests
from opslens.model.verifier import COMPONENT as VERIFIER
from opslens.model.verifier import ClaimVerifier, VerifierConfig

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
    format: Format = DEFAULT_FORMAT  # html: the page's main content is extracted first (model/html.py)
    language_policy: LanguagePolicy = DEFAULT_LANGUAGE_POLICY  # a text not in English: warn or refuse


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
    ) -> None:
        self.encoder = encoder
        self.scorer = scorer
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
    ) -> OpsLens:
        """Load an artifact folder (default: the one shipped in the package).

        `backend` picks the sentence encoder: "torch" (reference) or "onnx" (int8 ONNX Runtime,
        built into `cache_dir` on first use; see onnx_encoder.py). `abstractive` True (or "on")
        also loads the generator (the artifact's adapter on SmolLM2, or the bare base with
        `zero_shot`), decoding with `engine` ("ct2" int8 or "hf" float32; see generator.py);
        "auto" loads it on the first abstractive request instead (`load_generator`). The claim verifier
        loads when the artifact has one, unless `verifier=False` (then stances and the guard are
        without it, and `verify` is refused); "auto" loads it when a request first needs it."""
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
        generator, on_demand = None, None
        if (loading := _loading(abstractive)) != "off":
            from opslens.model.base_model import default_cache
            from opslens.model.generator import Generator

            if not zero_shot and ABSTRACTIVE not in manifest.components:
                raise AbstractiveUnavailableError(
                    f"artifact {folder} has no '{ABSTRACTIVE}' component (train one with "
                    "`opslens train abstractive`), or load the zero-shot base instead"
                )
            on_demand = OnDemand(
                lambda: Generator.load(
                    None if zero_shot else folder,
                    threads=threads,
                    engine=engine,
                    cache=default_cache(cache_dir) if cache_dir else None,
                )
            )
            if loading == "on":
                generator, _ = on_demand.get()
        checker, checker_on_demand, checker_config = None, None, None
        if _loading(verifier) != "off" and VERIFIER in manifest.components:
            checker_on_demand = OnDemand(lambda: ClaimVerifier.load(folder, encoder))
            checker_config = VerifierConfig.model_validate(read_component_meta(folder, VERIFIER)["config"])
            if _loading(verifier) == "on":
                checker, _ = checker_on_demand.get()
        lazy = {"generator": (on_demand, generator), "verifier": (checker_on_demand, checker)}
        info = ModelInfo(
            name=manifest.name,
            version=manifest.version,
            encoder=ENCODER_NAME,
            backend=backend,
            generator=_describe(engine, adapter=not zero_shot) if on_demand else None,
            on_demand=[name for name, (load, loaded) in lazy.items() if load is not None and loaded is None],
            verifier=describe(checker_config),
        )
        return cls(
            encoder,
            scorer,
            stance,
            info,
            max_article_sentences=max_article_sentences,
            max_text_chars=max_text_chars,
            generator=generator,
            generator_on_demand=on_demand,
            verifier=checker,
            verifier_on_demand=checker_on_demand,
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

    def _loaded_verifier(self) -> ClaimVerifier | None:
        """The claim verifier (None when off), loaded now if it loads on demand and has not yet:
        inside the model call, which waits for it once (~1-3 s)."""
        if self.verifier is None and self.verifier_on_demand is not None:
            try:
                self.verifier, _ = self.verifier_on_demand.get()
            except (ArtifactError, OSError) as exc:
                raise VerifierUnavailableError(f"the claim verifier could not be loaded: {exc}") from exc
            self._loaded("verifier")
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
        load_ms = 0.0
        if any(r.mode == "abstractive" for r in requests):
            load_ms = self.load_generator() * 1000  # refuse (or load) before any work is done
        out, contexts = self._extract(requests)
        todo = [(i, *contexts[i]) for i, r in enumerate(requests) if r.mode == "abstractive"]
        if todo:
            self._generate_guarded(requests, out, todo, load_ms)
        return out

    def _extract(
        self, requests: Sequence[AnalysisRequest]
    ) -> tuple[list[Analysis], list[tuple[Document, torch.Tensor]]]:
        """Extractive summaries and stances, plus each article as used (sentences within the
        limit) with its sentence vectors, for the faithfulness guard."""
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

        t1 = time.perf_counter()
        texts: list[str] = []
        for req, sents in zip(requests, used, strict=True):
            texts += [s.normalized for s in sents]
            texts += [" ".join(c.split()) for c in self._claims(req)]
        vectors = self.encoder.encode(texts)
        encode_ms = elapsed_ms(t1) / len(requests)

        out: list[Analysis] = []
        contexts: list[tuple[Document, torch.Tensor]] = []
        cursor = 0
        for req, doc, sents, page, language in zip(requests, docs, used, pages, languages, strict=True):
            claims = self._claims(req)
            sent_vecs = vectors[cursor : cursor + len(sents)]
            claim_vecs = vectors[cursor + len(sents) : cursor + len(sents) + len(claims)]
            cursor += len(sents) + len(claims)

            t2 = time.perf_counter()
            picked = summarize(self.scorer, sents, sent_vecs, req.max_sentences)
            summarize_ms = elapsed_ms(t2)
            t3 = time.perf_counter()
            stances = claim_stances(self.stance, claims, claim_vecs, sents, sent_vecs)
            stance_ms = elapsed_ms(t3)
            t4 = time.perf_counter()
            if stances and (checker := self._loaded_verifier()) is not None:
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
                        parse_ms=parse_ms / len(requests),
                        encode_ms=encode_ms,
                        summarize_ms=summarize_ms,
                        stance_ms=stance_ms,
                        verify_ms=verify_ms,
                        total_ms=elapsed_ms(t0) / len(requests),
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
        load_ms: float = 0.0,
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
            generate_ms = elapsed_ms(t0) / len(group)
            for (i, doc, vecs), generation in zip(group, generations, strict=True):
                out[i] = self._guarded(out[i], requests[i], doc, vecs, generation, generate_ms, load_ms)

    def _guarded(
        self,
        extractive: Analysis,
        req: AnalysisRequest,
        doc: Document,
        vecs: torch.Tensor,
        generation: Generation,
        generate_ms: float,
        load_ms: float = 0.0,
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
            verifier=self._loaded_verifier(),
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
            max_words=req.max_words,
            prompt_tokens=generation.prompt_tokens,
            new_tokens=generation.new_tokens,
            article_truncated=generation.article_truncated,
            load_ms=round(load_ms, 2),
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
            result = self._guarded(extractive, request, doc, vecs, generation, elapsed_ms(t0))
        yield result

    @staticmethod
    def _claims(req: AnalysisRequest) -> list[str]:
        return ([req.title] if req.title else []) + list(req.claims)


def _article(doc: Document) -> str:
    """What the generator reads: the article's sentences, without the headings, boilerplate and
    junk blocks that `parse_document` dropped (they waste the prompt's token budget)."""
    return " ".join(s.text for s in doc.sentences)


def _loading(value: bool | Loading) -> Loading:
    """`load`'s switches take a bool (True: at start-up) or a Loading."""
    if isinstance(value, bool):
        return "on" if value else "off"
    return value


def _describe(engine: Engine, *, adapter: bool) -> str:
    """The generator as responses name it, known before it is loaded."""
    weights = "LoRA adapter" if adapter else "zero-shot base"
    return f"{BASE_NAME} + {weights} ({ENGINE_NAMES[engine]})"
