"""Data files as tables, for whoever reads them: the trainers and the evaluation harness.

JSONL (optionally gzipped) or CSV, any path, read through `datasets`. This module sits at the
package root so that eval and training can share it without either importing the other.
"""

from __future__ import annotations

from pathlib import Path

import datasets

from opslens.model.cache import file_sha256


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
