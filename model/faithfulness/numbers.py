"""Numbers in digits or words, with currency, scale and percent attached, keyed by value so
that "1,000", "1000", "one thousand" and "1 thousand" compare equal."""

from __future__ import annotations

import math
import re

from text_to_num import text2num

from opslens.model.faithfulness.spans import FactSpan

# Relative tolerance when comparing numeric values ("1.5 million" vs "1,500,000").
VALUE_TOLERANCE = 1e-6

_SCALES = {
    "hundred": 1e2,
    "thousand": 1e3,
    "k": 1e3,
    "million": 1e6,
    "m": 1e6,
    "mn": 1e6,
    "billion": 1e9,
    "bn": 1e9,
    "b": 1e9,
    "trillion": 1e12,
    "tn": 1e12,
}
_UNITS = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
    "twenty",
    "thirty",
    "forty",
    "fifty",
    "sixty",
    "seventy",
    "eighty",
    "ninety",
]
_NUMBER_WORD = (
    "(?:"
    + "|".join(
        sorted([*_UNITS, "hundred", "thousand", "million", "billion", "trillion"], key=len, reverse=True)
    )
    + ")"
)
_SCALE_WORD = r"(?:hundred|thousand|million|billion|trillion|bn|mn|tn|k|m|b)"
_PERCENT = r"(?:\s?%|\s(?:percent|per\s?cent)\b)"
_DIGITS = re.compile(
    r"(?<![\w.,])(?P<cur>[$£€])?\s?(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)"
    r"(?:(?P<ord>st|nd|rd|th)\b|(?:\s?(?P<scale>" + _SCALE_WORD + r")\b))?(?P<pct>" + _PERCENT + ")?",
    re.IGNORECASE,
)
_WORDS = re.compile(
    r"\b(?P<cur>[$£€])?(?P<num>" + _NUMBER_WORD + r"(?:(?:[\s-]+(?:and\s+)?)" + _NUMBER_WORD + r")*)\b"
    r"(?P<pct>" + _PERCENT + ")?",
    re.IGNORECASE,
)


def _value_key(value: float) -> str:
    return repr(round(value, 6))


def find_numbers(text: str) -> list[FactSpan]:
    """Numbers written in digits or words, with currency, scale and percent attached; each
    keyed by its value so "1,000", "1000", "one thousand" and "1 thousand" compare equal."""
    out: list[FactSpan] = []
    for m in _DIGITS.finditer(text):
        value = float(m["num"].replace(",", ""))
        if m["scale"]:
            value *= _SCALES[m["scale"].lower()]
        out.append(FactSpan("number", m.start(), m.end(), _value_key(value)))
    taken = [(f.start, f.end) for f in out]
    for m in _WORDS.finditer(text):
        if any(s < m.end() and m.start() < e for s, e in taken):
            continue
        phrase = re.sub(r"[\s-]+", " ", m["num"].lower()).replace(" and ", " ").strip()
        # A bare "one" is usually a pronoun ("one of the soldiers"), not a figure.
        if phrase == "one" and not m["pct"]:
            continue
        try:
            value = float(text2num(phrase, "en"))
        except ValueError:  # not a well-formed number phrase ("thousand million"): skip it
            continue
        out.append(FactSpan("number", m.start(), m.end(), _value_key(value)))
    return sorted(out, key=lambda f: f.start)


def number_supported(key: str, article_numbers: frozenset[str]) -> bool:
    """The value occurs among the article's numbers (to within rounding)."""
    return key in article_numbers or any(
        math.isclose(float(key), float(k), rel_tol=VALUE_TOLERANCE) for k in article_numbers
    )
