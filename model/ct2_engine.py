"""CTranslate2 int8 decoding for the abstractive generator (`engine="ct2"`; the default is
onnxruntime-genai, ort_engine.py, which decodes ~2.8x faster here at the same quality).

CTranslate2 runs the Llama architecture of SmolLM2 with int8 weights and its own KV cache,
about twice as fast as transformers' eager float32 `generate` on two cores (see
`python -m opslens.eval.generation_bench`). The converted model is never shipped: it is built
locally from the prepared float base with the artifact's adapter merged in, into the cache
folder, keyed by the sha256 of everything it derives from, and its weights are checked against
the recorded sha256 before every load.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

from transformers import PreTrainedModel, PreTrainedTokenizerBase

from opslens.model import engine_build
from opslens.model.decoding import NO_REPEAT_NGRAM, until_end
from opslens.model.engine_build import EngineBuildError
from opslens.model.options import ENGINE_NAMES

WEIGHTS = "model.bin"
QUANTIZATION = "int8"


def _ct2_version() -> str:
    import ctranslate2

    return ctranslate2.__version__


def build_key(base_sha256: str, adapter_sha256: str | None) -> str:
    """What a converted model derives from: base weights, adapter, converter and quantization."""
    return engine_build.build_key([base_sha256, adapter_sha256 or "no-adapter", _ct2_version(), QUANTIZATION])


def engine_folder(cache_root: Path, key: str) -> Path:
    return cache_root / f"smollm2-135m-ct2-{QUANTIZATION}-{key[:16]}"


def verified(folder: Path, key: str) -> bool:
    return engine_build.verified(folder, key, WEIGHTS)


def convert(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, folder: Path, key: str) -> Path:
    """Save `model` (adapter already merged) and convert it to CTranslate2 int8 in `folder`."""
    from ctranslate2.converters import TransformersConverter

    meta = {"ctranslate2": _ct2_version(), "quantization": QUANTIZATION}
    with (
        engine_build.staged(folder, key, WEIGHTS, **meta) as tmp,
        engine_build.saved(model, tokenizer, folder.parent) as hf_dir,
    ):
        try:
            TransformersConverter(hf_dir, low_cpu_mem_usage=True).convert(
                str(tmp), quantization=QUANTIZATION, force=True
            )
        except Exception as exc:  # the converter raises plain ValueErrors/KeyErrors
            raise EngineBuildError(f"CTranslate2 conversion failed: {exc}") from exc
    return folder


class CT2Engine:
    """Greedy decoding with CTranslate2; the same knobs as the transformers engine."""

    name = ENGINE_NAMES["ct2"]

    def __init__(
        self,
        folder: Path,
        tokenizer: PreTrainedTokenizerBase,
        *,
        threads: int = 0,
        no_repeat_ngram: int = NO_REPEAT_NGRAM,
    ) -> None:
        import ctranslate2

        # inter_threads=1: one decode at a time uses all intra-op threads; the service serialises
        # generation anyway (one CPU box), and two parallel decodes would halve each one's speed.
        self.folder = folder
        self.model = ctranslate2.Generator(
            str(folder), device="cpu", compute_type=QUANTIZATION, intra_threads=threads, inter_threads=1
        )
        self.tokenizer = tokenizer
        self.no_repeat_ngram = no_repeat_ngram
        self.end_token = tokenizer.eos_token

    def _tokens(self, ids: Sequence[int]) -> list[str]:
        return self.tokenizer.convert_ids_to_tokens(list(ids))

    def generate(self, prompts: Sequence[Sequence[int]], max_new_tokens: int) -> list[list[int]]:
        results = self.model.generate_batch(
            [self._tokens(p) for p in prompts],
            max_length=max_new_tokens,
            sampling_topk=1,
            beam_size=1,
            no_repeat_ngram_size=self.no_repeat_ngram,
            include_prompt_in_result=False,
            end_token=self.end_token,
        )
        return [until_end(r.sequences_ids[0], self.tokenizer.eos_token_id) for r in results]

    def stream(self, prompt: Sequence[int], max_new_tokens: int) -> Iterator[int]:
        """Token ids as they are decoded; closing the iterator stops the decode."""
        steps = self.model.generate_tokens(
            self._tokens(prompt),
            max_length=max_new_tokens,
            sampling_topk=1,
            no_repeat_ngram_size=self.no_repeat_ngram,
            end_token=self.end_token,
        )
        for step in steps:
            if step.token_id == self.tokenizer.eos_token_id:
                return
            yield step.token_id


ENGINE = CT2Engine
