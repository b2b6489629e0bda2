"""Lexical cues for stance: word overlap with the claim, refuting and hedging words.

Sentence vectors say what a sentence is about; these counts say how it is said. The
refuting list is the FNC-1 baseline's; the hedging list holds the attribution and
uncertainty markers typical of wire copy ("reportedly", "claims", "according to").
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

from opslens.model.text import words

REFUTING_WORDS = frozenset(
    [
        "fake",
        "fraud",
        "hoax",
        "false",
        "deny",
        "denies",
        "denied",
        "refute",
        "refutes",
        "refuted",
        "not",
        "despite",
        "nope",
        "doubt",
        "doubts",
        "bogus",
        "debunk",
        "debunked",
        "pranks",
        "retract",
        "retracted",
        "untrue",
        "rejects",
        "rejected",
    ]
)
HEDGING_WORDS = frozenset(
    [
        "allegedly",
        "reportedly",
        "reported",
        "claims",
        "claimed",
        "claim",
        "according",
        "rumor",
        "rumors",
        "rumour",
        "rumours",
        "unconfirmed",
        "unverified",
        "may",
        "might",
        "could",
        "apparently",
        "purportedly",
        "purported",
        "suggests",
        "suggested",
        "appears",
        "possibly",
        "believed",
        "says",
        "said",
    ]
)
FUNCTION_WORDS = frozenset(
    [
        "the",
        "a",
        "an",
        "and",
        "or",
        "but",
        "of",
        "to",
        "in",
        "on",
        "at",
        "for",
        "with",
        "by",
        "from",
        "as",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "being",
        "it",
        "its",
        "this",
        "that",
        "these",
        "those",
        "he",
        "she",
        "they",
        "them",
        "his",
        "her",
        "their",
        "we",
        "our",
        "you",
        "your",
        "i",
        "not",
        "no",
        "has",
        "have",
        "had",
        "do",
        "does",
        "did",
        "will",
        "would",
        "can",
        "could",
        "should",
        "may",
        "might",
        "than",
        "then",
        "there",
        "here",
        "who",
        "whom",
        "which",
        "what",
        "when",
        "where",
        "why",
        "how",
        "after",
        "before",
        "over",
        "under",
        "into",
        "about",
        "up",
        "out",
    ]
)

SENTENCE_FEATURES = 3  # claim coverage, refuting?, hedging?
PAIR_FEATURES = 8


def content_words(text: str) -> list[str]:
    return [w for w in words(text) if w not in FUNCTION_WORDS and len(w) > 1]


def _bigrams(tokens: Sequence[str]) -> set[tuple[str, str]]:
    return set(pairwise(tokens))


def sentence_features(claim: str, sentences: Sequence[str]) -> list[list[float]]:
    claim_words = set(content_words(claim))
    out = []
    for sentence in sentences:
        toks = set(words(sentence))
        coverage = len(claim_words & toks) / max(len(claim_words), 1)
        out.append([coverage, float(bool(toks & REFUTING_WORDS)), float(bool(toks & HEDGING_WORDS))])
    return out


def pair_features(claim: str, sentences: Sequence[str]) -> list[float]:
    claim_toks = content_words(claim)
    body_toks = [w for s in sentences for w in content_words(s)]
    claim_set, body_set = set(claim_toks), set(body_toks)
    all_body = [w for s in sentences for w in words(s)]
    n_body = max(len(all_body), 1)
    claim_all = set(words(claim))
    return [
        len(claim_set & body_set) / max(len(claim_set | body_set), 1),  # Jaccard
        len(claim_set & body_set) / max(len(claim_set), 1),  # claim coverage
        len(_bigrams(claim_toks) & _bigrams(body_toks)) / max(len(claim_toks) - 1, 1),
        100.0 * sum(w in REFUTING_WORDS for w in all_body) / n_body,
        100.0 * sum(w in HEDGING_WORDS for w in all_body) / n_body,
        float(bool(claim_all & REFUTING_WORDS)),
        float(bool(claim_all & HEDGING_WORDS)),
        float("?" in claim),
    ]
