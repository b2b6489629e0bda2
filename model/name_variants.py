"""The names of a sentence, and the claims that differ from another only in a name.

Generated summaries often put a name in the wrong place: one swapped for another name of the
article, or two swapped for each other ("A beat B" for "B beat A"). A cross-encoder that finds
every word of such a claim in its evidence easily lets it through. The training perturbations
(training/perturb.py) make these errors on purpose; the claim verifier's name contrast
(model/verifier.py) asks whether its evidence supports the claim with another of its names
better than the claim itself. Both find names the same way: here.

The contrast's variants keep each name's role and never trade a name for another of the same
actor: a nationality ("Ukrainian forces") is only replaced by a nationality, and a country, its
capital and its nationality (China, Beijing, Chinese: countryinfo's table) stand for one actor,
as news writes them. Variants outside those rules ("Vuhledar forces", "warned Beijing … if China
supplies") say nothing a summary would get wrong, and the cross-encoder reads them near-alike, so
the contrast decided on noise there.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass

from opslens.model.lexical import FUNCTION_WORDS
from opslens.model.text import words

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


@dataclass(frozen=True)
class _Countries:
    actor: dict[str, str]  # lower-cased country name, capital, other spelling or nationality -> country
    forms: dict[str, tuple[str, str]]  # country -> (its name, its nationality) as written
    nationalities: frozenset[str]  # lower-cased


@functools.cache
def _countries() -> _Countries:
    from countryinfo import all_countries  # its table loads in ~0.1 s: only when first asked

    actor: dict[str, str] = {}
    forms: dict[str, tuple[str, str]] = {}
    for country in all_countries():
        name, demonym = country.name() or "", country.demonym() or ""
        if not name:
            continue
        capitals = [c.lower() for c in _listed(country.capital())]
        aliases = [name.lower(), *capitals, *(c.removesuffix(" d.c.") for c in capitals), demonym.lower()]
        aliases += [a.lower() for a in country.alt_spellings() or [] if len(a) > 3]
        for alias in filter(None, aliases):
            actor.setdefault(alias, name.lower())
        forms[name.lower()] = (name, demonym)
    nationalities = frozenset(d.lower() for _, d in forms.values() if d)
    return _Countries(actor, forms, nationalities)


def _listed(value: str | list[str] | None) -> list[str]:
    """A table field that holds one string, several (a list; e.g. Vatican City's capital) or none."""
    return [value] if isinstance(value, str) else list(value or [])


def exchangeable(a: str, b: str) -> bool:
    """Whether name `b` in the place of `a` changes what is said of whom: same role (a
    nationality for a nationality, anything else for anything else), other actors."""
    table = _countries()
    ka, kb = a.lower(), b.lower()
    same_role = (ka in table.nationalities) == (kb in table.nationalities)
    actor = table.actor.get(ka)
    return same_role and (actor is None or actor != table.actor.get(kb))


def _with_other_forms(found: list[str]) -> list[str]:
    """Names, each followed by its country's name and nationality when it names a country
    ("Moscow" -> "Russia", "Russian"), so a nationality has nationalities to be replaced by."""
    table = _countries()
    out = []
    for n in found:
        actor = table.actor.get(n.lower())
        out += [n, *(f for f in table.forms[actor] if f)] if actor else [n]
    return list(dict.fromkeys(out))


def name_variants(claim: str, evidence: str, limit: int = 8, *, roles: bool = False) -> list[str]:
    """Claims that differ from `claim` only in a name: two of its names swapped for each other,
    then each of its names replaced by a name of `evidence` that the claim lacks; with `roles`,
    only `exchangeable` ones. At most `limit`, in that order, without repeats."""

    def fits(a: str, b: str) -> bool:
        return not _overlap(a, b) and (not roles or exchangeable(a, b))

    found = names(claim)
    out = [swapped(claim, a, b) for a, b in swappable(claim, found) if fits(a[2], b[2])]
    pool = list(dict.fromkeys(n for _, _, n in names(evidence)))
    if roles:
        # A replacement never names an actor the claim already names ("Russian forces inflicted
        # losses on Russia" is no claim a summary makes of Ukrainian forces).
        actor = _countries().actor
        named = {actor.get(n.lower()) for _, _, n in found} - {None}
        pool = [n for n in _with_other_forms(pool) if actor.get(n.lower()) not in named]
    for start, end, old in found:
        out += [claim[:start] + n + claim[end:] for n in pool if n not in claim and fits(old, n)]
    return list(dict.fromkeys(out))[:limit]


def named_claim(claim: str, evidence: Sequence[str]) -> str | None:
    """The claim as the lexical name rules may read it, or None when they cannot: in Title Case
    (a headline) every word looks like a name. A first word that starts the claim only looks like
    one ("Woman has third breast implanted"), so it is read lower-cased unless it names a country
    or the evidence writes it with a capital inside a sentence."""
    cased = re.findall(r"\b[^\W\d_][\w'-]*", claim)
    if len(cased) >= 3 and sum(w[0].isupper() for w in cased) * 2 > len(cased):
        return None
    found = names(claim)
    if not found or found[0][0] != 0:
        return claim
    first = found[0][2]
    inside = re.compile(rf"(?<=[^\s.!?\"“]\s){re.escape(first)}\b")
    if first.lower() in _countries().actor or any(inside.search(sentence) for sentence in evidence):
        return claim
    return claim[0].lower() + claim[1:]


def traded(claim: str) -> list[str]:
    """The claim with two of its names trading places (pairs as `swappable` makes them): the two
    exchanged as written when they are `exchangeable` (a person for a nationality says nothing a
    summary gets wrong), and, for two countries' names, each given the other's in its own role
    ("Russian drones … Ukraine lost" -> "Ukrainian drones … Russia lost"). Without repeats."""
    table = _countries()
    out = []
    for a, b in swappable(claim, names(claim)):
        if exchangeable(a[2], b[2]):
            out.append(swapped(claim, a, b))
        actor_a, actor_b = table.actor.get(a[2].lower()), table.actor.get(b[2].lower())
        if actor_a and actor_b and actor_a != actor_b:
            new_a, new_b = _in_role(a[2], actor_b), _in_role(b[2], actor_a)
            if new_a and new_b:
                out.append(claim[: a[0]] + new_a + claim[a[1] : b[0]] + new_b + claim[b[1] :])
    return [t for t in dict.fromkeys(out) if t != claim]


def _in_role(name: str, actor: str) -> str:
    """`actor`'s form in the role `name` plays: its nationality for a nationality, else its name."""
    table = _countries()
    country, nationality = table.forms[actor]
    return nationality if name.lower() in table.nationalities else country


STATED_SHARE = 0.8


def stated(claim: str, sentences: Sequence[str], share: float = STATED_SHARE) -> bool:
    """Whether one of `sentences` states `claim` as an extract would: every name and number of
    the claim in it, in the claim's order, with at least `share` of its other content words
    (also in order). No name variant can then be better supported than the claim."""
    return stating(claim, sentences, share) is not None


def stating(claim: str, sentences: Sequence[str], share: float = STATED_SHARE) -> int | None:
    """The first of `sentences` that states `claim` as `stated` reads it; None when none does."""
    name_words = {w for _, _, n in names(claim) for w in words(n)}
    seq = [w for w in words(claim) if w not in FUNCTION_WORDS or w in name_words]
    key = [w in name_words or any(ch.isdigit() for ch in w) for w in seq]
    need_key, need_rest = sum(key), share * (len(seq) - sum(key))
    # A key word outweighs all the others together, so the best alignment keeps every key word
    # it can; then the alignment must hold all of them and enough of the rest.
    heavy = len(seq) + 1
    weights = [heavy if k else 1 for k in key]
    needed = {w for w, k in zip(seq, key, strict=True) if k}
    for n, sentence in enumerate(sentences):
        other, vocabulary = _words(sentence)
        if not needed <= vocabulary:  # a key word missing: no alignment holds them all
            continue
        best = _aligned(seq, weights, other)
        if best >= need_key * heavy and best - need_key * heavy >= need_rest:
            return n
    return None


def favoured(claim: str, variants: Sequence[str], sentences: Sequence[str]) -> list[str]:
    """The variants some sentence shares at least as many word pairs with as any shares with the
    claim: the ones the evidence may support better than it. A faithful claim shares its names' own
    neighbours with its evidence ("Ukrainian forces have inflicted"), so its variants lose them and
    are not read; a claim that puts a name where the evidence has another one ("Ukrainian forces
    have suffered" where the article says Russian) gains pairs as the variant, and a claim no
    sentence words like it ties and is read."""
    if not sentences:
        return []
    evidence = [_sentence_pairs(s) for s in sentences]

    def shared(text: str) -> int:
        pairs = _pairs(text)
        return max(len(pairs & e) for e in evidence)

    own = shared(claim)
    return [v for v in variants if shared(v) >= own]


def _pairs(text: str) -> frozenset[tuple[str, str]]:
    return frozenset(itertools.pairwise(words(text)))


@functools.lru_cache(maxsize=4096)
def _sentence_pairs(sentence: str) -> frozenset[tuple[str, str]]:
    """A sentence's adjacent word pairs: read once for every claim and variant screened against it."""
    return _pairs(sentence)


# Words that negate what a sentence says ("didn't" is read as "didn" and "t").
NEGATIONS = frozenset(
    ["not", "no", "never", "nor", "none", "nothing", "nobody", "neither", "without", "cannot", "t"]
)


def restating(claim: str, sentences: Sequence[str]) -> int | None:
    """The first of `sentences` that `claim` restates: each states the other as `stated` reads
    it (every name and number of either in the other, in order, with 80% of the other words),
    with the same negations (`stated` reads "not" as a function word), neither a question; None
    when none does. An article asserts such a claim in its own words ("Is Macaulay Culkin dead?"
    asserts nothing)."""
    if _asks(claim):
        return None
    negated = sorted(w for w in words(claim) if w in NEGATIONS)
    for n, sentence in enumerate(sentences):
        if (
            not _asks(sentence)
            and sorted(w for w in _words(sentence)[0] if w in NEGATIONS) == negated
            and stated(claim, [sentence])
            and stated(sentence, [claim])
        ):
            return n
    return None


def _asks(text: str) -> bool:
    return text.rstrip().rstrip("\"'”’)").endswith("?")


@functools.lru_cache(maxsize=4096)
def _words(sentence: str) -> tuple[tuple[str, ...], frozenset[str]]:
    """A sentence's words and their set: read once for every claim and variant checked against it."""
    found = words(sentence)
    return tuple(found), frozenset(found)


def _aligned(seq: Sequence[str], weights: Sequence[int], other: Sequence[str]) -> int:
    """The heaviest common subsequence of `seq` (weighted) and `other`."""
    prev = [0] * (len(other) + 1)
    for w, weight in zip(seq, weights, strict=True):
        row = [0] * (len(other) + 1)
        for j, o in enumerate(other, 1):
            row[j] = max(prev[j], row[j - 1], prev[j - 1] + weight if w == o else 0)
        prev = row
    return prev[-1]
