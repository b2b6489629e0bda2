"""Abstractive summarizer: SmolLM2-135M-Instruct, optionally with a LoRA adapter, greedy
decoding with the KV cache.

The base model is prepared once from its PyPI package (base_model.py); the adapter, when there
is one, is the `abstractive` component of an artifact folder (adapter.py); decoding runs on
CTranslate2 int8 (ct2_engine.py) or transformers float32 (hf_engine.py), both behind the
`DecodingEngine` protocol (decoding.py). `Generator` ties them together: prompt, decode, recase,
trim.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import torch
from transformers import AutoTokenizer, PreTrainedTokenizerBase

from opslens.model import ct2_engine, engine_build
from opslens.model.adapter import COMPONENT, AbstractiveConfig, merged_model, read_adapter
from opslens.model.artifact import component_sha256
from opslens.model.base_model import PREPARED, default_cache, prepared_base
from opslens.model.decoding import DecodingEngine
from opslens.model.hf_engine import HFEngine
from opslens.model.options import DEFAULT_ENGINE, DEFAULT_MAX_WORDS, ENGINES, Engine
from opslens.model.prompt import Prompt, Source, build_prompt, template_head
from opslens.model.recase import recase
from opslens.model.text import split_sentences

# Tokens per English word for this tokenizer is about 1.3; leave room to finish the sentence.
TOKENS_PER_WORD = 1.6


@dataclass(frozen=True)
class Generation:
    text: str
    prompt_tokens: int
    new_tokens: int
    article_truncated: bool
    seconds: float
    engine: str


# A finished sentence ends in . ! or ?, maybe followed by a closing quote or bracket.
FINISHED = re.compile(r"[.!?][\"”’')\]]?$")


def trim_to_words(text: str, max_words: int, *, out_of_tokens: bool = False) -> str:
    """At most `max_words` words, ending with the last finished sentence within them when there
    is one: a sentence the word limit cuts short is left out, and so is a last sentence without
    a sentence end when decoding ran `out_of_tokens` (a model that stops by itself may end a
    sentence on a closing quote). Sentence ends are the splitter's on the whole text, so an
    abbreviation that a sentence goes on after ("U.S. Secretary of State …") is not one."""
    text = " ".join(text.split())
    limit = len(" ".join(text.split(" ")[:max_words]))
    sentences = split_sentences(text)
    finished = [
        s
        for s in sentences
        if s.end <= limit and (FINISHED.search(s.text.rstrip()) or (s is sentences[-1] and not out_of_tokens))
    ]
    return text[: finished[-1].end].rstrip() if finished else text[:limit]


def converted(engine: Engine) -> ModuleType:
    """The module of an engine that decodes a converted copy of the model, built into the cache
    on first use: ct2_engine or ort_engine, alike in build_key, engine_folder, verified, convert
    and ENGINE (the `DecodingEngine` class)."""
    if engine == "ort":
        from opslens.model import ort_engine  # onnxruntime-genai is an optional extra

        return ort_engine
    return ct2_engine


def max_new_tokens_for(max_words: int) -> int:
    return int(max_words * TOKENS_PER_WORD) + 8


class Generator:
    def __init__(
        self,
        engine: DecodingEngine,
        tokenizer: PreTrainedTokenizerBase,
        config: AbstractiveConfig,
        *,
        adapter: bool,
    ) -> None:
        self.engine = engine
        self.tokenizer = tokenizer
        self.config = config
        self.adapter = adapter  # False: the zero-shot base model

    @classmethod
    def load(
        cls,
        artifact: Path | str | None = None,
        *,
        cache: Path | None = None,
        threads: int | None = None,
        engine: Engine = DEFAULT_ENGINE,
    ) -> Generator:
        """The base with the artifact's `abstractive` adapter merged in, or the bare base when
        `artifact` is None (the zero-shot baseline), decoding with `engine`:

        - "ort": onnxruntime-genai int8, exported on first use into the cache and hash-checked;
          once exported, the float model is not loaded at all.
        - "ct2": CTranslate2 int8, converted and checked the same way.
        - "hf": transformers eager float32.
        """
        if engine not in ENGINES:
            raise ValueError(f"unknown engine {engine!r}; expected one of {', '.join(ENGINES)}")
        if threads:
            torch.set_num_threads(threads)
        folder, meta = prepared_base(cache)
        config, state, adapter_sha = AbstractiveConfig(base_sha256=meta["source_sha256"]), None, None
        if artifact is not None:
            config, state, adapter_sha = read_adapter(Path(artifact), meta)
        tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)

        if engine != "hf":
            built = converted(engine)
            key = built.build_key(meta["weights_sha256"], adapter_sha)
            target = built.engine_folder(folder.parent, key)
            if not built.verified(target, key):
                model = merged_model(folder, meta, config, state)
                built.convert(model, tokenizer, target, key)
                del model
            # The engines' own defaults do not follow the process's CPU budget (onnxruntime-genai's
            # took 1.9 s for the example on two cores where 2 threads take 1.2 s): use torch's.
            # onnxruntime-genai keeps its generators, and the prompt template's head read in them.
            kept: dict[str, int] = {}
            if engine == "ort":
                kept["reuse_tokens"] = template_head(tokenizer, config.prompt_version)
            fast = built.ENGINE(target, tokenizer, threads=threads or torch.get_num_threads(), **kept)
            return cls(fast, tokenizer, config, adapter=state is not None)
        model = merged_model(folder, meta, config, state)
        return cls(HFEngine(model, tokenizer), tokenizer, config, adapter=state is not None)

    def prompt(self, article: str | Source, max_words: int) -> Prompt:
        source = Source.of(article) if isinstance(article, str) else article
        return build_prompt(
            self.tokenizer,
            source.lower() if self.config.lowercase else source,
            max_words=max_words,
            article_tokens=self.config.article_tokens,
            version=self.config.prompt_version,
        )

    def _finish(self, article: str | Source, ids: Sequence[int], max_words: int, budget: int) -> str:
        text = self.tokenizer.decode(list(ids), skip_special_tokens=True)
        if self.config.lowercase:
            if isinstance(article, Source):
                article = " ".join([article.title or "", article.text])
            text = recase(text, article)
        return trim_to_words(text, max_words, out_of_tokens=len(ids) >= budget)

    def generate(
        self, article: str | Source, *, max_words: int = DEFAULT_MAX_WORDS, max_new_tokens: int | None = None
    ) -> Generation:
        return self.generate_batch([article], max_words=max_words, max_new_tokens=max_new_tokens)[0]

    def generate_batch(
        self,
        articles: Sequence[str | Source],
        *,
        max_words: int = DEFAULT_MAX_WORDS,
        max_new_tokens: int | None = None,
    ) -> list[Generation]:
        """Each article as text or as a `Source` (its sentences with the extractive model's scores,
        which pick what a v2 prompt quotes). `max_new_tokens` overrides the budget derived from
        `max_words` (benchmarks, tests)."""
        t0 = time.perf_counter()
        prompts = [self.prompt(a, max_words) for a in articles]
        budget = max_new_tokens or max_new_tokens_for(max_words)
        outputs = self.engine.generate([p.input_ids for p in prompts], budget)
        each = (time.perf_counter() - t0) / max(len(articles), 1)
        return [
            Generation(
                text=self._finish(article, ids, max_words, budget),
                prompt_tokens=len(prompt.input_ids),
                new_tokens=len(ids),
                article_truncated=prompt.truncated,
                seconds=each,
                engine=self.engine.name,
            )
            for article, prompt, ids in zip(articles, prompts, outputs, strict=True)
        ]

    def stream(
        self, article: str | Source, *, max_words: int = DEFAULT_MAX_WORDS, max_new_tokens: int | None = None
    ) -> Iterator[str | Generation]:
        """Text pieces as they are decoded (for server-sent events), then the finished
        `Generation` (recased and trimmed to `max_words`: run the guard on its text).

        Pieces are the raw decode: lower case for a lower-case model; the final text is what
        counts. Closing the iterator stops decoding."""
        t0 = time.perf_counter()
        prompt = self.prompt(article, max_words)
        ids: list[int] = []
        sent = ""
        budget = max_new_tokens or max_new_tokens_for(max_words)
        for token in self.engine.stream(prompt.input_ids, budget):
            ids.append(token)
            # Decode the whole prefix: a piece of a multi-byte character only shows once complete.
            text = self.tokenizer.decode(ids, skip_special_tokens=True)
            if len(text) > len(sent) and not text.endswith("\ufffd"):
                yield text[len(sent) :]
                sent = text
        yield Generation(
            text=self._finish(article, ids, max_words, budget),
            prompt_tokens=len(prompt.input_ids),
            new_tokens=len(ids),
            article_truncated=prompt.truncated,
            seconds=time.perf_counter() - t0,
            engine=self.engine.name,
        )


def is_built(
    artifact: Path | str | None, *, cache: Path | None = None, engine: Engine = DEFAULT_ENGINE
) -> bool:
    """Whether `Generator.load` would find its on-disk build (the prepared float base and, for
    "ort" and "ct2", the build with this artifact's adapter) rather than make it (~35 s, 1.9 GB at
    peak). Reads the build records only; loading checks the weights' hashes."""
    base = cache or default_cache()
    if not (base / PREPARED).is_file():
        return False
    if engine == "hf":
        return True
    meta = json.loads((base / PREPARED).read_text(encoding="utf-8"))
    adapter_sha = component_sha256(Path(artifact), COMPONENT) if artifact is not None else None
    built = converted(engine)
    key = built.build_key(meta["weights_sha256"], adapter_sha)
    return engine_build.is_recorded(built.engine_folder(base.parent, key), key)
