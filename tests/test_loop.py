"""The training loop's pieces that need no training run."""

from __future__ import annotations

import torch

from opslens.training.loop import average_weights


def test_average_weights_is_the_elementwise_mean_and_keeps_the_last_integer_buffers() -> None:
    a = {"w": torch.tensor([1.0, 2.0], dtype=torch.float16), "ids": torch.tensor([0, 1])}
    b = {"w": torch.tensor([3.0, 6.0], dtype=torch.float16), "ids": torch.tensor([5, 6])}
    out = average_weights([a, b])
    assert out["w"].dtype == torch.float16 and out["w"].tolist() == [2.0, 4.0]
    assert out["ids"].tolist() == [5, 6]
    assert a["w"].tolist() == [1.0, 2.0] and out["ids"] is not b["ids"]  # inputs untouched
