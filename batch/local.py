"""The local batch engine: stream the input, analyze N lines at a time in this process."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import islice
from pathlib import Path

from opslens.batch.records import Columns, Record, analyze_lines, decode_line
from opslens.model.pipeline import OpsLens


def count_lines(path: Path) -> int:
    with open(path, "rb") as f:
        return sum(1 for _ in f)


def analyze_file(
    model: OpsLens,
    path: Path,
    columns: Columns,
    max_sentences: int,
    batch_size: int,
    *,
    skip_lines: int = 0,
    skip_bytes: int = 0,
) -> Iterator[list[Record]]:
    """Records for the file's lines after the first `skip_lines` (which end at byte
    `skip_bytes`), one list per model call, in order; only `batch_size` lines are held at a time."""
    # Binary lines split on "\n" only, as the Ray reader does, so both engines see the same lines.
    with open(path, "rb") as f:
        f.seek(skip_bytes)
        lines = (decode_line(raw.rstrip(b"\n")) for raw in f)
        # A resumed run's chunks keep the boundaries of an uninterrupted one (every
        # `batch_size` lines from line 1), so each article is encoded beside the same others.
        size = batch_size - skip_lines % batch_size
        while chunk := list(islice(lines, size)):
            yield analyze_lines(model, chunk, columns, max_sentences)
            size = batch_size
