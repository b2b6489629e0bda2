from __future__ import annotations

import torch

from opslens.model.extractive import ExtractiveConfig, ExtractiveScorer, pad_documents, select_sentences
from opslens.training.oracle import greedy_oracle


def test_selection_is_in_article_order_and_bounded() -> None:
    toks = [[f"w{i}", f"x{i}", f"y{i}"] for i in range(5)]
    assert select_sentences([0.1, 0.9, 0.2, 0.8, 0.7], toks, 2) == [1, 3]
    assert select_sentences([0.1, 0.9, 0.2, 0.8, 0.7], toks, 10) == [0, 1, 2, 3, 4]


def test_trigram_blocking_skips_repeats() -> None:
    toks = [
        ["russia", "lost", "tanks", "today"],
        ["russia", "lost", "tanks", "again"],
        ["kyiv", "said", "nothing"],
    ]
    assert select_sentences([0.9, 0.8, 0.1], toks, 2) == [0, 2]
    assert select_sentences([0.9, 0.8, 0.1], toks, 2, block_trigrams=False) == [0, 1]


def test_scorer_masks_padding() -> None:
    model = ExtractiveScorer(ExtractiveConfig(input_dim=8, d_model=16, heads=2, ff_dim=32)).eval()
    padded, mask = pad_documents([torch.randn(3, 8), torch.randn(5, 8)])
    logits = model(padded, mask)
    assert logits.shape == (2, 5)
    assert torch.isinf(logits[0, 3:]).all() and torch.isfinite(logits[1]).all()
    # A padded document scores its real sentences exactly as it would alone.
    alone = model(padded[:1, :3], mask[:1, :3])
    torch.testing.assert_close(alone[0], logits[0, :3])


def test_oracle_picks_the_sentences_that_match_the_reference() -> None:
    sentences = [
        "The weather in Kyiv was mild on Sunday.",
        "Russian forces lost thirty armored vehicles near Vuhledar.",
        "Officials said a family of three was killed in Kherson.",
        "A football match was postponed.",
    ]
    reference = "Russia lost thirty armored vehicles near Vuhledar.\nA family of three was killed in Kherson."
    assert greedy_oracle(sentences, reference, 3) == [1, 2]
