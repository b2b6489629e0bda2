"""Build the claim verifier's training pairs from data files (any JSONL/CSV with the fields).

Four kinds, each labelled for one head:
- NLI pairs (verdict): premise = evidence, hypothesis = claim. Validation = a fixed share of
  premises (by hash), so no premise is on both sides.
- FNC-1 pairs (stance): headline = claim, evidence = the window retrieved from the body for
  it; related pairs train the stance head, a sample of unrelated ones the verdict head as
  not_found. Validation holds out whole stories (training.data.story_split) or uses the
  validation file as given. The FNC-1 test file is never read here.
- Summary claims (verdict) from reference summaries: training/verifier_summaries.py.
- Synthetic claims (verdict) from training articles (training/perturb.py): a sentence or a
  light paraphrase of it is supported; names, numbers, negation or antonym edits of it are
  contradicted; a sentence of another article is not_found. The evidence is the window the
  claim retrieves from its article, as at inference. Articles of the validation split give
  validation claims.

Deterministic given the seed: every random choice comes from a generator seeded by the
seed and the article's text, not by the order articles are read in.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import datasets
import torch
from tqdm import tqdm

from opslens.model.cache import file_sha256
from opslens.model.encoder import Encoder
from opslens.model.evidence import select_window
from opslens.model.lexical import content_words
from opslens.model.text import parse_document
from opslens.model.verifier import NLI_LABELS, STANCES, VerifierConfig
from opslens.training.config import VerifierTrainConfig
from opslens.training.data import read_rows, story_split
from opslens.training.perturb import CONTRADICTIONS, article_names, contradiction, drop_clause
from opslens.training.verifier_pairs import Pair
from opslens.training.verifier_summaries import summary_claims

NEUTRAL = NLI_LABELS.index("neutral")
MIN_WORDS, MAX_WORDS = 8, 50  # sentences that make a claim: not a fragment, not a run-on
MIN_NOVELTY = 0.5  # share of a not_found claim's content words its article must lack


def _novelty(sentence: str, vocabulary: set[str]) -> float:
    words = set(content_words(sentence))
    return len(words - vocabulary) / max(len(words), 1)


def _bucket(text: str, seed: int) -> float:
    """A stable number in [0, 1) for a text: the same premise always lands on the same side."""
    return int(hashlib.sha256(f"{seed}:{text}".encode()).hexdigest()[:8], 16) / 16**8


def _rng(seed: int, key: str) -> random.Random:
    return random.Random(hashlib.sha256(f"{seed}:{key}".encode()).hexdigest())


def nli_pairs(path: Path, fraction: float, seed: int) -> list[Pair]:
    out = []
    for row in read_rows(path):
        label = row["label"]
        if label not in NLI_LABELS:
            raise ValueError(f"{path}: unknown NLI label {label!r}; expected one of {NLI_LABELS}")
        split = "validation" if _bucket(row["premise"], seed) < fraction else "train"
        evidence = (" ".join(row["premise"].split()),)
        claim = " ".join(row["hypothesis"].split())
        out.append(
            Pair(claim, evidence, NLI_LABELS.index(label), -1, f"nli:{row.get('source', 'nli')}", split)
        )
    return out


@dataclass
class Claim:
    """A claim waiting for its evidence window from `article`."""

    text: str
    article: str
    verdict: int
    stance: int
    source: str
    split: str


@dataclass
class Article:
    sentences: list[str]
    split: str
    source: str


def fnc_claims(cfg: VerifierTrainConfig) -> tuple[list[Claim], dict[str, Article]]:
    fields = (cfg.headline_field, cfg.body_field, cfg.label_field)
    rows = {
        name: [{k: r[k] for k in fields} for r in read_rows(path)]
        for name, path in (("train", cfg.train_file), ("validation", cfg.validation_file))
    }
    if cfg.validation_split == "story":
        pooled = datasets.Dataset.from_list(rows["train"] + rows["validation"])
        train_ds, val_ds = story_split(pooled, *fields, cfg.story_validation_fraction, cfg.seed)
        rows = {"train": train_ds.to_list(), "validation": val_ds.to_list()}
    claims: list[Claim] = []
    articles: dict[str, Article] = {}
    for split, split_rows in rows.items():
        related = [r for r in split_rows if r[cfg.label_field] != "unrelated"]
        unrelated = [r for r in split_rows if r[cfg.label_field] == "unrelated"]
        keep = min(len(unrelated), round(cfg.unrelated_per_related * len(related)))
        unrelated = random.Random(f"{cfg.seed}:{split}").sample(unrelated, keep)
        for r in related + unrelated:
            body, label = r[cfg.body_field], r[cfg.label_field]
            articles.setdefault(body, Article([], split, "fnc1"))
            if label == "unrelated":
                claims.append(Claim(r[cfg.headline_field], body, NEUTRAL, -1, "fnc1:unrelated", split))
            elif label in STANCES:
                claims.append(
                    Claim(r[cfg.headline_field], body, -1, STANCES.index(label), "fnc1:related", split)
                )
            else:
                raise ValueError(f"unknown stance label {label!r}; expected one of {(*STANCES, 'unrelated')}")
        for r in split_rows:  # every body of the split gives synthetic claims, not only sampled ones
            articles.setdefault(r[cfg.body_field], Article([], split, "fnc1"))
    return claims, articles


def file_articles(cfg: VerifierTrainConfig) -> dict[str, Article]:
    out: dict[str, Article] = {}
    for path in cfg.article_files:
        for row in read_rows(path):
            split = row.get(cfg.split_field, "train")
            if split in ("train", "validation"):
                out.setdefault(row[cfg.article_field], Article([], split, path.name.split(".")[0]))
    return out


def synthetic_claims(cfg: VerifierTrainConfig, articles: dict[str, Article]) -> list[Claim]:
    """Per article: supported, contradicted and not_found claims made from its sentences."""
    by_split: dict[str, list[str]] = {}
    for key in sorted(articles):
        by_split.setdefault(articles[key].split, []).append(key)
    entail, contra = NLI_LABELS.index("entailment"), NLI_LABELS.index("contradiction")
    claims = []
    for key in sorted(articles):
        art = articles[key]
        usable = [s for s in art.sentences if MIN_WORDS <= len(s.split()) <= MAX_WORDS]
        if not usable:
            continue
        rng = _rng(cfg.seed, key)
        pool = article_names(art.sentences)
        picks = rng.sample(usable, min(len(usable), cfg.synthetic_supported + cfg.synthetic_contradicted))
        for n, sentence in enumerate(picks[: cfg.synthetic_supported]):
            paraphrase = drop_clause(sentence, rng) if n % 2 else None
            kind = "synthetic:paraphrase" if paraphrase else "synthetic:sentence"
            claims.append(Claim(paraphrase or sentence, key, entail, -1, kind, art.split))
        for sentence in picks[cfg.synthetic_supported :]:
            for kind in rng.sample(CONTRADICTIONS, len(CONTRADICTIONS)):  # the first edit that applies
                edited = contradiction(kind, sentence, pool, rng)
                if edited and edited != sentence:
                    claims.append(Claim(edited, key, contra, -1, f"synthetic:{kind}", art.split))
                    break
        others = by_split[art.split]
        vocabulary = {w for s in art.sentences for w in content_words(s)}
        for _ in range(cfg.synthetic_not_found if len(others) > 1 else 0):
            # Another article may cover the same story (FNC-1 has many bodies per claim): keep
            # only sentences most of whose content words this article never uses.
            other = rng.choice([k for k in rng.sample(others, min(3, len(others))) if k != key] or [key])
            candidates = [
                s
                for s in articles[other].sentences
                if MIN_WORDS <= len(s.split()) <= MAX_WORDS and _novelty(s, vocabulary) >= MIN_NOVELTY
            ]
            if candidates:
                claim = Claim(rng.choice(candidates), key, NEUTRAL, -1, "synthetic:other_article", art.split)
                claims.append(claim)
    return claims


def _encode(encoder: Encoder, texts: list[str], chunk: int = 2048) -> dict[str, torch.Tensor]:
    vectors = {}
    for lo in tqdm(range(0, len(texts), chunk), desc="encode", unit="chunk", mininterval=10):
        part = texts[lo : lo + chunk]
        vectors.update(zip(part, encoder.encode(part), strict=True))
    return vectors


def with_evidence(
    claims: Sequence[Claim],
    articles: dict[str, Article],
    encoder: Encoder,
    count_tokens,
    model: VerifierConfig,
) -> list[Pair]:
    """Each claim with the window it retrieves from its article, as the verifier will at inference."""
    texts = sorted({c.text for c in claims} | {s for a in articles.values() for s in a.sentences})
    vectors = _encode(encoder, texts)
    lengths = dict(zip(texts, count_tokens(texts), strict=True))
    stacked = {
        key: torch.stack([vectors[s] for s in a.sentences]) for key, a in articles.items() if a.sentences
    }
    out = []
    for c in tqdm(claims, desc="evidence", unit="claim", mininterval=10):
        sentences = articles[c.article].sentences
        if not sentences:
            continue
        window = select_window(
            c.text,
            vectors[c.text],
            sentences,
            stacked[c.article],
            [lengths[s] for s in sentences],
            lengths[c.text],
            k=model.evidence_sentences,
            max_tokens=model.max_tokens,
            lexical_weight=model.lexical_weight,
        )
        evidence = tuple(sentences[i] for i in window.indices)
        out.append(Pair(c.text, evidence, c.verdict, c.stance, c.source, c.split))
    return out


def build_pairs(cfg: VerifierTrainConfig, encoder: Encoder, count_tokens) -> tuple[list[Pair], dict]:
    """All pairs of the config's `parts` and the data record (files, hashes) for the model card."""
    pairs: list[Pair] = []
    claims: list[Claim] = []
    articles: dict[str, Article] = {}
    files: list[Path] = []
    if "nli" in cfg.parts:
        if cfg.nli_file is None:
            raise ValueError("parts includes 'nli' but nli_file is not set")
        pairs += nli_pairs(cfg.nli_file, cfg.nli_validation_fraction, cfg.seed)
        files.append(cfg.nli_file)
    if "fnc1" in cfg.parts:
        fnc, articles = fnc_claims(cfg)
        claims += fnc
        files += [cfg.train_file, cfg.validation_file]
    if "articles" in cfg.parts:
        for text, art in file_articles(cfg).items():
            articles.setdefault(text, art)
        files += cfg.article_files
    for text, art in tqdm(articles.items(), desc="split articles", unit="article", mininterval=10):
        art.sentences = [s.normalized for s in parse_document(text).sentences]
    if "fnc1" in cfg.parts or "articles" in cfg.parts:
        claims += synthetic_claims(cfg, articles)
    if "summaries" in cfg.parts:
        for key, split, sentences, text, verdict, source in summary_claims(cfg):
            articles.setdefault(key, Article(sentences, split, "summaries"))
            claims.append(Claim(text, key, verdict, -1, source, split))
        files += [f for f in (cfg.summary_train_file, cfg.summary_validation_file, *cfg.casing_files) if f]
    pairs += with_evidence(claims, articles, encoder, count_tokens, cfg.model)
    record = {
        "files": {str(p): file_sha256(p) for p in dict.fromkeys(files)},
        "parts": list(cfg.parts),
        "articles": {
            split: sum(a.split == split for a in articles.values()) for split in ("train", "validation")
        },
        "fnc1_validation": cfg.validation_split,
        "seed": cfg.seed,
        "evidence": {
            "sentences": cfg.model.evidence_sentences,
            "max_tokens": cfg.model.max_tokens,
            "lexical_weight": cfg.model.lexical_weight,
        },
    }
    return pairs, record
