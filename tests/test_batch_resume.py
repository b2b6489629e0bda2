"""`opslens batch --resume` without the model: where a stopped output is cut, what is refused,
and how the rerun's records continue it. (The SIGKILL run is in test_faults.py.)"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from opslens.batch.local import analyze_file
from opslens.batch.records import Columns
from opslens.batch.resume import ResumeError, ResumePoint, find_resume_point
from opslens.batch.writer import write_records
from opslens.cli import main
from opslens.model.pipeline import OpsLens

N = 5


def _input(tmp_path: Path) -> tuple[Path, list[bytes]]:
    lines = [json.dumps({"id": f"a{i}", "text": f"Article {i}."}).encode() + b"\n" for i in range(1, N + 1)]
    path = tmp_path / "in.jsonl"
    path.write_bytes(b"".join(lines))
    return path, lines


def _records(count: int, first: int = 1) -> list[bytes]:
    """Output lines as a run over `_input` writes them."""
    return [
        json.dumps({"line": i, "id": f"a{i}", "analysis": {"summary": f"Article {i}."}}).encode() + b"\n"
        for i in range(first, first + count)
    ]


@pytest.mark.parametrize(
    "tail",
    [
        b"",
        b'{"line": 4, "id": "a4", "analysis": {"summ',  # torn mid-record, no newline
        b'{"line": 4, "id": "a4"}',  # whole JSON but no newline: the write did not finish
        b'{"line": 4, "id": "a4", "anal\n',  # a newline yet not JSON (a page half on disk)
        b"\x00\x00\x00\x00",  # a block allocated but never written (power cut)
    ],
)
def test_the_kept_part_ends_at_the_last_complete_record(tmp_path: Path, tail: bytes) -> None:
    src, lines = _input(tmp_path)
    out = tmp_path / "out.jsonl"
    kept = _records(3)
    out.write_bytes(b"".join(kept) + tail)
    point = find_resume_point(src, out, Columns(), 3)
    assert point == ResumePoint(3, sum(map(len, lines[:3])), sum(map(len, kept)))


def test_no_output_yet_means_start_at_line_one(tmp_path: Path) -> None:
    src, _ = _input(tmp_path)
    assert find_resume_point(src, tmp_path / "missing.jsonl", Columns(), 3) == ResumePoint()


@pytest.mark.parametrize(
    ("output", "problem"),
    [
        ([*_records(2), *_records(1, first=4)], "line 3 is numbered 4, not 3"),
        ([*_records(2), json.dumps({"line": 3, "id": "b3"}).encode() + b"\n"], "id 'b3' but"),
        (_records(N + 1), f"more records than {{src}} has lines ({N})"),
        ([*_records(1), b"garbage\n", *_records(2, first=3)], "line 2 is not a JSON record and more"),
        ([b'{"id": "a1"}\n'], "line 1 is numbered None"),
    ],
)
def test_an_output_of_another_input_is_refused_and_left_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], output: list[bytes], problem: str
) -> None:
    src, _ = _input(tmp_path)
    out = tmp_path / "out.jsonl"
    out.write_bytes(b"".join(output))
    with pytest.raises(ResumeError, match="^" + re.escape(str(out))):
        find_resume_point(src, out, Columns(), 3)
    assert main(["batch", str(src), str(out), "--resume"]) == 2
    err = capsys.readouterr().err
    assert f"error: cannot resume: {out}" in err and problem.format(src=src) in err, err
    assert out.read_bytes() == b"".join(output)


def test_a_complete_output_is_only_trimmed_and_loads_no_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def no_model(*args: object, **kwargs: object) -> OpsLens:
        raise AssertionError("a complete output needs no model")

    monkeypatch.setattr(OpsLens, "load", no_model)
    src, _ = _input(tmp_path)
    out = tmp_path / "out.jsonl"
    out.write_bytes(b"".join(_records(N)) + b'{"line": 6')
    assert main(["batch", str(src), str(out), "--resume"]) == 0
    assert out.read_bytes() == b"".join(_records(N))
    err = capsys.readouterr().err
    assert f"resuming: {N} of {N} lines" in err and "nothing left to analyze" in err
    assert f"{N} lines kept from the previous run, 0 lines" in err


def test_the_rerun_continues_the_numbering_after_the_kept_part(tmp_path: Path) -> None:
    src, _ = _input(tmp_path)
    out = tmp_path / "out.jsonl"
    out.write_bytes(b"".join(_records(3)) + b'{"line": 4, "id": "a4", "ana')
    point = find_resume_point(src, out, Columns(), 3)
    new = [{"id": "a4", "error": {"type": "invalid", "message": "m"}}, {"id": "a5", "analysis": {"x": 1}}]
    counts = write_records([new[:1], new[1:]], out, total=N, resume=point)
    written = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["line"] for r in written] == [1, 2, 3, 4, 5]
    assert written[3:] == [{"line": 4, **new[0]}, {"line": 5, **new[1]}]
    assert (counts.reused, counts.lines, counts.analyzed, dict(counts.errors)) == (3, 2, 1, {"invalid": 1})


def test_no_timings_drops_only_the_timings(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    record = {"id": 1, "analysis": {"summary": "S.", "timings_ms": {"total_ms": 3.5}}}
    write_records([[record, {"id": 2, "error": {"type": "empty_line", "message": "m"}}]], out, timings=False)
    written = [json.loads(line) for line in out.read_text().splitlines()]
    assert written[0] == {"line": 1, "id": 1, "analysis": {"summary": "S."}}
    assert written[1]["error"]["type"] == "empty_line"


def test_resumed_chunks_keep_the_boundaries_of_an_uninterrupted_run(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_bytes(b"\n" * 15)  # empty lines: error records, so no article reaches the model
    model: OpsLens = None  # type: ignore[assignment]  # never called
    sizes = [len(c) for c in analyze_file(model, src, Columns(), 3, 4, skip_lines=6, skip_bytes=6)]
    assert sizes == [2, 4, 3]  # lines 7-8, 9-12, 13-15: as when run from line 1
    assert [len(c) for c in analyze_file(model, src, Columns(), 3, 4)] == [4, 4, 4, 3]
