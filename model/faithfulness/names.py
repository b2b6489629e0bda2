"""Names: maximal runs of capitalised words (no NER model: summaries are short, and the check is
"does this name occur in the article", which needs spans, not types), matched against the article
case-insensitively, with demonyms and acronyms allowed."""

from __future__ import annotations

import re
from collections.abc import Sequence

from opslens.model.faithfulness.dates import is_date_word
from opslens.model.faithfulness.spans import STEM, FactSpan, name_tokens
from opslens.model.lexical import FUNCTION_WORDS
from opslens.model.text import Sentence

# A multi-word name is supported when its words occur in the article in order with at most this
# many other words between neighbours ("President Zelenskiy" <- "President Volodymyr Zelenskiy").
MAX_NAME_GAP = 2
MAX_ACRONYM = 6

# Lower-case words that may join the parts of one name ("Bank of England", "Osama bin Laden").
CONNECTORS = {"of", "the", "de", "la", "al", "bin", "van", "von", "der", "du", "del", "for"}
_WORD_SPAN = re.compile(r"[^\W_]+(?:['’.\-&][^\W_]+)*\.?", re.UNICODE)


def _is_capitalised(word: str) -> bool:
    return word[:1].isupper()


def is_acronym(word: str) -> bool:
    letters = word.replace(".", "")
    return 2 <= len(letters) <= MAX_ACRONYM and letters.isalpha() and letters.isupper()


def _plain(word: str) -> str:
    tokens = name_tokens(word)
    return tokens[0] if len(tokens) == 1 else ""


def find_entities(text: str, sentences: Sequence[Sentence], article_words: set[str]) -> list[FactSpan]:
    """Maximal runs of capitalised words (connectors allowed inside), within one sentence and
    not across punctuation. Keyed by the run's name tokens.

    The first word of a sentence is capitalised anyway: alone, it is a name only if it is not a
    function word and no article word starts with the same letters; before more capitalised
    words it is part of the name.
    """
    # Compared by the first STEM letters: "Shelling" opens a sentence of a summary whose article
    # says "shelled". (A lone invented name that shares them with an article word goes unflagged.)
    stems = {w[:STEM] for w in article_words}
    first_words = set()
    for s in sentences:
        m = _WORD_SPAN.search(text, s.start, s.end)
        if m:
            first_words.add(m.start())
    out: list[FactSpan] = []
    run: list[re.Match[str]] = []

    def close() -> None:
        while run and run[-1].group() in CONNECTORS:
            run.pop()
        # A lone sentence-initial word sharing a stem with an article word is ordinary (or a
        # supported name either way); in front of more capitalised words it stays part of the
        # name, so "Russian President Zelenskiy" is checked whole.
        if len(run) == 1 and run[0].start() in first_words and _plain(run[0].group())[:STEM] in stems:
            run.clear()
        if run:
            span = text[run[0].start() : run[-1].end()].rstrip(".")
            out.append(
                FactSpan("entity", run[0].start(), run[0].start() + len(span), " ".join(name_tokens(span)))
            )
        run.clear()

    prev_end = 0
    for m in _WORD_SPAN.finditer(text):
        word = m.group()
        plain = word.rstrip(".").lower()
        if run and (text[prev_end : m.start()].strip() or m.start() in first_words):
            close()  # punctuation or a sentence boundary ends a name
        prev_end = m.end()
        if run and word in CONNECTORS:
            run.append(m)
            continue
        is_date = is_date_word(plain)
        initial_function = m.start() in first_words and plain in FUNCTION_WORDS
        if not _is_capitalised(word) or is_date or plain == "i" or initial_function:
            close()
            continue
        run.append(m)
    close()
    return out


_DEMONYM_ENDINGS = ("n", "an", "ian", "ese", "i", "ns", "ans", "ians")


def same_name_word(a: str, b: str) -> bool:
    """Equal, or a place and its demonym ("russia"/"russian", "ukraine"/"ukrainian",
    "china"/"chinese"): a summary may say "Russian losses" for "Russia's losses"."""
    if a == b:
        return True
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    if len(short) < 4:
        return False
    return any(long_ == stem + end for stem in (short, short[:-1]) for end in _DEMONYM_ENDINGS)


def name_supported(tokens: Sequence[str], article: Sequence[str], max_gap: int = MAX_NAME_GAP) -> bool:
    """The name's words occur in the article in order, neighbours at most `max_gap` words apart."""
    if not tokens:
        return True
    for i, tok in enumerate(article):
        if not same_name_word(tokens[0], tok):
            continue
        pos, ok = i, True
        for want in tokens[1:]:
            window = article[pos + 1 : pos + 2 + max_gap]
            hit = next((j for j, t in enumerate(window) if same_name_word(want, t)), None)
            if hit is None:
                ok = False
                break
            pos = pos + 1 + hit
        if ok:
            return True
    return False


def acronyms(tokens: Sequence[str], longest: int = MAX_ACRONYM) -> frozenset[str]:
    """Initials of every run of 2..`longest` words, connectors skipped ("European Union" ->
    "eu", "Bank of England" -> "be" and "boe"): what an acronym in a summary may stand for."""
    out: set[str] = set()
    for i in range(len(tokens)):
        full = skip = ""
        for tok in tokens[i : i + longest + 2]:
            full += tok[0]
            if tok not in CONNECTORS:
                skip += tok[0]
            if len(full) >= 2:
                out.update((full, skip))
    return frozenset(a for a in out if 2 <= len(a) <= longest)
