"""transformers' eager `generate` (float32, KV cache) behind the `DecodingEngine` protocol:
the reference the CTranslate2 engine is measured against, and the engine for machines without
CTranslate2."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator, Sequence

import torch
from transformers import LogitsProcessor, LogitsProcessorList, PreTrainedModel, PreTrainedTokenizerBase

from opslens.model.decoding import NO_REPEAT_NGRAM, banned_tokens, until_end
from opslens.model.options import ENGINE_NAMES


class _NoRepeatInOutput(LogitsProcessor):
    """`no_repeat_ngram_size` over the new tokens alone: transformers' own counts the prompt's
    n-grams too (see decoding.py)."""

    def __init__(self, prompt_length: int, n: int) -> None:
        self.prompt_length = prompt_length
        self.n = n

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        for row, ids in enumerate(input_ids[:, self.prompt_length :].tolist()):
            if banned := banned_tokens(ids, self.n):
                scores[row, banned] = -float("inf")
        return scores


class HFEngine:
    """transformers' eager `generate` (float32, KV cache): the reference the fast engine is
    measured against, and the engine for machines without CTranslate2."""

    name = ENGINE_NAMES["hf"]

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
            "logits_processor": LogitsProcessorList([_NoRepeatInOutput(len(prompt), NO_REPEAT_NGRAM)]),
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
