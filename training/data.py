"""Read training files through `datasets`: JSONL (optionally gzipped) or CSV, any path."""

from __future__ import annotations

import hashlib
import random
from pathlib import Path

import datasets

from opslens.model.cache import file_sha256
from opslens.training.config import TrainConfig


def load_table(
    path: Path | str, required: tuple[str, ...], limit: int | None = None, *, sample_seed: int | None = None
) -> datasets.Dataset:
    """Load one split; fail early and clearly when a required column is absent.

    With `limit`, keep the first `limit` rows, or a seeded random sample of that size when
    `sample_seed` is given (files are often ordered by source, and a prefix would be skewed).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"data file not found: {path}")
    suffixes = "".join(path.suffixes).lower()
    builder = "csv" if ".csv" in suffixes else "json"
    ds = datasets.load_dataset(builder, data_files=str(path), split="train")
    missing = [c for c in required if c not in ds.column_names]
    if missing:
        raise ValueError(f"{path}: missing column(s) {missing}; found {ds.column_names}")
    if limit is not None and limit < len(ds):
        ds = ds.shuffle(seed=sample_seed) if sample_seed is not None else ds
        ds = ds.select(range(limit)).flatten_indices()
    return ds


def describe(path: Path | str, ds: datasets.Dataset) -> dict:
    """The data record a model card keeps: where, which bytes, how many."""
    return {"path": str(path), "sha256": file_sha256(path), "examples": len(ds)}


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
