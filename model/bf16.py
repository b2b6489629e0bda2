"""The `bf16` backend: the torch weights run under CPU bfloat16 autocast.

Matrix products run in bfloat16 (float32 accumulation) where the CPU has native instructions
for it (avx512_bf16, AMX): on the 2-core development machine (AMD EPYC, avx512_bf16) the claim
verifier runs ~1.5x faster (served /verify: 717 -> 466 ms) with its probabilities within ~0.001 of
float32. On a CPU without them PyTorch emulates bfloat16 and it is slower, so this is an opt-in,
never the default.
Outputs come back float32, so everything downstream (pooling, heads, thresholds) is unchanged.
"""

from __future__ import annotations

import logging
from typing import Any

import torch
from torch import nn

log = logging.getLogger(__name__)


def has_native_bf16() -> bool:
    """Whether this CPU computes bfloat16 natively (what makes the backend worth choosing)."""
    try:  # PyTorch's own check (oneDNN's), not a public API: absent means unknown, so no
        return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


class Bf16Autocast(nn.Module):
    """Runs a transformer encoder under bfloat16 autocast; its last_hidden_state comes back float32."""

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self.module = module.eval()

    def forward(self, **inputs: torch.Tensor) -> Any:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = self.module(**inputs)
        out.last_hidden_state = out.last_hidden_state.float()
        return out


def bf16_model(module: nn.Module) -> Bf16Autocast:
    """`module` wrapped to run under bfloat16 autocast; warns once per model on a CPU without native
    bfloat16, where this backend is slower than torch."""
    if not has_native_bf16():
        log.warning("the bf16 backend runs slower than torch on this CPU: it has no native bfloat16")
    return Bf16Autocast(module)
