"""Where locally built models live (the int8 ONNX encoder, the generator's float base and its
CTranslate2 conversion) and the file hash every build is recorded and checked with."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path


def default_cache_dir() -> Path:
    """$OPSLENS_CACHE_DIR, else $XDG_CACHE_HOME/opslens, else ~/.cache/opslens."""
    if env := os.environ.get("OPSLENS_CACHE_DIR"):
        return Path(env)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "opslens"


def file_sha256(path: Path | str) -> str:
    """sha256 of a file, read in chunks (weights files are hundreds of MB)."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()
