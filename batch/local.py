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
    model: OpsLens, path: Path, columns: Columns, max_sentences: int, batch_size: int
) -> Iterator[Record]:
    """Records for the file's lines, in order; only `batch_size` lines are held at a time."""
    # Binary lines split on "\n" only, as the Ray reader does, so both engines see the same lines.
    with open(path, "rb") as f:
        lines = (decode_line(raw.rstrip(b"\n")) for raw in f)
        while chunk := list(islice(lines, batch_size)):
            yield from analyze_lines(model, chunk, columns, max_sentences)
