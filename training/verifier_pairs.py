"""The claim verifier's training pairs as one compact, pre-tokenised file.

Building the pairs (evidence retrieval with the sentence encoder, sentence splitting,
perturbations: training/verifier_data.py) is the slow part and needs the article tools;
training needs only token ids. So the builder writes this file once, and any machine with
numpy trains from it: the same file serves the CPU run and a GPU run elsewhere.

Layout (numpy .npz, no pickles): every distinct text is tokenised once into `tokens`
(uint16, sliced by `text_offsets`); an example is a claim text id, its evidence text ids
(window sentences, article order; sliced by `evidence_offsets`), a verdict and a stance
label (-1 = none: each example trains one head), a source code and a split
(0 = train, 1 = validation).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from opslens.model.verifier import NLI_LABELS, STANCES

SPLITS = ("train", "validation")
FORMAT_VERSION = 1


@dataclass(frozen=True, slots=True)
class Pair:
    """One example in text form, as the builder makes it."""

    claim: str
    evidence: tuple[str, ...]
    verdict: int  # index into NLI_LABELS, or -1
    stance: int  # index into STANCES, or -1
    source: str  # "nli:snli-dev", "fnc1:related", "synthetic:negation", ...
    split: str  # one of SPLITS


@dataclass(frozen=True)
class TokenPairs:
    tokens: np.ndarray
    text_offsets: np.ndarray
    claim: np.ndarray
    evidence: np.ndarray
    evidence_offsets: np.ndarray
    verdict: np.ndarray
    stance: np.ndarray
    source: np.ndarray
    split: np.ndarray
    sources: tuple[str, ...]
    meta: dict[str, Any]

    def __len__(self) -> int:
        return len(self.claim)

    def text(self, t: int) -> list[int]:
        return self.tokens[self.text_offsets[t] : self.text_offsets[t + 1]].tolist()

    def claim_ids(self, i: int) -> list[int]:
        return self.text(int(self.claim[i]))

    def evidence_texts(self, i: int) -> list[int]:
        """The text ids of example i's evidence sentences, in window order."""
        return self.evidence[self.evidence_offsets[i] : self.evidence_offsets[i + 1]].tolist()

    def evidence_ids(self, i: int) -> list[int]:
        return [tok for t in self.evidence_texts(i) for tok in self.text(t)]

    def indices(self, split: str) -> list[int]:
        return np.flatnonzero(self.split == SPLITS.index(split)).tolist()

    def source_of(self, i: int) -> str:
        return self.sources[int(self.source[i])]

    def counts(self) -> dict[str, dict[str, int]]:
        """Examples per split, source and label: what the model card reports."""
        out: dict[str, Counter] = {s: Counter() for s in SPLITS}
        for i in range(len(self)):
            label = NLI_LABELS[self.verdict[i]] if self.verdict[i] >= 0 else STANCES[self.stance[i]]
            out[SPLITS[self.split[i]]][f"{self.source_of(i)}/{label}"] += 1
        return {s: dict(sorted(c.items())) for s, c in out.items()}


def tokenize_pairs(
    pairs: Sequence[Pair], tokenize: Any, meta: dict[str, Any], batch: int = 4096
) -> TokenPairs:
    """`tokenize(list[str]) -> list[list[int]]` (no special tokens) over every distinct text."""
    texts: dict[str, int] = {}
    for p in pairs:
        for t in (p.claim, *p.evidence):
            texts.setdefault(t, len(texts))
    ordered = list(texts)
    ids: list[list[int]] = []
    for lo in range(0, len(ordered), batch):
        ids.extend(tokenize(ordered[lo : lo + batch]))
    if max((max(t, default=0) for t in ids), default=0) >= 1 << 16:
        raise ValueError("token ids above 65535 do not fit the uint16 pairs file")
    sources = sorted({p.source for p in pairs})
    evidence = [texts[t] for p in pairs for t in p.evidence]
    return TokenPairs(
        tokens=np.array([tok for t in ids for tok in t], dtype=np.uint16),
        text_offsets=np.cumsum([0, *map(len, ids)]).astype(np.int64),
        claim=np.array([texts[p.claim] for p in pairs], dtype=np.int32),
        evidence=np.array(evidence, dtype=np.int32),
        evidence_offsets=np.cumsum([0, *(len(p.evidence) for p in pairs)]).astype(np.int64),
        verdict=np.array([p.verdict for p in pairs], dtype=np.int8),
        stance=np.array([p.stance for p in pairs], dtype=np.int8),
        source=np.array([sources.index(p.source) for p in pairs], dtype=np.int16),
        split=np.array([SPLITS.index(p.split) for p in pairs], dtype=np.int8),
        sources=tuple(sources),
        meta={"format_version": FORMAT_VERSION, **meta},
    )


def concat_pairs(parts: Sequence[TokenPairs]) -> TokenPairs:
    """Several pairs files as one (texts are not shared across files; sources are merged by
    name). The meta of each part is kept under "parts"."""
    if len(parts) == 1:
        return parts[0]
    sources = sorted({s for p in parts for s in p.sources})
    text_base, token_base, evidence_base = 0, 0, 0
    cols: dict[str, list[np.ndarray]] = {name: [] for name in _ARRAYS}
    for n, p in enumerate(parts):
        remap = np.array([sources.index(s) for s in p.sources], dtype=np.int16)
        cols["tokens"].append(p.tokens)
        cols["text_offsets"].append(p.text_offsets[(1 if n else 0) :] + token_base)
        cols["claim"].append(p.claim + text_base)
        cols["evidence"].append(p.evidence + text_base)
        cols["evidence_offsets"].append(p.evidence_offsets[(1 if n else 0) :] + evidence_base)
        cols["verdict"].append(p.verdict)
        cols["stance"].append(p.stance)
        cols["source"].append(remap[p.source])
        cols["split"].append(p.split)
        text_base += len(p.text_offsets) - 1
        token_base += len(p.tokens)
        evidence_base += len(p.evidence)
    joined = {name: np.concatenate(arrays) for name, arrays in cols.items()}
    meta = {"format_version": FORMAT_VERSION, "parts": [p.meta for p in parts]}
    return TokenPairs(**joined, sources=tuple(sources), meta=meta)


_ARRAYS = (
    "tokens",
    "text_offsets",
    "claim",
    "evidence",
    "evidence_offsets",
    "verdict",
    "stance",
    "source",
    "split",
)


def save_pairs(path: Path, pairs: TokenPairs) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez_compressed(
        tmp,
        **{name: getattr(pairs, name) for name in _ARRAYS},
        sources=np.array(pairs.sources),
        meta=np.array(json.dumps(pairs.meta)),
    )
    tmp.replace(path)  # a run killed mid-write never leaves a half file under the real name


def load_pairs(path: Path) -> TokenPairs:
    with np.load(path, allow_pickle=False) as f:
        meta = json.loads(str(f["meta"]))
        if meta.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"{path}: pairs format {meta.get('format_version')}, expected {FORMAT_VERSION}")
        return TokenPairs(
            **{name: f[name] for name in _ARRAYS}, sources=tuple(str(s) for s in f["sources"]), meta=meta
        )
