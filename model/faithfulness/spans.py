"""What the span finders return, and the normalisation they share.

A `FactSpan` is a number, date, name or rare word found in a text, with its character offsets
and the normalised key the guard looks up in the article.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from opslens.model.results import SpanKind

# Words are compared by their first STEM letters where inflection must not matter
# ("Shelling" in a summary, "shelled" in the article).
STEM = 5


@dataclass(frozen=True, slots=True)
class FactSpan:
    kind: SpanKind
    start: int
    end: int
    key: str  # normalised form looked up in the article


def fold(text: str) -> str:
    """Lower case, accents removed, curly quotes straightened."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return text.replace("’", "'").replace("‘", "'").lower()


_TOKEN = re.compile(r"[^\W_]+(?:['’.][^\W_]+)*", re.UNICODE)


def name_tokens(text: str) -> list[str]:
    """Word tokens for name matching: folded, possessive 's dropped, hyphens and dots split
    ("Russia's" -> russia, "Al-Qaeda" -> al qaeda, "U.S." -> u s)."""
    out: list[str] = []
    for m in _TOKEN.finditer(fold(text)):
        tok = re.sub(r"'s$|'$", "", m.group())
        out.extend(t for t in re.split(r"[.']", tok) if t)
    return out
