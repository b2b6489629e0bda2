"""onnxruntime-genai int8 decoding for the abstractive generator: the engine served by default
(on the held-out articles its summaries score as well as CTranslate2's, or better, and it
decodes ~2.8x faster on two cores; README, Results).

The model is exported by onnxruntime-genai's own builder from the prepared float base with the
artifact's adapter merged in: int8 weights, and an LM head that reads only the last position
during the prompt pass (`prune_lm_head`: for a 135M model with a 49k vocabulary the head is a
fifth of the weights; computing it for every prompt token cost a quarter of the time to the
first token). int8, not int4: int4 was no faster here (2.1-2.6 s vs 2.4 s for 104 tokens on
the example, two cores) and its first greedy token already differed from float32's. Built
into the cache, keyed and hash-checked like the CTranslate2 conversion (engine_build.py).

Generators are kept between requests and rewound to the prompt's template head (the chat template
and the instruction, 63 of the example's 326 prompt tokens), which they already hold when the
previous prompt shared it, so the prompt pass reads only the rest (onnxruntime-genai's
continuation: `rewind_to`, then `append_tokens`). Never further, even for a repeated article:
a benchmark that sends one article over and over would time a cache hit no other request gets.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from importlib.metadata import version
from pathlib import Path
from typing import Any

from transformers import PreTrainedModel, PreTrainedTokenizerBase

from opslens.model import engine_build
from opslens.model.decoding import NO_REPEAT_NGRAM, banned_tokens
from opslens.model.engine_build import EngineBuildError
from opslens.model.options import ENGINE_NAMES
from opslens.model.prompt import shared_prefix

WEIGHTS = "model.onnx.data"
QUANTIZATION = "int8"
BUILDER_OPTIONS = ("prune_lm_head=true",)
# Room in a kept generator's KV cache (tokens of prompt and summary): the v2 prompt and 60 words
# fit in ~420. A longer request gets a generator of its own size.
KEPT_LENGTH = 512
MAX_KEPT = 4  # generators kept idle at most, by default (each ~23 MB of KV cache at KEPT_LENGTH)


def _genai_version() -> str:
    return version("onnxruntime-genai")


def build_key(base_sha256: str, adapter_sha256: str | None) -> str:
    """What an export derives from: base weights, adapter, builder version and options."""
    parts = [base_sha256, adapter_sha256 or "no-adapter", _genai_version(), QUANTIZATION, *BUILDER_OPTIONS]
    return engine_build.build_key(parts)


def engine_folder(cache_root: Path, key: str) -> Path:
    return cache_root / f"smollm2-135m-ort-{QUANTIZATION}-{key[:16]}"


def verified(folder: Path, key: str) -> bool:
    return engine_build.verified(folder, key, WEIGHTS)


def convert(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, folder: Path, key: str) -> Path:
    """Save `model` (adapter already merged) and export it with the onnxruntime-genai builder.
    The builder runs in a child process: it is a script, and it holds a second copy of the
    weights while it quantizes."""
    meta = {"onnxruntime-genai": _genai_version(), "quantization": QUANTIZATION}
    with (
        engine_build.staged(folder, key, WEIGHTS, **meta) as tmp,
        engine_build.saved(model, tokenizer, folder.parent) as hf_dir,
    ):
        command = [
            sys.executable, "-m", "onnxruntime_genai.models.builder", "-i", hf_dir, "-o", str(tmp),
            "-p", QUANTIZATION, "-e", "cpu", "-c", str(Path(hf_dir) / "cache"),
            "--extra_options", *BUILDER_OPTIONS,
        ]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
            raise EngineBuildError(f"onnxruntime-genai export failed: {' | '.join(tail)}")
    return folder


class OrtEngine:
    """Greedy decoding with onnxruntime-genai; the same knobs as the other engines."""

    name = ENGINE_NAMES["ort"]

    def __init__(
        self,
        folder: Path,
        tokenizer: PreTrainedTokenizerBase,
        *,
        threads: int = 0,
        no_repeat_ngram: int = NO_REPEAT_NGRAM,
        reuse_tokens: int = 0,
        keep: int = MAX_KEPT,
    ) -> None:
        """`reuse_tokens`: how many leading prompt tokens a kept generator may keep (the prompt
        template's head, prompt.template_head); 0 reads every prompt whole. `keep`: how many idle
        generators to keep; 0 makes a generator for every prompt (the bench's `ort-fresh`)."""
        import onnxruntime_genai as og

        self.folder = folder
        config = og.Config(str(folder))
        if threads:
            options = {"session_options": {"intra_op_num_threads": threads, "inter_op_num_threads": 1}}
            config.overlay(json.dumps({"model": {"decoder": options}}))
        self.model = og.Model(config)
        self.tokenizer = tokenizer
        self.no_repeat_ngram = no_repeat_ngram
        self.reuse_tokens = reuse_tokens
        self.keep = keep
        # Idle generators: (generator, the prompt tokens it may keep: at most `reuse_tokens` of the
        # prompt its KV cache begins with, its max_length).
        self._kept: list[tuple[Any, list[int], int]] = []
        self._lock = threading.Lock()

    def _take(self, prompt: Sequence[int], max_new_tokens: int) -> tuple[Any, int, int]:
        """A generator for `prompt`, how many of its tokens it already holds and its max_length:
        the kept one sharing the longest prefix with it (rewound there), else a new one."""
        import onnxruntime_genai as og

        need = len(prompt) + max_new_tokens
        with self._lock:
            fits = [k for k in self._kept if k[2] >= need]
            best = max(fits, key=lambda k: shared_prefix(k[1], prompt), default=None)
            if best is not None:
                self._kept.remove(best)
        if best is not None:
            generator, tokens, length = best
            # At least the last prompt token is read again: its logits pick the first token.
            keep = min(shared_prefix(tokens, prompt), len(prompt) - 1)
            generator.rewind_to(keep)
            return generator, keep, length
        params = og.GeneratorParams(self.model)
        # No `no_repeat_ngram_size` here: onnxruntime-genai's counts the prompt's n-grams too
        # (see decoding.py); the summary's own are masked in the logits below.
        length = max(need, KEPT_LENGTH)
        params.set_search_options(max_length=length, do_sample=False)
        return og.Generator(self.model, params), 0, length

    def _keep(self, generator: Any, prompt: Sequence[int], length: int) -> None:
        with self._lock:
            if len(self._kept) < self.keep:
                self._kept.append((generator, list(prompt[: self.reuse_tokens]), length))

    def _steps(self, prompt: Sequence[int], max_new_tokens: int) -> Iterator[int]:
        generator, held, length = self._take(prompt, max_new_tokens)
        generator.append_tokens(list(prompt[held:]))
        try:
            yield from self._decode(generator, max_new_tokens)
        except GeneratorExit:  # closed by the caller between two tokens: still fit to keep
            self._keep(generator, prompt, length)
            raise
        self._keep(generator, prompt, length)  # not after an error: that one is dropped

    def _decode(self, generator: Any, max_new_tokens: int) -> Iterator[int]:
        import numpy as np

        out: list[int] = []
        while len(out) < max_new_tokens and not generator.is_done():
            if banned := banned_tokens(out, self.no_repeat_ngram):
                logits = generator.get_logits().copy()
                logits[..., banned] = -np.inf
                generator.set_logits(logits)
            generator.generate_next_token()
            token = int(generator.get_next_tokens()[0])
            if token == self.tokenizer.eos_token_id:
                return
            out.append(token)
            yield token

    def generate(self, prompts: Sequence[Sequence[int]], max_new_tokens: int) -> list[list[int]]:
        # One prompt at a time: the service decodes one request at a time on a CPU box anyway.
        return [list(self._steps(p, max_new_tokens)) for p in prompts]

    def stream(self, prompt: Sequence[int], max_new_tokens: int) -> Iterator[int]:
        """Token ids as they are decoded; closing the iterator stops the decode."""
        yield from self._steps(prompt, max_new_tokens)


ENGINE = OrtEngine
