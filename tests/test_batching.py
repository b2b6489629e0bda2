"""Model batches of similar lengths (model/batching.py): every item once, no batch over its size,
and long items not padded together with short ones."""

from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from opslens.model.batching import similar_length_batches


@given(st.lists(st.integers(1, 512), max_size=200), st.integers(1, 64))
def test_every_item_once_and_no_batch_too_big(lengths: list[int], max_items: int) -> None:
    batches = similar_length_batches(lengths, max_items)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    assert all(0 < len(b) <= max_items for b in batches)


def test_evidence_windows_are_not_padded_with_single_sentences() -> None:
    # The claim verifier's call: 3 windows of ~200 tokens and 12 single sentences of ~50.
    lengths = [200, 190, 210] + [random.Random(i).randint(40, 60) for i in range(12)]
    batches = similar_length_batches(lengths, 32)
    assert sorted(map(sorted, batches)) == [[0, 1, 2], list(range(3, 15))]
    padded = sum(len(b) * max(lengths[i] for i in b) for b in batches)
    assert padded < 0.5 * len(lengths) * max(lengths)  # one batch would pad all to 210


def test_equal_lengths_fill_batches() -> None:
    assert [len(b) for b in similar_length_batches([30] * 70, 32)] == [32, 32, 6]
