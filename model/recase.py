"""Restore capitals to lower-cased generated text from the article it summarises.

The generator is fine-tuned on a lower-cased copy of CNN/DailyMail, so it writes lower case.
Every name it may faithfully use is in the article, so the article's own spelling is the best
truecaser there is: each word takes the article's most frequent form outside sentence starts,
and sentences start with a capital. A word the article lacks stays lower case, which is also
how the faithfulness guard spots it as a rare (possibly invented) word.
"""

from __future__ import annotations

import re
from collections import Counter

_WORD = re.compile(r"[^\W_]+(?:[.'’][^\W_]+)*", re.UNICODE)
# Start of text or of a sentence (after . ! ? and optional closing quotes/brackets), but not
# after an initialism's dot ("the U.S. said").
_SENTENCE_START = re.compile(r"(?:^|(?<![.\s][^\W_])[.!?][\"'”’)\]]*\s+)[\"'“‘(\[]*$")


def _at_sentence_start(text: str, pos: int) -> bool:
    return bool(_SENTENCE_START.search(text[max(0, pos - 8) : pos])) or "\n" in text[max(0, pos - 2) : pos]


def cased_forms(source: str) -> dict[str, str]:
    """Lower-case word -> its most frequent spelling in `source`, counting only occurrences that
    are not sentence-initial (those are capitalised whatever the word)."""
    counts: dict[str, Counter[str]] = {}
    for m in _WORD.finditer(source):
        if _at_sentence_start(source, m.start()):
            continue
        word = m.group()
        counts.setdefault(word.lower(), Counter())[word] += 1
    return {low: forms.most_common(1)[0][0] for low, forms in counts.items()}


def _capitalise_sentences(text: str) -> str:
    out = list(text)
    for m in _WORD.finditer(text):
        if _at_sentence_start(text, m.start()):
            out[m.start()] = out[m.start()].upper()
    return "".join(out)


def recase(text: str, source: str) -> str:
    """`text` with each word spelt as `source` spells it, and sentence starts capitalised."""
    return recase_with(text, cased_forms(source))


def recase_with(text: str, forms: dict[str, str]) -> str:
    """`text` with each word spelt as `forms` (from `cased_forms`) says, and sentence starts
    capitalised: for spellings gathered once from a large cased corpus."""

    def spell(m: re.Match[str]) -> str:
        word = m.group()
        low = word.lower()
        if low in forms:
            return forms[low]
        head, sep, tail = low.partition("'")  # possessives: "russia's" -> "Russia's"
        if sep and head in forms:
            return forms[head] + sep + tail
        return "I" if low == "i" else word

    return _capitalise_sentences(_WORD.sub(spell, text))
