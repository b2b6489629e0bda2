"""Write output records as JSONL, numbered by input line, with progress and counts on stderr."""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from opslens.batch.records import Record


@dataclass
class Counts:
    lines: int = 0
    analyzed: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0

    def summary(self) -> str:
        rate = self.lines / self.seconds if self.seconds else 0.0
        errors = ", ".join(f"{k} {v}" for k, v in sorted(self.errors.items())) or "none"
        return (
            f"{self.lines} lines in {self.seconds:.1f}s ({rate:.1f} lines/s): "
            f"{self.analyzed} analyzed, {sum(self.errors.values())} errors ({errors})"
        )


def write_records(records: Iterable[Record], out: Path, *, total: int | None = None) -> Counts:
    """Each record gets `line` (1-based input line number) first; records must come in input order."""
    counts = Counts()
    start = time.perf_counter()
    out.parent.mkdir(parents=True, exist_ok=True)
    with (
        open(out, "w", encoding="utf-8") as f,
        tqdm(total=total, desc="batch", unit="line", file=sys.stderr, mininterval=2) as progress,
    ):
        for counts.lines, record in enumerate(records, start=1):
            f.write(json.dumps({"line": counts.lines, **record}, ensure_ascii=False) + "\n")
            if "error" in record:
                counts.errors[record["error"]["type"]] += 1
            else:
                counts.analyzed += 1
            progress.update(1)
    counts.seconds = time.perf_counter() - start
    return counts
