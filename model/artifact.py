"""A trained OpsLens artifact is a folder that loads itself.

    manifest.json            name, version, base encoder reference, components
    <component>.json         the component's config and how it was trained (data, command, metrics)
    <component>.safetensors  its weights, fp16 (never pickle)
    MODEL_CARD.md            rendered from the above (model/card.py; trainers write it after saving)

The base encoder is referenced by package name and version, never copied.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, TypeVar

import torch
from pydantic import BaseModel, ValidationError
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file
from torch import nn

from opslens.model.cache import file_sha256
from opslens.model.encoder import ENCODER_NAME, ENCODER_PACKAGE

SHIPPED_ARTIFACT = Path(__file__).parent / "artifacts" / "opslens-v1"
MANIFEST = "manifest.json"
CARD = "MODEL_CARD.md"

C = TypeVar("C", bound=BaseModel)


class ArtifactError(RuntimeError):
    """The artifact folder is missing, incomplete or corrupt."""


class Manifest(BaseModel):
    name: str
    version: str
    encoder: dict[str, Any]
    components: list[str] = []


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ArtifactError(f"artifact file missing: {path}") from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ArtifactError(f"artifact file is not valid JSON: {path} ({exc})") from exc


def read_manifest(folder: Path) -> Manifest:
    if not folder.is_dir():
        raise ArtifactError(f"artifact folder not found: {folder}")
    try:
        return Manifest.model_validate(_read_json(folder / MANIFEST))
    except ValidationError as exc:
        raise ArtifactError(f"invalid manifest in {folder}: {exc}") from exc


def read_component_meta(folder: Path, name: str) -> dict[str, Any]:
    return _read_json(folder / f"{name}.json")


def _encoder_ref(window_tokens: int) -> dict[str, Any]:
    try:
        pkg_version = version(ENCODER_PACKAGE.replace("_", "-"))
    except PackageNotFoundError:
        pkg_version = "unknown"
    return {
        "name": ENCODER_NAME,
        "package": ENCODER_PACKAGE.replace("_", "-"),
        "package_version": pkg_version,
        "window_tokens": window_tokens,
        "frozen": True,
    }


def init_artifact(folder: Path, name: str, artifact_version: str, window_tokens: int = 256) -> Manifest:
    """Create the manifest if the folder has none; keep an existing one."""
    folder.mkdir(parents=True, exist_ok=True)
    if (folder / MANIFEST).exists():
        return read_manifest(folder)
    manifest = Manifest(name=name, version=artifact_version, encoder=_encoder_ref(window_tokens))
    (folder / MANIFEST).write_text(manifest.model_dump_json(indent=2) + "\n", encoding="utf-8")
    return manifest


def save_component(
    folder: Path, name: str, module: nn.Module, config: BaseModel, training: dict[str, Any]
) -> None:
    """Write one component (fp16 weights + config + training record). Storage only: the caller
    renders the card afterwards (`opslens.model.card.write_card`)."""
    save_component_state(folder, name, module.state_dict(), config, training)


def save_component_state(
    folder: Path, name: str, state: dict[str, torch.Tensor], config: BaseModel, training: dict[str, Any]
) -> None:
    """`save_component` for weights that are not one module's state (a LoRA adapter)."""
    manifest = read_manifest(folder)
    weights = folder / f"{name}.safetensors"
    state = {k: v.detach().to(torch.float16).contiguous() for k, v in state.items()}
    save_file(state, str(weights))
    meta = {"config": config.model_dump(mode="json"), "sha256": file_sha256(weights), "training": training}
    (folder / f"{name}.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    if name not in manifest.components:
        manifest.components.append(name)
        (folder / MANIFEST).write_text(manifest.model_dump_json(indent=2) + "\n", encoding="utf-8")


def _checked_weights(folder: Path, name: str, meta: dict[str, Any]) -> Path:
    """The component's weights file, present and unaltered since it was written."""
    weights = folder / f"{name}.safetensors"
    if not weights.is_file():
        raise ArtifactError(f"artifact file missing: {weights}")
    if meta.get("sha256") and file_sha256(weights) != meta["sha256"]:
        raise ArtifactError(f"checksum mismatch for {weights}: the file is corrupt or was replaced")
    return weights


def verify_artifact(folder: Path, required: Iterable[str] = ()) -> Manifest:
    """Check a folder without building any model: a readable manifest listing the required
    components, and for each component its record and unaltered weights. Cheap (hashes a few
    MB), so a server can refuse a broken artifact before it starts serving."""
    manifest = read_manifest(folder)
    missing = set(required) - set(manifest.components)
    if missing:
        raise ArtifactError(f"artifact {folder} lacks component(s): {', '.join(sorted(missing))}")
    for name in manifest.components:
        weights = _checked_weights(folder, name, read_component_meta(folder, name))
        try:
            with safe_open(str(weights), framework="pt") as f:
                f.keys()
        except (SafetensorError, OSError) as exc:
            raise ArtifactError(f"cannot read weights {weights}: {exc}") from exc
    return manifest


def load_component_state(folder: Path, name: str, config_cls: type[C]) -> tuple[dict[str, torch.Tensor], C]:
    """A component's checked fp16 weights and its validated config."""
    meta = read_component_meta(folder, name)
    try:
        config = config_cls.model_validate(meta["config"])
    except (KeyError, ValidationError) as exc:
        raise ArtifactError(f"invalid config for component '{name}' in {folder}: {exc}") from exc
    weights = _checked_weights(folder, name, meta)
    try:
        return load_file(str(weights)), config
    except (SafetensorError, OSError) as exc:
        raise ArtifactError(f"cannot read weights {weights}: {exc}") from exc


def component_sha256(folder: Path, name: str) -> str:
    """The sha256 of a component's weights as recorded when written (hashed now if unrecorded):
    the identity of whatever is derived from them, such as a converted decoding engine."""
    meta = read_component_meta(folder, name)
    return meta.get("sha256") or file_sha256(_checked_weights(folder, name, meta))


def load_component(
    folder: Path, name: str, module_cls: type[nn.Module], config_cls: type[C]
) -> tuple[nn.Module, C]:
    """Restore a component exactly as trained (weights cast back to float32, eval mode)."""
    state, config = load_component_state(folder, name, config_cls)
    module = module_cls(config)
    try:
        module.load_state_dict({k: v.float() for k, v in state.items()})
    except RuntimeError as exc:
        weights = folder / f"{name}.safetensors"
        raise ArtifactError(f"weights in {weights} do not fit the config: {exc}") from exc
    return module.eval(), config
