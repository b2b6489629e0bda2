"""Temperature scaling: recovers a known over-confidence, and stays finite on a head that has
learnt nothing (a smoke run's), where the NLL falls for ever as T grows."""

from __future__ import annotations

import math

import torch

from opslens.training.calibration import LOG_T_RANGE, fit_temperature


def test_recovers_the_temperature_that_made_logits_overconfident() -> None:
    g = torch.Generator().manual_seed(0)
    calibrated = torch.randn(4000, 3, generator=g) * 2
    targets = torch.multinomial(calibrated.softmax(-1), 1, generator=g).squeeze(1)
    assert abs(fit_temperature(calibrated * 3, targets) - 3) < 0.3


def test_uninformative_logits_give_a_finite_bounded_temperature() -> None:
    g = torch.Generator().manual_seed(1)
    logits = torch.randn(300, 3, generator=g)
    targets = torch.randint(0, 3, (300,), generator=g)
    t = fit_temperature(logits, targets)
    assert math.isfinite(t) and t <= math.exp(LOG_T_RANGE[1]) + 1e-3
    probs = (logits / t).softmax(-1)
    assert torch.isfinite(probs).all()
