"""The configured training splits (tables read by `opslens.corpus`), the cache keys that name
exact rows, and the story-level split of stance data."""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import random
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import datasets

from opslens.corpus import describe, load_table
from opslens.training.config import TrainConfig


def read_rows(path: Path) -> Iterator[dict]:
    """Rows of a .jsonl/.csv file, optionally gzipped."""
    if not path.is_file():
        raise FileNotFoundError(f"data file not found: {path}")
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8", newline="") as f:
        if ".csv" in path.suffixes:
            yield from csv.DictReader(io.StringIO(f.read()))
        else:
            yield from (json.loads(line) for line in f if line.strip())


def load_splits(cfg: TrainConfig, fields: tuple[str, ...]) -> tuple[datasets.Dataset, datasets.Dataset, dict]:
    """The configured train and validation rows (seeded samples when limited), and their
    data record for the model card."""
    train_ds = load_table(cfg.train_file, fields, cfg.max_train_examples, sample_seed=cfg.seed)
    val_ds = load_table(cfg.validation_file, fields, cfg.max_validation_examples, sample_seed=cfg.seed)
    record = {
        "train": describe(cfg.train_file, train_ds),
        "validation": describe(cfg.validation_file, val_ds),
    }
    return train_ds, val_ds, record


def cached_json(path: Path, make: Callable[[], Any]) -> Any:
    """`make()`, computed once per run folder: a resumed run reads it back instead."""
    if path.is_file():
        return json.loads(path.read_text(encoding="utf-8"))
    value = make()
    path.write_text(json.dumps(value), encoding="utf-8")
    return value


def rows_key(ds: datasets.Dataset, fields: tuple[str, ...]) -> str:
    """A cache key naming the exact rows (not just the file): another sample, seed or split of
    the same file must never reuse vectors or labels cached for different rows."""
    h = hashlib.sha256()
    for name in fields:
        h.update("\x1f".join(ds[name]).encode("utf-8"))
    return f"{h.hexdigest()[:16]}-{len(ds)}"


def story_split(
    pooled: datasets.Dataset, headline: str, body: str, label: str, fraction: float, seed: int
) -> tuple[datasets.Dataset, datasets.Dataset]:
    """Split stance rows so that validation shares no story with training.

    A story is a connected group of headlines and bodies joined by related (not `unrelated`)
    pairs. FNC-1's official split is by body only, so every validation headline also occurs
    in training and validation overstates accuracy on unseen stories (the test set's case).
    Validation = rows whose body lies in a held-out story; training = rows whose body and
    headline both lie outside them (unrelated pairs that straddle the cut are dropped).
    """
    parent: dict[tuple[str, str], tuple[str, str]] = {}

    def root(node: tuple[str, str]) -> tuple[str, str]:
        parent.setdefault(node, node)
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    heads, bodies, labels = pooled[headline], pooled[body], pooled[label]
    for h, b, y in zip(heads, bodies, labels, strict=True):
        rh, rb = root(("h", h)), root(("b", b))
        if y != "unrelated":
            parent[rh] = rb
    stories = sorted({root(("b", b)) for b in bodies})
    random.Random(seed).shuffle(stories)
    held = set(stories[: max(1, round(fraction * len(stories)))])
    val_idx, train_idx = [], []
    for i, (h, b) in enumerate(zip(heads, bodies, strict=True)):
        if root(("b", b)) in held:
            val_idx.append(i)
        elif root(("h", h)) not in held:
            train_idx.append(i)
    return pooled.select(train_idx).flatten_indices(), pooled.select(val_idx).flatten_indices()
