"""LoRA on the all-MiniLM-L6-v2 encoder, shared by the fine-tuned models (the claim verifier and
the extractive encoder): which layers get adapters, the base's identity the adapters were trained
on, the adapted encoder for training (peft) and the merged one for inference (no peft: its import
alone holds ~140 MB of a server's memory)."""

from __future__ import annotations

import json
import re
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from pydantic import BaseModel
from torch import nn
from transformers import AutoModel

from opslens.model.artifact import ArtifactError, component_sha256
from opslens.model.bf16 import bf16_model
from opslens.model.cache import file_sha256
from opslens.model.encoder import ENCODER_NAME, ENCODER_PACKAGE, encoder_path
from opslens.model.options import DEFAULT_BACKEND, Backend

if TYPE_CHECKING:
    from opslens.model.onnx_adapted import OnnxHidden  # imports onnxruntime: the onnx extra only

# Every linear layer of the six transformer blocks (not the pooler, which we do not use).
LORA_TARGETS = (
    r".*layer\.\d+\."
    r"(attention\.self\.(query|key|value)|attention\.output\.dense|intermediate\.dense|output\.dense)"
)
# An adapter's weight in a model's state dict whose adapted encoder is its `encoder` attribute:
# the adapted layer's name in the base, and A or B.
LORA_KEY = re.compile(r"^encoder\.base_model\.model\.(?P<module>.+)\.lora_A\.default\.weight$")
BASE_RECORD = "opslens_base.json"  # beside a copied base: the identity of the files it came from


class AdapterConfig(BaseModel):
    """The base a component's adapters were trained on, and the adapters' shape."""

    base: str = ENCODER_NAME
    base_package: str = ENCODER_PACKAGE.replace("_", "-")
    base_package_version: str = "unknown"
    base_sha256: str = ""  # of the package's model.safetensors the adapters were trained on
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.1


def base_identity(path: Path | None = None) -> tuple[str, str]:
    """(package version, sha256 of model.safetensors) of the base the adapters go on. A copy
    made for a machine without the package carries the original's identity in BASE_RECORD."""
    path = path or encoder_path()
    if (path / BASE_RECORD).is_file():
        record = json.loads((path / BASE_RECORD).read_text(encoding="utf-8"))
        return record["package_version"], record["sha256"]
    try:
        pkg_version = version(ENCODER_PACKAGE.replace("_", "-"))
    except PackageNotFoundError:
        pkg_version = "unknown"
    return pkg_version, file_sha256(path / "model.safetensors")


def check_base(component: str, trained_on: str, package: str) -> None:
    """Refuse adapters trained on other base weights than the installed ones."""
    if not trained_on:
        return
    _, installed = base_identity()
    if installed != trained_on:
        raise ArtifactError(
            f"the {component} was trained on base {trained_on[:12]}, but the installed "
            f"{package} has {installed[:12]}"
        )


def load_base() -> nn.Module:
    """The installed all-MiniLM-L6-v2 weights, without the pooler."""
    return AutoModel.from_pretrained(encoder_path(), local_files_only=True, add_pooling_layer=False)


def adapted(base: nn.Module, r: int, alpha: int, dropout: float) -> nn.Module:
    """`base` with LoRA adapters on every LORA_TARGETS layer; the base is frozen."""
    from peft import LoraConfig, get_peft_model  # seconds to import: only training needs it

    lora = LoraConfig(r=r, lora_alpha=alpha, lora_dropout=dropout, target_modules=LORA_TARGETS, bias="none")
    return get_peft_model(base, lora)


def merge_lora(base: nn.Module, state: dict[str, torch.Tensor], scaling: float) -> int:
    """Fold the LoRA adapters in `state` into `base`: W += scaling x B @ A on each adapted Linear
    layer, as peft's merge_and_unload does (no fan_in_fan_out, no rsLoRA, biases untouched);
    tests/test_verifier.py checks the two agree. Returns how many layers were merged."""
    merged = 0
    with torch.no_grad():
        for key, a in state.items():
            if (found := LORA_KEY.match(key)) is None:
                continue
            b = state[key.replace(".lora_A.", ".lora_B.")]
            base.get_submodule(found["module"]).weight += scaling * (b.float() @ a.float())
            merged += 1
    return merged


def served_encoder(
    folder: Path,
    component: str,
    state: dict[str, torch.Tensor],
    r: int,
    alpha: int,
    *,
    backend: Backend = DEFAULT_BACKEND,
    cache_dir: Path | None = None,
    threads: int | None = None,
) -> nn.Module | OnnxHidden:
    """The base with `component`'s adapters merged, to infer with: in torch (under bfloat16 autocast
    with the bf16 backend), or with the onnx backend as an int8 ONNX Runtime graph (built and
    cached on first use, onnx_adapted.py)."""
    if backend == "bf16":
        return bf16_model(merged_base(component, state, r, alpha))
    if backend != "onnx":
        return merged_base(component, state, r, alpha)
    from opslens.model.onnx_adapted import OnnxHidden, prepare_adapted

    graph = prepare_adapted(
        component,
        component_sha256(folder, component),
        lambda: merged_base(component, state, r, alpha),
        cache_dir,
    )
    return OnnxHidden(graph, threads)


def merged_base(component: str, state: dict[str, torch.Tensor], r: int, alpha: int) -> nn.Module:
    """The installed base with the adapters in `state` folded in, in eval mode; every adapted
    layer must have its adapter."""
    base = load_base()
    layers = base.named_modules()
    targets = [n for n, m in layers if isinstance(m, nn.Linear) and re.fullmatch(LORA_TARGETS, n)]
    if merge_lora(base, state, alpha / r) != len(targets):
        msg = f"not one adapter on each of its {len(targets)} adapted layers"
        raise ArtifactError(f"{component} weights do not fit its config: {msg}")
    return base.eval()
