"""Model batches of similar lengths. A transformer pass costs about (items x longest item) on a
CPU, so one batch holding three 200-token evidence windows and twelve 50-token sentences does
three times the work of the same pairs in two batches."""

from __future__ import annotations

from collections.abc import Sequence

MAX_WASTE = 0.25
"""Padding a batch may hold, as a share of its real tokens..."""
CALL_TOKENS = 256
"""...plus this many padded tokens: about what one more model call costs on a CPU, so a batch of
short items does not split over a few tokens of padding."""


def similar_length_batches(lengths: Sequence[int], max_items: int) -> list[list[int]]:
    """Indices into `lengths` in batches of at most `max_items`, shortest first; a batch takes
    the next item while its padded size stays within MAX_WASTE (+ CALL_TOKENS) of its tokens."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    batches: list[list[int]] = []
    tokens = 0
    for i in order:
        if batches and len(batches[-1]) < max_items:
            padded = (len(batches[-1]) + 1) * lengths[i]  # sorted: the newcomer is the longest
            if padded <= (1 + MAX_WASTE) * (tokens + lengths[i]) + CALL_TOKENS:
                batches[-1].append(i)
                tokens += lengths[i]
                continue
        batches.append([i])
        tokens = lengths[i]
    return batches
