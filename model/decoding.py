"""What the generator asks of a decoding engine, and what every engine shares.

Two engines implement `DecodingEngine`: CTranslate2 int8 (ct2_engine.py, the fast one) and
transformers float32 (hf_engine.py, the reference). Both decode greedily with the KV cache
and stop at the end-of-sequence token, which they never return.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol

# Small models loop; forbidding a repeated trigram is the usual cure for summaries.
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
