"""One JSONL input line in, one output record out: the part both batch engines share.

A line that cannot be analyzed becomes an error record instead of stopping the run, so
the output always has exactly one record per input line.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from opslens.model.errors import ArticleError
from opslens.model.options import DEFAULT_FORMAT, DEFAULT_MAX_SENTENCES, Format
from opslens.model.pipeline import AnalysisRequest, OpsLens
from opslens.model.results import Analysis

Record = dict[str, Any]


@dataclass(frozen=True)
class Columns:
    """Which input fields hold what (the defaults match the HTTP API's field names)."""

    id: str = "id"
    text: str = "text"
    title: str = "title"
    claims: str = "claims"
    max_sentences: str = "max_sentences"
    format: str = "format"


class Item(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str | int | None = None
    text: str = Field(min_length=1)
    title: str | None = None
    claims: list[str] = Field(default_factory=list)
    max_sentences: int = Field(DEFAULT_MAX_SENTENCES, ge=1)
    format: Format = DEFAULT_FORMAT

    def request(self) -> AnalysisRequest:
        return AnalysisRequest(
            text=self.text,
            title=self.title,
            claims=tuple(self.claims),
            max_sentences=self.max_sentences,
            format=self.format,
        )


def decode_line(raw: bytes) -> str:
    """Bytes of one line (without its newline) as text; undecodable bytes become U+FFFD."""
    return raw.rstrip(b"\r").decode("utf-8", errors="replace")


def _error(kind: str, message: str, item_id: Any = None) -> Record:
    return {"id": item_id, "error": {"type": kind, "message": message}}


def parse_line(line: str, columns: Columns, max_sentences: int) -> Item | Record:
    """The item a line describes, or the error record saying why it describes none."""
    if not line.strip():
        return _error("empty_line", "the line is empty")
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        return _error("bad_json", f"not valid JSON: {exc}")
    if not isinstance(obj, dict):
        return _error("bad_json", f"expected a JSON object, got {type(obj).__name__}")
    fields = {
        "id": obj.get(columns.id),
        "text": obj.get(columns.text),
        "title": obj.get(columns.title),
        "claims": obj.get(columns.claims) or [],
        "max_sentences": obj.get(columns.max_sentences, max_sentences),
        "format": obj.get(columns.format) or DEFAULT_FORMAT,
    }
    item_id = fields["id"] if isinstance(fields["id"], str | int) else None
    if fields["text"] is None:
        return _error("invalid", f"missing column {columns.text!r}", item_id)
    try:
        return Item.model_validate(fields)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else ""
        column = getattr(columns, field, field)
        return _error("invalid", f"{column}: {first['msg']}", item_id)


def _analyze(model: OpsLens, requests: Sequence[AnalysisRequest]) -> list[Analysis | ArticleError]:
    """The whole batch in one pass; if an article in it has no sentence (or, format html, a page
    has no article), one at a time so that only that article fails."""
    try:
        return list(model.analyze_batch(requests))
    except ArticleError:
        out: list[Analysis | ArticleError] = []
        for req in requests:
            try:
                out.append(model.analyze_batch([req])[0])
            except ArticleError as exc:
                out.append(exc)
        return out


def without_timings(record: Record) -> Record:
    """The record without `analysis.timings_ms`, the one part that differs between two runs
    over the same input (`--no-timings`: outputs can then be compared byte for byte)."""
    if "analysis" not in record:
        return record
    return record | {"analysis": {k: v for k, v in record["analysis"].items() if k != "timings_ms"}}


def analyze_lines(model: OpsLens, lines: Sequence[str], columns: Columns, max_sentences: int) -> list[Record]:
    """One output record per line, in order: {"id", "analysis"} or {"id", "error"}."""
    parsed = [parse_line(line, columns, max_sentences) for line in lines]
    items = [p for p in parsed if isinstance(p, Item)]
    results = iter(_analyze(model, [i.request() for i in items]) if items else [])
    out: list[Record] = []
    for p in parsed:
        if not isinstance(p, Item):
            out.append(p)
            continue
        result = next(results)
        if isinstance(result, ArticleError):
            out.append(_error(result.kind, str(result), p.id))
        else:
            out.append({"id": p.id, "analysis": result.model_dump(mode="json")})
    return out
