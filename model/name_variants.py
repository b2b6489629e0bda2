"""The names of a sentence, and the claims that differ from another only in a name.

Generated summaries often put a name in the wrong place: one swapped for another name of the
article, or two swapped for each other ("A beat B" for "B beat A"). A cross-encoder that finds
every word of such a claim in its evidence easily lets it through. The training perturbations
(training/perturb.py) make these errors on purpose; the claim verifier's name contrast
(model/verifier.py) asks whether its evidence supports the claim with another of its names
better than the claim itself. Both find names the same way: here.
"""

from __future__ import annotations

import re

from opslens.model.lexical import FUNCTION_WORDS

Span = tuple[int, int, str]  # (start, end, text) in the sentence

# No apostrophes inside: "Ukraine's" is the name "Ukraine" with a possessive.
_CAP = r"[A-Z][\w.-]*[a-z][\w-]*"
_NAME = re.compile(rf"\b{_CAP}(?:(?:\s+(?:of|de|al|bin|van|von|the))?\s+{_CAP}){{0,3}}\b")
MONTHS = [
    *("January", "February", "March", "April", "May", "June"),
    *("July", "August", "September", "October", "November", "December"),
]
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
NOT_NAMES = frozenset(
    w.lower()
    for w in [
        *MONTHS,
        *WEEKDAYS,
        "However",
        "Meanwhile",
        "Also",
        "Mr",
        "Mrs",
        "Ms",
        "Dr",
        "Yesterday",
        "Today",
    ]
)
# Names joined only by these are symmetric ("Russia and Ukraine held talks"): swapping them
# changes nothing, so such pairs are never swapped.
_SYMMETRIC_GAP = re.compile(r"^\s*(?:,|and|or|&|,\s*and|and\s+the|with)\s*$", re.IGNORECASE)


def names(sentence: str) -> list[Span]:
    """Capitalised word runs that look like names: (start, end, text). A sentence's first
    word is dropped from a run when it is a common word ("The", "However")."""
    out = []
    for m in _NAME.finditer(sentence):
        start, text = m.start(), m.group()
        first = text.split()[0]
        if (start == 0 or sentence[:start].rstrip().endswith((".", "“", '"'))) and (
            first.lower() in FUNCTION_WORDS or first.lower() in NOT_NAMES
        ):
            rest = text[len(first) :].lstrip()
            if not rest:
                continue
            start, text = start + len(text) - len(rest), rest
        if text.lower() in NOT_NAMES or text.split()[0].lower() in FUNCTION_WORDS:
            continue
        out.append((start, start + len(text), text))
    return out


def swappable(sentence: str, found: list[Span]) -> list[tuple[Span, Span]]:
    """Pairs of different names of the sentence whose swap changes what it says: never two that
    are only listed together ("Russia and Ukraine held talks")."""
    return [
        (a, b)
        for i, a in enumerate(found)
        for b in found[i + 1 :]
        if a[2] != b[2] and not _SYMMETRIC_GAP.match(sentence[a[1] : b[0]])
    ]


def swapped(sentence: str, a: Span, b: Span) -> str:
    """The sentence with names a and b (a first) swapped for each other."""
    return sentence[: a[0]] + b[2] + sentence[a[1] : b[0]] + a[2] + sentence[b[1] :]


def _overlap(a: str, b: str) -> bool:
    return a == b or a in b or b in a


def name_variants(claim: str, evidence: str, limit: int = 8) -> list[str]:
    """Claims that differ from `claim` only in a name: two of its names swapped for each other,
    then each of its names replaced by a name of `evidence` that the claim lacks. At most
    `limit`, in that order, without repeats."""
    found = names(claim)
    out = [swapped(claim, a, b) for a, b in swappable(claim, found) if not _overlap(a[2], b[2])]
    pool = list(dict.fromkeys(n for _, _, n in names(evidence)))
    for start, end, old in found:
        out += [claim[:start] + n + claim[end:] for n in pool if n not in claim and not _overlap(n, old)]
    return list(dict.fromkeys(out))[:limit]
