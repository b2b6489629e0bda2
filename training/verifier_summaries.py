"""Claims made from reference summaries, for the claim verifier.

The verifier checks generated summaries, and a summary sentence is not an article sentence:
it compresses and fuses, so a model that has only seen article sentences (and their edits)
as `supported` calls faithful paraphrase `contradicted`. Reference summaries (CNN/DM
highlights) are the nearest thing to a faithful generated summary: a highlight whose every
number and nearly every content word is in its article is a supported claim; the same
highlight with a name, number, negation or antonym edit (training/perturb.py) is a
contradicted one; a highlight of another article is not found. Each claim meets the evidence
window it retrieves from its article, as at inference (training/verifier_data.with_evidence).

Highlights that only partly match their article (CNN/DM references state facts the article
lacks) are left out rather than guessed at. The lower-cased CNN/DM copy is given capitals
back from a cased corpus's spelling (`casing_files`) so that name edits find names; the
verifier's tokenizer is uncased, so this changes which edits apply, not what it reads.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

from tqdm import tqdm

from opslens.model.faithfulness.numbers import find_numbers, number_supported
from opslens.model.lexical import content_words
from opslens.model.recase import cased_forms, recase_with
from opslens.model.text import parse_document
from opslens.model.verifier import NLI_LABELS
from opslens.training.config import VerifierTrainConfig
from opslens.training.data import read_rows
from opslens.training.perturb import CONTRADICTIONS, article_names, contradiction

SUPPORTED, NOT_FOUND, CONTRADICTED = (NLI_LABELS.index(x) for x in ("entailment", "neutral", "contradiction"))
MIN_WORDS, MAX_WORDS = 5, 60
MAX_NOVELTY = 0.5  # a not-found highlight shares at most half its content words with the article


def summary_sentences(summary: str) -> list[str]:
    """CNN/DM highlights are one per line; other summaries are split into sentences."""
    lines = [" ".join(line.split()) for line in summary.splitlines() if line.strip()]
    if len(lines) > 1:
        return lines
    return [s.normalized for s in parse_document(summary).sentences] or lines


def support(sentence: str, vocabulary: set[str], numbers: frozenset[str]) -> float:
    """Share of the sentence's content words the article uses; 0 when it has a number the
    article lacks (a highlight with a figure of its own is not a safe `supported`)."""
    if any(not number_supported(f.key, numbers) for f in find_numbers(sentence)):
        return 0.0
    words = set(content_words(sentence))
    return len(words & vocabulary) / max(len(words), 1)


def _rows(path: Path, cfg: VerifierTrainConfig, limit: int | None, seed: int) -> list[dict]:
    rows = [{"article": r[cfg.article_field], "summary": r[cfg.summary_field]} for r in read_rows(path)]
    if limit is not None and limit < len(rows):
        rows = random.Random(f"{seed}:{path.name}").sample(rows, limit)
    return rows


def casing(cfg: VerifierTrainConfig) -> dict[str, str]:
    """Lower-case word -> its usual spelling in the cased corpus (mid-sentence occurrences)."""
    texts: list[str] = []
    for path in cfg.casing_files:
        for row in read_rows(path):
            texts.append(row.get(cfg.article_field) or row.get(cfg.body_field) or "")
    return cased_forms("\n\n".join(texts)) if texts else {}


def summary_claims(cfg: VerifierTrainConfig) -> Iterator[tuple[str, str, list[str], str, int, str]]:
    """(article key, split, article sentences, claim, verdict, source) for each summary claim.

    The article is its first `summary_article_sentences` sentences, and support is judged
    against exactly those, so a label never rests on a sentence the evidence cannot reach."""
    forms = casing(cfg)
    files = (
        ("train", cfg.summary_train_file, cfg.summary_articles),
        ("validation", cfg.summary_validation_file, cfg.summary_validation_articles),
    )
    for split, path, limit in files:
        if path is None:
            continue
        items = []
        for row in tqdm(_rows(path, cfg, limit, cfg.seed), desc=f"summaries {split}", mininterval=10):
            article = recase_with(row["article"], forms) if forms else row["article"]
            parsed = parse_document(article).sentences[: cfg.summary_article_sentences]
            sentences = [s.normalized for s in parsed]
            highlights = [recase_with(h, forms) if forms else h for h in summary_sentences(row["summary"])]
            items.append((sentences, [h for h in highlights if MIN_WORDS <= len(h.split()) <= MAX_WORDS]))
        yield from _claims(cfg, split, items)


def _claims(
    cfg: VerifierTrainConfig, split: str, items: list[tuple[list[str], list[str]]]
) -> Iterator[tuple[str, str, list[str], str, int, str]]:
    supported_pool: list[tuple[int, str]] = []
    for n, (sentences, highlights) in enumerate(items):
        if not sentences:
            continue
        key = "\n".join(sentences)
        rng = random.Random(f"{cfg.seed}:{key[:200]}")
        vocabulary = {w for s in sentences for w in content_words(s)}
        numbers = frozenset(f.key for s in sentences for f in find_numbers(s))
        names = article_names(sentences)
        kept = [h for h in highlights if support(h, vocabulary, numbers) >= cfg.summary_min_support]
        for h in kept:
            supported_pool.append((n, h))
            yield key, split, sentences, h, SUPPORTED, "summary:reference"
        for h in rng.sample(kept, min(len(kept), cfg.summary_contradicted)):
            for kind in rng.sample(CONTRADICTIONS, len(CONTRADICTIONS)):  # the first edit that applies
                edited = contradiction(kind, h, names, rng)
                if edited and edited != h:
                    yield key, split, sentences, edited, CONTRADICTED, f"summary:{kind}"
                    break
    # Not found: a faithful highlight of another article that this article has little of, and
    # one of this article's highlights with a name of another article put in (the extrinsic
    # error abstractive models make: a plausible name the source never mentions).
    rng = random.Random(f"{cfg.seed}:{split}:other")
    for n, (sentences, _) in enumerate(items):
        if not sentences or len(supported_pool) < 2:
            continue
        key = "\n".join(sentences)
        vocabulary = {w for s in sentences for w in content_words(s)}
        numbers = frozenset(f.key for s in sentences for f in find_numbers(s))
        own = [h for m, h in supported_pool if m == n]
        for _ in range(cfg.summary_not_found):
            m, h = rng.choice(supported_pool)
            if m != n and support(h, vocabulary, numbers) <= MAX_NOVELTY:
                yield key, split, sentences, h, NOT_FOUND, "summary:other_article"
            if own and m != n:
                article_lower = key.lower()
                foreign = [x for x in article_names(items[m][0]) if x.lower() not in article_lower]
                edited = contradiction("name_swap", rng.choice(own), foreign, rng)
                if edited:
                    yield key, split, sentences, edited, NOT_FOUND, "summary:foreign_name"
