"""Write output records as JSONL, numbered by input line, with progress and counts on stderr.

Records arrive in chunks (one model call's worth). Each chunk is written whole and flushed,
so a killed run leaves complete lines up to its last chunk and at most one torn line after
them, which `--resume` cuts off and redoes.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from opslens.batch.records import Record, without_timings
from opslens.batch.resume import ResumePoint

# fsync (which survives a power cut, not only a kill) at most this often: a chunk of quick
# error lines can take milliseconds, and a sync per chunk would then cost more than the work.
SYNC_EVERY_S = 1.0


@dataclass
class Counts:
    lines: int = 0
    reused: int = 0
    analyzed: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0

    def summary(self) -> str:
        rate = self.lines / self.seconds if self.seconds else 0.0
        errors = ", ".join(f"{k} {v}" for k, v in sorted(self.errors.items())) or "none"
        kept = f"{self.reused} lines kept from the previous run, " if self.reused else ""
        return (
            f"{kept}{self.lines} lines in {self.seconds:.1f}s ({rate:.1f} lines/s): "
            f"{self.analyzed} analyzed, {sum(self.errors.values())} errors ({errors})"
        )


def write_records(
    chunks: Iterable[Sequence[Record]],
    out: Path,
    *,
    total: int | None = None,
    resume: ResumePoint | None = None,
    timings: bool = True,
) -> Counts:
    """Each record gets `line` (1-based input line number) first; chunks must come in input
    order. With `resume`, `out` is cut to its kept part and the records continue after it."""
    counts = Counts(reused=resume.lines if resume else 0)
    start = last_sync = time.perf_counter()
    out.parent.mkdir(parents=True, exist_ok=True)
    keep = resume.output_bytes if resume else 0
    if keep:
        os.truncate(out, keep)  # drops a torn last line
    with (
        open(out, "a" if keep else "w", encoding="utf-8", newline="\n") as f,
        tqdm(
            total=total, initial=counts.reused, desc="batch", unit="line", file=sys.stderr, mininterval=2
        ) as bar,
    ):
        for chunk in chunks:
            text = ""
            for record in chunk:
                counts.lines += 1
                numbered = {
                    "line": counts.reused + counts.lines,
                    **(record if timings else without_timings(record)),
                }
                text += json.dumps(numbered, ensure_ascii=False) + "\n"
                if "error" in record:
                    counts.errors[record["error"]["type"]] += 1
                else:
                    counts.analyzed += 1
            f.write(text)
            f.flush()  # in the kernel now: a SIGKILL cannot lose it
            if time.perf_counter() - last_sync >= SYNC_EVERY_S:
                os.fsync(f.fileno())
                last_sync = time.perf_counter()
            bar.update(len(chunk))
        os.fsync(f.fileno())
    counts.seconds = time.perf_counter() - start
    return counts
