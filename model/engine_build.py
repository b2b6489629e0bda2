"""What the converted decoding engines share: a build folder in the cache, keyed by everything
it derives from, made in a temporary sibling and moved into place when finished, with a record
holding the key and the sha256 of its weights, checked before every load.

Converted models are never shipped: each is built locally from the prepared float base with
the artifact's adapter merged in (ct2_engine.py, ort_engine.py).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from transformers import PreTrainedModel, PreTrainedTokenizerBase

from opslens.model.cache import file_sha256

RECORD = "opslens.json"


class EngineBuildError(RuntimeError):
    """The converted model is missing, corrupt or could not be built."""


def build_key(parts: Sequence[str]) -> str:
    return hashlib.sha256("|".join(parts).encode()).hexdigest()


def verified(folder: Path, key: str, weights: str) -> bool:
    """True when `folder` holds a finished build for `key` whose `weights` file matches the
    record. A folder for the right key with other weights raises: something changed it after
    the build."""
    record = folder / RECORD
    if not record.is_file() or not (folder / weights).is_file():
        return False
    meta = json.loads(record.read_text(encoding="utf-8"))
    if meta.get("key") != key:
        return False
    if file_sha256(folder / weights) != meta.get("weights_sha256"):
        raise EngineBuildError(
            f"checksum mismatch for {folder / weights}: delete {folder} or run `opslens prepare abstractive`"
        )
    return True


def is_recorded(folder: Path, key: str) -> bool:
    """Whether a finished build for `key` is recorded in `folder` (its weights are not read)."""
    record = folder / RECORD
    return record.is_file() and json.loads(record.read_text(encoding="utf-8")).get("key") == key


@contextmanager
def saved(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, parent: Path) -> Iterator[str]:
    """`model` (adapter merged) and `tokenizer` saved in a temporary folder under `parent`, in
    the transformers layout the converters read."""
    with tempfile.TemporaryDirectory(dir=parent) as hf_dir:
        model.save_pretrained(hf_dir, safe_serialization=True)
        tokenizer.save_pretrained(hf_dir)
        yield hf_dir


@contextmanager
def staged(folder: Path, key: str, weights: str, **meta: str) -> Iterator[Path]:
    """A fresh temporary folder to build into; on success it gets the record and becomes
    `folder`, on failure it is removed (two processes may build at once: each has its own)."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = folder.with_name(f"{folder.name}.tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    record = {"key": key, **meta, "weights_sha256": file_sha256(tmp / weights)}
    (tmp / RECORD).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    shutil.rmtree(folder, ignore_errors=True)
    os.replace(tmp, folder)
