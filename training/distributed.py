"""Data-parallel training across processes (torchrun / accelerate launch), and nothing
when there is one process.

A launcher sets WORLD_SIZE, RANK, MASTER_ADDR and MASTER_PORT in each process's
environment; `process_group()` joins them. Every rank runs the same code on its share of
each batch; only rank 0 writes files.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import torch.distributed as dist

BARRIER_TIMEOUT = timedelta(hours=6)


def world_size() -> int:
    return dist.get_world_size() if dist.is_initialized() else 1


def rank() -> int:
    return dist.get_rank() if dist.is_initialized() else 0


def is_main() -> bool:
    return rank() == 0


def barrier() -> None:
    if dist.is_initialized():
        dist.barrier()


@contextmanager
def process_group() -> Iterator[None]:
    """Join the launcher's process group for the block when WORLD_SIZE > 1."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or dist.is_initialized():
        yield
        return
    # gloo: the heads train on CPU (the encoder is frozen and its vectors are cached).
    # torch's default 30-minute timeout is too short for the other ranks' wait while rank 0
    # encodes a corpus: the shipped extractive run spent 30 minutes encoding.
    dist.init_process_group(backend="gloo", timeout=BARRIER_TIMEOUT)
    try:
        yield
    finally:
        dist.destroy_process_group()


@contextmanager
def main_first() -> Iterator[None]:
    """Rank 0 runs the block first (e.g. fills a cache), the other ranks then run it (and read
    the cache) instead of all writing the same files at once."""
    if not is_main():
        barrier()
    yield
    if is_main():
        barrier()


def shard(indices: list[int]) -> list[int]:
    """This rank's share of one global batch. The batch is first padded by repeating its own
    items up to a multiple of the world size, so every rank gets the same number of items
    (DDP averages gradients over ranks; with equal shares that is the batch mean, up to the
    few repeated items)."""
    n = world_size()
    if n == 1:
        return indices
    padded = indices + [indices[i % len(indices)] for i in range(-len(indices) % n)]
    return padded[rank() :: n]
