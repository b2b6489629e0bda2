"""Rare words: in a lower-cased summary (a model trained on lower-cased CNN/DailyMail writes one)
names have no capitals; words outside a 30k-word English vocabulary that the article lacks are
flagged instead (invented or misspelt names; common first names slip through)."""

from __future__ import annotations

import re
from functools import lru_cache

from opslens.model.encoder import encoder_path
from opslens.model.faithfulness.spans import STEM, FactSpan, name_tokens

_LOWER_WORD = re.compile(r"(?<![\w'’-])[a-z]+(?:[-'’][a-z]+)*(?![\w-])")


@lru_cache(maxsize=1)
def common_words() -> frozenset[str]:
    """The whole words of the sentence encoder's 30k WordPiece vocabulary (uncased English):
    a word outside it is rare, a name or a misspelling, in a lower-cased text."""
    with open(encoder_path() / "vocab.txt", encoding="utf-8") as f:
        return frozenset(w for w in (line.strip() for line in f) if w.isalpha())


_SUFFIXES = ("s", "es", "ies", "ed", "d", "ing", "er", "ers", "est", "ly", "ness", "ory", "ment")


def _known(word: str, vocabulary: frozenset[str]) -> bool:
    """In the vocabulary, or an inflection of a word in it ("slaps", "coped", "sparking")."""
    if word in vocabulary:
        return True
    for suffix in _SUFFIXES:
        stem = word[: -len(suffix)]
        if word.endswith(suffix) and len(stem) >= 3 and ({stem, stem + "e", stem + "y"} & vocabulary):
            return True
    return False


def find_rare_words(text: str, vocabulary: frozenset[str], stems: set[str]) -> list[FactSpan]:
    """Lower-case words outside `vocabulary` whose stem no article word has. Names in
    lower-cased output ("roberto jimbozardi") escape the capitalised-name check; this catches
    the rare and the invented ones (not common first names, which the vocabulary holds)."""
    out = []
    for m in _LOWER_WORD.finditer(text):
        parts = name_tokens(m.group())
        rare = [p for p in parts if len(p) >= 3 and not _known(p, vocabulary) and p[:STEM] not in stems]
        if rare:
            out.append(FactSpan("rare_word", m.start(), m.end(), " ".join(parts)))
    return out
