"""Extractive summarizer: BertSumExt-style sentence scorer over sentence vectors, and selection.

Sentence vectors (the frozen encoder's, or the fine-tuned ones of extractive_encoder.py) get a
position embedding and pass through a small inter-sentence Transformer, so each sentence's score
sees the whole article; a linear layer gives one logit per sentence. Selection takes the best
sentences, skips any that repeat a trigram already chosen (BertSumExt's trigram blocking), and
returns them in article order.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from pydantic import BaseModel
from torch import nn

from opslens.model.results import SummarySentence
from opslens.model.text import Sentence, words


class ExtractiveConfig(BaseModel):
    input_dim: int = 384
    d_model: int = 256
    layers: int = 2
    heads: int = 4
    ff_dim: int = 1024
    dropout: float = 0.1
    # Positions past this share the last embedding; articles are never cut for it.
    max_positions: int = 512


class ExtractiveScorer(nn.Module):
    def __init__(self, config: ExtractiveConfig) -> None:
        super().__init__()
        self.config = config
        self.proj = nn.Linear(config.input_dim, config.d_model)
        self.position = nn.Embedding(config.max_positions, config.d_model)
        layer = nn.TransformerEncoderLayer(
            config.d_model,
            config.heads,
            config.ff_dim,
            config.dropout,
            batch_first=True,
            norm_first=True,
        )
        self.encoder = nn.TransformerEncoder(layer, config.layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(config.d_model)
        self.out = nn.Linear(config.d_model, 1)

    def forward(self, sentences: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """sentences [B, N, input_dim], mask [B, N] (True = real sentence) -> logits [B, N]."""
        n = sentences.shape[1]
        pos = torch.arange(n, device=sentences.device).clamp(max=self.config.max_positions - 1)
        x = self.proj(sentences) + self.position(pos)[None]
        x = self.encoder(x, src_key_padding_mask=~mask)
        logits = self.out(self.norm(x)).squeeze(-1)
        return logits.masked_fill(~mask, float("-inf"))


def _trigrams(tokens: Sequence[str]) -> set[tuple[str, ...]]:
    return {tuple(tokens[i : i + 3]) for i in range(len(tokens) - 2)}


def select_sentences(
    scores: Sequence[float],
    tokens: Sequence[Sequence[str]],
    max_sentences: int,
    *,
    block_trigrams: bool = True,
) -> list[int]:
    """Indices of the chosen sentences, in article order."""
    chosen: list[int] = []
    seen: set[tuple[str, ...]] = set()
    for i in sorted(range(len(scores)), key=lambda j: -scores[j]):
        if len(chosen) >= max_sentences:
            break
        grams = _trigrams(tokens[i])
        if block_trigrams and grams & seen:
            continue
        chosen.append(i)
        seen |= grams
    return sorted(chosen)


def pad_documents(docs: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack per-article sentence vectors [N_i, D] into [B, N, D] plus a mask."""
    n = max(len(d) for d in docs)
    out = torch.zeros(len(docs), n, docs[0].shape[-1])
    mask = torch.zeros(len(docs), n, dtype=torch.bool)
    for i, d in enumerate(docs):
        out[i, : len(d)], mask[i, : len(d)] = d, True
    return out, mask


def frozen_scores(scorer: ExtractiveScorer, vectors: torch.Tensor) -> list[float]:
    """P(summary-worthy) of each sentence of one article, from its frozen sentence vectors."""
    padded, mask = pad_documents([vectors])
    return torch.sigmoid(scorer(padded, mask))[0].tolist()


def summarize(
    sentences: Sequence[Sentence], scores: Sequence[float], max_sentences: int
) -> list[SummarySentence]:
    """One article's extractive summary: its scored sentences chosen and returned in order."""
    chosen = select_sentences(scores, [words(s.text) for s in sentences], max_sentences)
    return [
        SummarySentence(
            index=i,
            text=sentences[i].text,
            start=sentences[i].start,
            end=sentences[i].end,
            score=round(scores[i], 4),
        )
        for i in chosen
    ]
