"""Synthetic claims made from an article's own sentences, for the claim verifier.

Generated summaries go wrong in a few typical ways (Kryscinski et al., 2020, "FactCC"): a
name swapped for another name of the same article, a number or date changed, a negation
added or lost, a word turned into its opposite. Each function here makes one such edit to a
sentence, or returns None when the sentence offers no place for it; against its own article
the result is a contradiction. `drop_clause` makes a light paraphrase the article still
entails. Every choice comes from the `random.Random` passed in, so a seed fixes the output.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence

from opslens.model.name_variants import MONTHS, WEEKDAYS, names, swappable, swapped

_NUMBER = re.compile(r"(?<![\w.,])(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?")
NUMBER_WORDS = [
    *("two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve"),
    *("dozens", "hundreds", "thousands"),
]
_CALENDAR = re.compile(r"\b(" + "|".join(MONTHS + WEEKDAYS) + r")\b")
_NUMBER_WORD = re.compile(r"\b(" + "|".join(NUMBER_WORDS) + r")\b", re.IGNORECASE)

_AUX = re.compile(
    r"\b(is|are|was|were|has|have|had|will|would|can|could|should|must|may|might|does|do|did)\b"
    r"(?!\s+(?:not|n't|never)\b)(?=\s+[a-z])",
    re.IGNORECASE,
)
_NEGATED = re.compile(
    r"\b(?:(is|are|was|were|has|have|had|will|would|could|should|must|may|might|does|do|did)\s+not"
    r"|(is|are|was|were|has|have|had|would|could|should|does|do|did)n't|(can)not|(ca)n't|(wo)n't)\b"
    r"|\bnever\s+|\bno longer\s+",
    re.IGNORECASE,
)
_CONTRACTED_BACK = {"ca": "can", "wo": "will"}

_ANTONYM_PAIRS = (
    "rose fell|rise fall|rises falls|rising falling|increased decreased|increase decrease|"
    "increases decreases|higher lower|highest lowest|more less|gained lost|won lost|wins loses|win lose|"
    "victory defeat|winner loser|above below|before after|first last|largest smallest|"
    "biggest smallest|strong weak|stronger weaker|strongest weakest|accepted rejected|approved rejected|"
    "allowed banned|supported opposed|support oppose|supports opposes|agreed refused|confirmed denied|"
    "confirms denies|success failure|succeeded failed|true false|guilty innocent|legal illegal|"
    "opened closed|started ended|began ended|rich poor|positive negative|profit loss|profits losses|"
    "earlier later|cheaper dearer|best worst|better worse|good bad|hot cold|younger older|raised lowered|"
    "expanded reduced|majority minority|maximum minimum|private public|domestic foreign|inside outside|"
    "included excluded|bought sold|buying selling|buy sell|alive dead|north south|east west|"
    "northern southern|eastern western|men women|boys girls|allies enemies|acquitted convicted|"
    "arrested released|increasing decreasing|growth decline|surplus deficit|cut raised|open closed|"
    "guilty acquitted|lowest highest|least most|minor major|easy difficult|safe dangerous"
)
ANTONYMS: dict[str, str] = {}
for _pair in _ANTONYM_PAIRS.split("|"):
    _a, _b = _pair.split()
    ANTONYMS.setdefault(_a, _b)
    ANTONYMS.setdefault(_b, _a)
_ANTONYM = re.compile(r"\b(" + "|".join(sorted(ANTONYMS, key=len, reverse=True)) + r")\b", re.IGNORECASE)

_PARENTHETICAL = re.compile(r"\s*\([^()]{1,80}\)")
_RELATIVE = re.compile(r",\s+(?:who|which|whose|where)\s[^,;()]{3,120},")
_APPOSITIVE = re.compile(r"(?<=[a-z]),\s+(?:the|a|an)\s[^,;()]{3,60},(?=\s+[a-z])")
_LEADING = re.compile(
    r"^(?:On|In|At|By|During|Last|This|Earlier|Later|However|Meanwhile|Also|Yesterday|Today|Since|After|"
    r"Before|According to)\b[^,]{0,40},\s+(?=\S)"
)


def _case_like(word: str, template: str) -> str:
    if template.isupper() and len(template) > 1:
        return word.upper()
    if template[:1].isupper():
        return word[:1].upper() + word[1:]
    return word


def _replace(text: str, start: int, end: int, new: str) -> str:
    return text[:start] + new + text[end:]


def article_names(sentences: Sequence[str]) -> list[str]:
    """Every distinct name of an article, in order of first appearance."""
    seen: dict[str, None] = {}
    for s in sentences:
        for _, _, name in names(s):
            seen.setdefault(name, None)
    return list(seen)


def swap_name(sentence: str, pool: Sequence[str], rng: random.Random) -> str | None:
    """One name of the sentence replaced by another name of the same article (of as many
    words, when the article has one) that the sentence does not already contain."""
    found = names(sentence)
    if not found:
        return None
    start, end, old = rng.choice(found)
    others = [n for n in pool if n != old and n not in sentence and old not in n and n not in old]
    same_length = [n for n in others if len(n.split()) == len(old.split())]
    if not others:
        return None
    return _replace(sentence, start, end, rng.choice(same_length or others))


def swap_two_names(sentence: str, rng: random.Random) -> str | None:
    """Two different names of the sentence swapped for each other ("A beat B" -> "B beat A");
    never two that are only listed together."""
    pairs = swappable(sentence, names(sentence))
    if not pairs:
        return None
    return swapped(sentence, *rng.choice(pairs))


def _new_number(token: str, rng: random.Random) -> str:
    plain = token.replace(",", "")
    if "." in plain:
        whole, frac = plain.split(".")
        digit = str((int(frac[-1]) + rng.randint(1, 8)) % 10)
        return f"{whole}.{frac[:-1]}{digit}" if frac[:-1] or digit != "0" else f"{int(whole) + 1}.{frac}"
    value = int(plain)
    if len(plain) == 4 and 1900 <= value <= 2099:  # a year
        new = value + rng.choice([-10, -5, -3, -2, -1, 1, 2, 3, 5])
    else:
        new = rng.choice([value * 2, value * 3, value // 2, value + rng.randint(1, 9), value * 10])
        if new in (value, 0):
            new = value + rng.randint(1, 9)
    return f"{new:,}" if "," in token else str(new)


def change_number(sentence: str, rng: random.Random) -> str | None:
    """One number, number word, month or weekday of the sentence changed to another."""
    spots = [(m.start(), m.end(), "n") for m in _NUMBER.finditer(sentence)]
    spots += [(m.start(), m.end(), "c") for m in _CALENDAR.finditer(sentence)]
    spots += [(m.start(), m.end(), "w") for m in _NUMBER_WORD.finditer(sentence)]
    if not spots:
        return None
    start, end, kind = rng.choice(spots)
    old = sentence[start:end]
    if kind == "n":
        new = _new_number(old, rng)
    else:
        group = MONTHS if old in MONTHS else WEEKDAYS if old in WEEKDAYS else NUMBER_WORDS
        new = _case_like(rng.choice([w for w in group if w.lower() != old.lower()]), old)
    return _replace(sentence, start, end, new)


def toggle_negation(sentence: str, rng: random.Random) -> str | None:
    """Remove the sentence's negation when it has one, else negate its first auxiliary verb."""
    negated = list(_NEGATED.finditer(sentence))
    if negated:
        m = rng.choice(negated)
        aux = next((g for g in m.groups() if g), None)
        kept = _CONTRACTED_BACK.get(aux.lower(), aux) if aux else ""
        if aux and aux[:1].isupper():
            kept = kept[:1].upper() + kept[1:]
        return _replace(sentence, m.start(), m.end(), kept)
    aux = list(_AUX.finditer(sentence))
    if not aux:
        return None
    m = aux[0]
    word = m.group()
    return _replace(sentence, m.start(), m.end(), word + "not" if word.lower() == "can" else word + " not")


def antonym(sentence: str, rng: random.Random) -> str | None:
    """One word of the sentence replaced by its opposite ("rose" -> "fell")."""
    found = list(_ANTONYM.finditer(sentence))
    if not found:
        return None
    m = rng.choice(found)
    return _replace(sentence, m.start(), m.end(), _case_like(ANTONYMS[m.group().lower()], m.group()))


def drop_clause(sentence: str, rng: random.Random) -> str | None:
    """A light paraphrase the sentence entails: a parenthetical, a non-restrictive relative
    clause, an appositive or a leading adverbial removed."""
    options = [
        (m.start(), m.end()) for p in (_PARENTHETICAL, _RELATIVE, _APPOSITIVE) for m in p.finditer(sentence)
    ]
    if lead := _LEADING.match(sentence):
        options.append((0, lead.end()))
    if not options:
        return None
    start, end = rng.choice(options)
    out = _replace(sentence, start, end, "")
    if start == 0:  # the sentence now starts with what followed the adverbial
        out = out[:1].upper() + out[1:]
    return " ".join(out.split()) if len(out.split()) >= 4 else None


CONTRADICTIONS = ("name_swap", "names_swapped", "number", "negation", "antonym")


def contradiction(kind: str, sentence: str, pool: Sequence[str], rng: random.Random) -> str | None:
    """The edit named `kind` (one of CONTRADICTIONS) applied to the sentence, or None."""
    if kind == "name_swap":
        return swap_name(sentence, pool, rng)
    if kind == "names_swapped":
        return swap_two_names(sentence, rng)
    if kind == "number":
        return change_number(sentence, rng)
    if kind == "negation":
        return toggle_negation(sentence, rng)
    if kind == "antonym":
        return antonym(sentence, rng)
    raise ValueError(f"unknown perturbation {kind!r}; expected one of {CONTRADICTIONS}")
