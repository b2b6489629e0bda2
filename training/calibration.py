"""Temperature scaling (Guo et al., 2017): one scalar per classifier head, fitted on validation
logits, that makes the softmax probabilities mean what they say."""

from __future__ import annotations

import torch
from torch import nn

# A head that has learnt nothing yet (a smoke run of a few steps) has its NLL fall for ever as T
# grows; LBFGS then runs log T off to overflow and the probabilities become NaN. T is kept in a
# range no trained head leaves (the shipped ones: 1.3 to 2.9).
LOG_T_RANGE = (-3.0, 4.6)  # T from 0.05 to 100


def fit_temperature(logits: torch.Tensor, targets: torch.Tensor) -> float:
    """The temperature T minimising the validation NLL of softmax(logits / T)."""
    logits, targets = logits.detach().float().cpu(), targets.cpu()
    log_t = torch.zeros(1, requires_grad=True)
    opt = torch.optim.LBFGS([log_t], lr=0.1, max_iter=200)

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = nn.functional.cross_entropy(logits / log_t.clamp(*LOG_T_RANGE).exp(), targets)
        loss.backward()
        return loss

    opt.step(closure)
    fitted = log_t.detach().nan_to_num(nan=0.0).clamp(*LOG_T_RANGE)
    return float(fitted.exp())
