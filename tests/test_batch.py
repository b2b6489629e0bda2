"""`opslens batch` without the model: how lines become items or error records, and the
clear refusal when the Ray extra is missing."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from opslens.batch.ray_engine import line_blocks
from opslens.batch.records import Columns, Item, decode_line, parse_line
from opslens.cli import main


def test_a_good_line_becomes_an_item_with_defaults() -> None:
    item = parse_line(json.dumps({"id": 3, "text": "Some article."}), Columns(), 4)
    assert isinstance(item, Item)
    assert (item.id, item.title, item.claims, item.max_sentences) == (3, None, [], 4)


def test_columns_are_configurable() -> None:
    line = json.dumps({"key": "a", "article": "Body.", "headline": "H", "checks": ["c"], "k": 2})
    columns = Columns(id="key", text="article", title="headline", claims="checks", max_sentences="k")
    item = parse_line(line, columns, 3)
    assert isinstance(item, Item)
    assert (item.id, item.text, item.title, item.claims, item.max_sentences) == ("a", "Body.", "H", ["c"], 2)


@pytest.mark.parametrize(
    ("line", "kind", "message"),
    [
        ("", "empty_line", "empty"),
        ("{oops", "bad_json", "not valid JSON"),
        ("[1, 2]", "bad_json", "JSON object"),
        (json.dumps({"id": "x"}), "invalid", "missing column 'text'"),
        (json.dumps({"id": "x", "text": ""}), "invalid", "text:"),
        (json.dumps({"id": "x", "text": 5}), "invalid", "text:"),
        (json.dumps({"id": "x", "text": "t", "claims": "not a list"}), "invalid", "claims:"),
        (json.dumps({"id": "x", "text": "t", "max_sentences": 0}), "invalid", "max_sentences:"),
    ],
)
def test_bad_lines_become_error_records(line: str, kind: str, message: str) -> None:
    record = parse_line(line, Columns(), 3)
    assert isinstance(record, dict)
    assert record["error"]["type"] == kind
    assert message in record["error"]["message"]
    if kind == "invalid":
        assert record["id"] == "x"  # the id survives when the line could be read


def test_lines_decode_like_the_file_reader() -> None:
    assert decode_line(b'{"a": 1}\r') == '{"a": 1}'
    assert decode_line(b"\xff") == "\ufffd"


@pytest.mark.parametrize("chunk_bytes", [1, 3, 7, 1 << 20])
def test_ray_reader_splits_lines_like_the_local_reader(tmp_path: Path, chunk_bytes: int) -> None:
    data = '{"a": "x\u2028y"}\n\n{"b": 2}\r\nlast'.encode()
    path = tmp_path / "in.jsonl"
    path.write_bytes(data)
    with open(path, "rb") as f:
        blocks = list(line_blocks(f.read, chunk_bytes))
    with open(path, "rb") as f:
        local = [decode_line(raw.rstrip(b"\n")) for raw in f]
    expected = ['{"a": "x\u2028y"}', "", '{"b": 2}', "last"]
    assert [line for block in blocks for line in block] == local == expected


def test_ray_engine_without_ray_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now fails as if not installed
    src = tmp_path / "in.jsonl"
    src.write_text('{"text": "x"}\n')
    assert main(["batch", str(src), str(tmp_path / "out.jsonl"), "--engine", "ray"]) == 2
    assert "pip install 'opslens[ray]'" in capsys.readouterr().err
    assert not (tmp_path / "out.jsonl").exists()
    assert main(["serve", "--engine", "ray"]) == 2
    assert "pip install 'opslens[ray]'" in capsys.readouterr().err


def test_bad_arguments_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["batch", str(tmp_path / "missing.jsonl"), str(tmp_path / "out.jsonl")]) == 2
    assert "not found" in capsys.readouterr().err
    src = tmp_path / "in.jsonl"
    src.write_text("{}\n")
    assert main(["batch", str(src), str(tmp_path / "out.jsonl"), "--batch-size", "0"]) == 2
    assert "--batch-size" in capsys.readouterr().err
