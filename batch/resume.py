"""`opslens batch --resume`: where a stopped run's output ends, so a rerun continues there.

The writer appends whole chunks of complete lines numbered by input line from 1, so a kill
leaves complete records 1..k and at most one torn last line (no newline, or not JSON). The
part kept is those k records, checked against the input's first k lines; the rest is cut.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from opslens.batch.records import Columns, decode_line, parse_line


class ResumeError(ValueError):
    """The output is not an interrupted run over this input; nothing is truncated."""


@dataclass(frozen=True)
class ResumePoint:
    """The first `lines` input lines are answered by the first `output_bytes` bytes of the
    output; the next input line starts at byte `input_bytes` of the input."""

    lines: int = 0
    input_bytes: int = 0
    output_bytes: int = 0


def _complete_record(raw: bytes) -> dict[str, Any] | None:
    """The record a whole output line holds, or None for a torn one."""
    if not raw.endswith(b"\n"):
        return None
    try:
        record = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    return record if isinstance(record, dict) else None


def _input_id(raw: bytes, columns: Columns, max_sentences: int) -> Any:
    """The `id` the batch run writes for this input line (None when it cannot read one)."""
    parsed = parse_line(decode_line(raw.rstrip(b"\n")), columns, max_sentences)
    return parsed.get("id") if isinstance(parsed, dict) else parsed.id


def find_resume_point(source: Path, output: Path, columns: Columns, max_sentences: int) -> ResumePoint:
    """How much of `output` a rerun over `source` keeps (all of it when it is missing: none).

    Raises ResumeError when the output cannot be a stopped run over this input: a record
    numbered out of turn, an `id` that differs from the input line's, more records than
    input lines, or an unreadable line with more after it (a kill tears only the last)."""
    if not output.exists():
        return ResumePoint()
    lines = input_bytes = output_bytes = 0
    with open(source, "rb") as src, open(output, "rb") as out:
        for raw in out:
            n = lines + 1
            record = _complete_record(raw)
            if record is None:
                if out.read(1):
                    raise ResumeError(f"{output} line {n} is not a JSON record and more lines follow it")
                break  # a torn last line: redone
            line = src.readline()
            if not line:
                raise ResumeError(f"{output} has more records than {source} has lines ({lines})")
            if record.get("line") != n:
                raise ResumeError(f"{output} line {n} is numbered {record.get('line')!r}, not {n}")
            expected = _input_id(line, columns, max_sentences)
            if record.get("id") != expected:
                raise ResumeError(
                    f"{output} line {n} has id {record.get('id')!r} but {source} line {n} has id "
                    f"{expected!r}: written for another input?"
                )
            lines, input_bytes, output_bytes = n, input_bytes + len(line), output_bytes + len(raw)
    return ResumePoint(lines, input_bytes, output_bytes)
