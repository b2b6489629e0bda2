"""What the generator asks of a decoding engine, and what every engine shares.

Three engines implement `DecodingEngine`: onnxruntime-genai int8 (ort_engine.py, served by
default), CTranslate2 int8 (ct2_engine.py) and transformers float32 (hf_engine.py, the reference).
All decode greedily with the KV cache, forbid repeating a trigram of their own output, and stop
at the end-of-sequence token, which they never return.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol

# Small models loop; forbidding a repeated trigram is the usual cure for summaries. Repeated within
# the summary only: transformers' and onnxruntime-genai's built-in option also counts the prompt's
# n-grams, and a prompt that quotes the article then forbids every phrase of it (the summary
# spells names around them: "bakhut", "vhuly"). CTranslate2's counts the output alone.
NO_REPEAT_NGRAM = 3


class DecodingEngine(Protocol):
    name: str  # reported with every generation ("ctranslate2-int8", "transformers-fp32")

    def generate(self, prompts: Sequence[Sequence[int]], max_new_tokens: int) -> list[list[int]]:
        """The new token ids for each prompt, up to (not including) the end-of-sequence token."""
        ...

    def stream(self, prompt: Sequence[int], max_new_tokens: int) -> Iterator[int]:
        """New token ids as they are decoded; closing the iterator stops the decode."""
        ...


def until_end(ids: list[int], end: int) -> list[int]:
    """Token ids up to (not including) the first end-of-sequence token."""
    return ids[: ids.index(end)] if end in ids else ids


def banned_tokens(generated: Sequence[int], n: int) -> list[int]:
    """The tokens that would complete an n-gram `generated` already holds (none for n < 1)."""
    if n < 1:
        return []
    tail, ids = tuple(generated[len(generated) - n + 1 :]), list(generated)
    return sorted({ids[i + n - 1] for i in range(len(ids) - n + 1) if tuple(ids[i : i + n - 1]) == tail})
