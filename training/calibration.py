"""Temperature scaling (Guo et al., 2017): one scalar per classifier head, fitted on validation
logits, that makes the softmax probabilities mean what they say."""

from __future__ import annotations

import torch
from torch import nn


def fit_temperature(logits: torch.Tensor, targets: torch.Tensor) -> float:
    """The temperature T minimising the validation NLL of softmax(logits / T)."""
    logits, targets = logits.detach().float().cpu(), targets.cpu()
    log_t = torch.zeros(1, requires_grad=True)
    opt = torch.optim.LBFGS([log_t], lr=0.1, max_iter=200)

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = nn.functional.cross_entropy(logits / log_t.exp(), targets)
        loss.backward()
        return loss

    opt.step(closure)
    return float(log_t.detach().exp())
