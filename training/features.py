"""Frozen-encoder features, computed once per data file and cached in the run folder.

The encoder is frozen, so a sentence's vector never changes during training: encoding
every article once and caching the vectors turns a multi-hour run into minutes.
Articles are cleaned and segmented by the same `parse_document` the service uses.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from tqdm import tqdm

from opslens.model.encoder import SentenceEncoder
from opslens.model.text import parse_document


@dataclass
class EncodedTexts:
    sentences: list[list[str]]  # per text, its sentences (normalised whitespace)
    vectors: list[torch.Tensor]  # per text, [n_sentences, D]


def _cache_paths(cache_dir: Path, key: str) -> tuple[Path, Path]:
    return cache_dir / f"{key}.safetensors", cache_dir / f"{key}.json"


def encode_articles(
    encoder: SentenceEncoder,
    texts: Sequence[str],
    cache_dir: Path,
    key: str,
    *,
    max_sentences: int | None = None,
    split_sentences: bool = True,
    chunk: int = 256,
) -> EncodedTexts:
    """Sentence vectors for each text (or one vector per text when `split_sentences` is
    False, e.g. for headlines). Cached under `key`, which must identify the input bytes."""
    vec_path, meta_path = _cache_paths(cache_dir, key)
    if vec_path.is_file() and meta_path.is_file():
        sentences = json.loads(meta_path.read_text(encoding="utf-8"))
        flat = load_file(str(vec_path))["vectors"].float()
        vectors, pos = [], 0
        for sents in sentences:
            vectors.append(flat[pos : pos + len(sents)])
            pos += len(sents)
        return EncodedTexts(sentences, vectors)

    if split_sentences:
        sentences = [[s.normalized for s in parse_document(t).sentences][:max_sentences] for t in texts]
    else:
        sentences = [[" ".join(t.split())] for t in texts]
    vectors = []
    for lo in tqdm(range(0, len(sentences), chunk), desc=f"encode {key}", unit_scale=chunk, mininterval=10):
        group = sentences[lo : lo + chunk]
        flat = encoder.encode([s for sents in group for s in sents])
        pos = 0
        for sents in group:
            vectors.append(flat[pos : pos + len(sents)])
            pos += len(sents)
    cache_dir.mkdir(parents=True, exist_ok=True)
    all_vecs = torch.cat(vectors) if vectors else torch.zeros(0, encoder.dim)
    save_file({"vectors": all_vecs.to(torch.float16).contiguous()}, str(vec_path))
    meta_path.write_text(json.dumps(sentences), encoding="utf-8")
    # Return what the cache will give back next time, so first and resumed runs agree.
    return encode_articles(encoder, texts, cache_dir, key)
