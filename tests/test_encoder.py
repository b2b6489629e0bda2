from __future__ import annotations

import pytest
import torch

from opslens.model.encoder import SentenceEncoder

pytestmark = pytest.mark.slow  # the real sentence encoder


@pytest.fixture(scope="module")
def encoder() -> SentenceEncoder:
    return SentenceEncoder(window_tokens=32)


def test_vectors_are_unit_length_and_batch_independent(encoder: SentenceEncoder) -> None:
    texts = ["Russia lost tanks near Vuhledar.", "The EU will buy ammunition for Ukraine.", "short"]
    together = encoder.encode(texts)
    assert together.shape == (3, encoder.dim)
    torch.testing.assert_close(together.norm(dim=-1), torch.ones(3))
    alone = encoder.encode(texts[1:2])
    torch.testing.assert_close(alone[0], together[1], atol=1e-5, rtol=1e-4)


def test_long_text_is_windowed_not_cut(encoder: SentenceEncoder) -> None:
    head = "Russian forces shelled the eastern town of Bakhmut overnight. " * 4
    tail = "The European Union agreed to purchase artillery ammunition for Kyiv. " * 4
    long = encoder.encode([head + tail])[0]
    only_head = encoder.encode([head])[0]
    only_tail = encoder.encode([tail])[0]
    # The tail beyond the first 32-token window still moves the vector toward its meaning.
    assert float(long @ only_tail) > float(only_head @ only_tail)


def test_empty_input(encoder: SentenceEncoder) -> None:
    assert encoder.encode([]).shape == (0, encoder.dim)
