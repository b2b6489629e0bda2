"""Month and weekday names. Days and years are numbers (numbers.py)."""

from __future__ import annotations

import re

from opslens.model.faithfulness.spans import FactSpan

_MONTHS = {
    "january": "january", "jan": "january", "february": "february", "feb": "february",
    "march": "march", "mar": "march", "april": "april", "apr": "april", "may": "may",
    "june": "june", "jun": "june", "july": "july", "jul": "july", "august": "august",
    "aug": "august", "september": "september", "sept": "september", "sep": "september",
    "october": "october", "oct": "october", "november": "november", "nov": "november",
    "december": "december", "dec": "december",
}  # fmt: skip
_WEEKDAYS = {"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"}
# Month names that are also common words count only next to a number or a date preposition.
_AMBIGUOUS_MONTHS = {"may", "march", "mar", "jan", "jun", "jul", "aug", "sep", "oct", "nov", "dec", "apr"}
_DATE_CONTEXT = re.compile(
    r"(?:\b(?:in|on|of|since|until|by|from|last|next|early|late|mid)\s*$|\d\s*$)", re.I
)
_DATE_WORD = re.compile(
    r"\b(?P<w>" + "|".join(sorted({*_MONTHS, *_WEEKDAYS}, key=len, reverse=True)) + r")\b\.?", re.IGNORECASE
)


def find_dates(text: str) -> list[FactSpan]:
    """Month and weekday names (days and years are numbers). Keyed by the full lower-case name."""
    out: list[FactSpan] = []
    for m in _DATE_WORD.finditer(text):
        word = m["w"].lower()
        if word in _AMBIGUOUS_MONTHS:
            before, after = text[: m.start()], text[m.end("w") :]
            if not (_DATE_CONTEXT.search(before) or re.match(r"\.?\s*\d", after)):
                continue
        key = _MONTHS.get(word, word)
        out.append(FactSpan("date", m.start(), m.start() + len(m["w"]), key))
    return out


def is_date_word(word: str) -> bool:
    """A weekday or an unambiguous month name (lower case): capitalised, yet not a name."""
    return word in _WEEKDAYS or (word in _MONTHS and word not in _AMBIGUOUS_MONTHS)
