"""Faithfulness guard for generated summaries: evidence for every sentence, and the numbers,
dates and names the article does not back.

Model-agnostic: it reads the article (as `parse_document` segmented it, offsets included) and
any summary text. Each summary sentence is aligned to its best supporting article sentences
(cosine of SentenceEncoder vectors; content-word overlap when no encoder is given). Numbers,
dates and named entities of the summary are extracted with character offsets and checked
against the article after normalisation (case, punctuation, possessives, hyphens, "1,000" =
"1000" = "one thousand", "$1.5 million" = "1,500,000"). A policy then decides what happens to
a summary with unsupported spans, and the result always says what was done.

Names are found as capitalised spans (no NER model: summaries are short, and the check is
"does this name occur in the article", which needs spans, not types). Matching is
case-insensitive, so lower-cased articles (CNN/DailyMail) can still support a name. A
lower-cased summary (a model trained on lower-cased CNN/DailyMail writes one) has no
capitalised spans; there, words outside a 30k-word English vocabulary that the article lacks
are flagged as `rare_word` (invented or misspelt names; common first names slip through).
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Literal

import torch
from pydantic import BaseModel, Field
from text_to_num import text2num

from opslens.model.encoder import encoder_path
from opslens.model.lexical import FUNCTION_WORDS, content_words
from opslens.model.options import POLICIES, Policy
from opslens.model.text import Document, Sentence, split_sentences

if TYPE_CHECKING:
    from opslens.model.encoder import SentenceEncoder

Action = Literal["none", "flagged", "dropped_sentences", "fallback"]
SpanKind = Literal["number", "date", "entity", "rare_word"]

DEFAULT_TOP_K = 2
# Relative tolerance when comparing numeric values ("1.5 million" vs "1,500,000").
VALUE_TOLERANCE = 1e-6
# A multi-word name is supported when its words occur in the article in order with at most this
# many other words between neighbours ("President Zelenskiy" <- "President Volodymyr Zelenskiy").
MAX_NAME_GAP = 2
MAX_ACRONYM = 6
STEM = 5


# ---------------------------------------------------------------- result types


class Support(BaseModel):
    """An article sentence that supports a summary sentence."""

    index: int = Field(description="Position among the article's sentences (0-based).")
    text: str = Field(description="Exactly article[start:end].")
    start: int
    end: int
    score: float = Field(description="Cosine similarity (encoder) or content-word coverage (lexical).")


class UnsupportedSpan(BaseModel):
    kind: SpanKind
    text: str = Field(description="Exactly generated[start:end].")
    start: int
    end: int
    normalized: str = Field(description="The form that was looked up in the article.")
    sentence: int = Field(description="Index of the summary sentence holding the span.")


class CheckedSentence(BaseModel):
    text: str = Field(description="Exactly generated[start:end].")
    start: int
    end: int
    evidence: list[Support] = Field(description="Best supporting article sentences, best first.")
    unsupported: list[UnsupportedSpan]
    kept: bool = Field(description="Whether the sentence is in the final summary.")


class Faithfulness(BaseModel):
    generated: str = Field(description="The summary as the generator wrote it; all offsets index it.")
    summary: str = Field(description="The summary after the policy was applied.")
    policy: Policy
    action: Action = Field(
        description="none: nothing unsupported; flagged: kept as written; dropped_sentences: "
        "sentences with unsupported spans removed; fallback: replaced by the extractive summary."
    )
    detail: str = Field(description="What was done, in words.")
    alignment: Literal["encoder", "lexical"]
    sentences: list[CheckedSentence]
    unsupported: list[UnsupportedSpan]

    @property
    def faithful(self) -> bool:
        return not self.unsupported


# ---------------------------------------------------------------- normalisation


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


# ---------------------------------------------------------------- numbers

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


@dataclass(frozen=True, slots=True)
class Found:
    kind: SpanKind
    start: int
    end: int
    key: str  # normalised form looked up in the article


def _value_key(value: float) -> str:
    return repr(round(value, 6))


def find_numbers(text: str) -> list[Found]:
    """Numbers written in digits or words, with currency, scale and percent attached; each
    keyed by its value so "1,000", "1000", "one thousand" and "1 thousand" compare equal."""
    out: list[Found] = []
    for m in _DIGITS.finditer(text):
        value = float(m["num"].replace(",", ""))
        if m["scale"]:
            value *= _SCALES[m["scale"].lower()]
        out.append(Found("number", m.start(), m.end(), _value_key(value)))
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
        out.append(Found("number", m.start(), m.end(), _value_key(value)))
    return sorted(out, key=lambda f: f.start)


# ---------------------------------------------------------------- dates

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


def find_dates(text: str) -> list[Found]:
    """Month and weekday names (days and years are numbers). Keyed by the full lower-case name."""
    out: list[Found] = []
    for m in _DATE_WORD.finditer(text):
        word = m["w"].lower()
        if word in _AMBIGUOUS_MONTHS:
            before, after = text[: m.start()], text[m.end("w") :]
            if not (_DATE_CONTEXT.search(before) or re.match(r"\.?\s*\d", after)):
                continue
        key = _MONTHS.get(word, word)
        out.append(Found("date", m.start(), m.start() + len(m["w"]), key))
    return out


# ---------------------------------------------------------------- names

# Lower-case words that may join the parts of one name ("Bank of England", "Osama bin Laden").
_CONNECTORS = {"of", "the", "de", "la", "al", "bin", "van", "von", "der", "du", "del", "for"}
_WORD_SPAN = re.compile(r"[^\W_]+(?:['’.\-&][^\W_]+)*\.?", re.UNICODE)


def _is_capitalised(word: str) -> bool:
    return word[:1].isupper()


def _is_acronym(word: str) -> bool:
    letters = word.replace(".", "")
    return 2 <= len(letters) <= MAX_ACRONYM and letters.isalpha() and letters.isupper()


def _plain(word: str) -> str:
    tokens = name_tokens(word)
    return tokens[0] if len(tokens) == 1 else ""


def find_entities(text: str, sentences: Sequence[Sentence], article_words: set[str]) -> list[Found]:
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
    out: list[Found] = []
    run: list[re.Match[str]] = []

    def close() -> None:
        while run and run[-1].group() in _CONNECTORS:
            run.pop()
        # A lone sentence-initial word sharing a stem with an article word is ordinary (or a
        # supported name either way); in front of more capitalised words it stays part of the
        # name, so "Russian President Zelenskiy" is checked whole.
        if len(run) == 1 and run[0].start() in first_words and _plain(run[0].group())[:STEM] in stems:
            run.clear()
        if run:
            span = text[run[0].start() : run[-1].end()].rstrip(".")
            out.append(
                Found("entity", run[0].start(), run[0].start() + len(span), " ".join(name_tokens(span)))
            )
        run.clear()

    prev_end = 0
    for m in _WORD_SPAN.finditer(text):
        word = m.group()
        plain = word.rstrip(".").lower()
        if run and (text[prev_end : m.start()].strip() or m.start() in first_words):
            close()  # punctuation or a sentence boundary ends a name
        prev_end = m.end()
        if run and word in _CONNECTORS:
            run.append(m)
            continue
        is_date = plain in _WEEKDAYS or (plain in _MONTHS and plain not in _AMBIGUOUS_MONTHS)
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


# ---------------------------------------------------------------- rare words

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


def find_rare_words(text: str, vocabulary: frozenset[str], stems: set[str]) -> list[Found]:
    """Lower-case words outside `vocabulary` whose stem no article word has. Names in
    lower-cased output ("roberto jimbozardi") escape the capitalised-name check; this catches
    the rare and the invented ones (not common first names, which the vocabulary holds)."""
    out = []
    for m in _LOWER_WORD.finditer(text):
        parts = name_tokens(m.group())
        rare = [p for p in parts if len(p) >= 3 and not _known(p, vocabulary) and p[:STEM] not in stems]
        if rare:
            out.append(Found("rare_word", m.start(), m.end(), " ".join(parts)))
    return out


# ---------------------------------------------------------------- alignment


def _lexical_scores(summary_sentences: Sequence[str], article_sentences: Sequence[str]) -> torch.Tensor:
    """Share of a summary sentence's content words found in each article sentence."""
    art = [set(content_words(a)) for a in article_sentences]
    rows = []
    for s in summary_sentences:
        words = set(content_words(s))
        rows.append([len(words & a) / max(len(words), 1) for a in art])
    return torch.tensor(rows, dtype=torch.float32).reshape(len(summary_sentences), len(article_sentences))


def align(
    summary_sentences: Sequence[Sentence],
    article: Document,
    *,
    encoder: SentenceEncoder | None = None,
    article_vectors: torch.Tensor | None = None,
    top_k: int = DEFAULT_TOP_K,
) -> tuple[list[list[Support]], Literal["encoder", "lexical"]]:
    """Best `top_k` supporting article sentences for each summary sentence, best first.

    `article_vectors` (unit rows, one per `article.sentences`) saves re-encoding the article
    when the caller has them; an encoder is still needed for the summary sentences.
    """
    if top_k < 1:
        raise ValueError(f"top_k must be at least 1, got {top_k}")
    arts = article.sentences
    if not summary_sentences or not arts:
        return [[] for _ in summary_sentences], "encoder" if encoder else "lexical"
    if encoder is not None:
        if article_vectors is None:
            article_vectors = encoder.encode([s.normalized for s in arts])
        if article_vectors.shape[0] != len(arts):
            raise ValueError(
                f"article_vectors has {article_vectors.shape[0]} rows for {len(arts)} article sentences"
            )
        scores = encoder.encode([s.normalized for s in summary_sentences]) @ article_vectors.T
        method: Literal["encoder", "lexical"] = "encoder"
    else:
        scores = _lexical_scores([s.text for s in summary_sentences], [s.text for s in arts])
        method = "lexical"
    k = min(top_k, len(arts))
    best = torch.topk(scores, k, dim=1)
    out = []
    for vals, idx in zip(best.values.tolist(), best.indices.tolist(), strict=True):
        out.append(
            [
                Support(index=i, text=arts[i].text, start=arts[i].start, end=arts[i].end, score=round(v, 4))
                for v, i in zip(vals, idx, strict=True)
                if not math.isnan(v)
            ]
        )
    return out, method


# ---------------------------------------------------------------- the guard


@dataclass(frozen=True)
class ArticleFacts:
    """What the article offers to support a summary: computed once per article."""

    numbers: frozenset[str]
    dates: frozenset[str]
    tokens: tuple[str, ...]
    acronyms: frozenset[str]

    @classmethod
    def of(cls, text: str) -> ArticleFacts:
        tokens = tuple(name_tokens(text))
        return cls(
            numbers=frozenset(f.key for f in find_numbers(text)),
            dates=frozenset(f.key for f in find_dates(text)),
            tokens=tokens,
            acronyms=acronyms(tokens),
        )


def acronyms(tokens: Sequence[str], longest: int = MAX_ACRONYM) -> frozenset[str]:
    """Initials of every run of 2..`longest` words, connectors skipped ("European Union" ->
    "eu", "Bank of England" -> "be" and "boe"): what an acronym in a summary may stand for."""
    out: set[str] = set()
    for i in range(len(tokens)):
        full = skip = ""
        for tok in tokens[i : i + longest + 2]:
            full += tok[0]
            if tok not in _CONNECTORS:
                skip += tok[0]
            if len(full) >= 2:
                out.update((full, skip))
    return frozenset(a for a in out if 2 <= len(a) <= longest)


def unsupported_spans(
    generated: str, sentences: Sequence[Sentence], facts: ArticleFacts, *, rare_words: bool = True
) -> list[Found]:
    """Numbers, dates and names of `generated` that the article does not back; with
    `rare_words`, also lower-case words that are rare in English and absent from the article."""
    found = find_numbers(generated) + find_dates(generated)
    article_words = set(facts.tokens)
    extra = find_entities(generated, sentences, article_words)
    if rare_words:
        extra += find_rare_words(generated, common_words(), {w[:STEM] for w in article_words})
    for item in extra:
        if not any(f.start < item.end and item.start < f.end for f in found):
            found.append(item)
    bad = []
    for f in sorted(found, key=lambda f: f.start):
        if f.kind == "number":
            ok = f.key in facts.numbers or any(
                math.isclose(float(f.key), float(k), rel_tol=VALUE_TOLERANCE) for k in facts.numbers
            )
        elif f.kind == "date":
            ok = f.key in facts.dates or f.key in article_words
        elif f.kind == "rare_word":
            ok = False  # found only when absent from the article
        else:
            tokens = f.key.split()
            ok = name_supported(tokens, facts.tokens) or (
                len(tokens) == 1 and _is_acronym(generated[f.start : f.end]) and tokens[0] in facts.acronyms
            )
        if not ok:
            bad.append(f)
    return bad


def check(
    article: Document,
    generated: str,
    *,
    policy: Policy = "flag",
    fallback_summary: str | None = None,
    encoder: SentenceEncoder | None = None,
    article_vectors: torch.Tensor | None = None,
    top_k: int = DEFAULT_TOP_K,
    rare_words: bool = True,
) -> Faithfulness:
    """Check `generated` against `article` and apply `policy` to unsupported spans.

    - flag: keep the summary, report the spans.
    - drop_sentence: remove every sentence holding an unsupported span; if none is left, use
      `fallback_summary` when given, else return an empty summary.
    - fallback: if anything is unsupported, return `fallback_summary` instead (required).

    `rare_words=False` skips the rare-word check (for cased text the name check suffices).
    """
    if policy not in POLICIES:
        raise ValueError(f"unknown policy {policy!r}; expected one of {', '.join(POLICIES)}")
    if policy == "fallback" and fallback_summary is None:
        raise ValueError("policy 'fallback' needs a fallback_summary (the extractive summary)")
    sentences = split_sentences(generated)
    evidence, method = align(
        sentences, article, encoder=encoder, article_vectors=article_vectors, top_k=top_k
    )
    bad = unsupported_spans(generated, sentences, ArticleFacts.of(article.source), rare_words=rare_words)

    spans: list[UnsupportedSpan] = []
    per_sentence: list[list[UnsupportedSpan]] = [[] for _ in sentences]
    for f in bad:
        idx = next((i for i, s in enumerate(sentences) if s.start <= f.start < s.end), -1)
        span = UnsupportedSpan(
            kind=f.kind,
            text=generated[f.start : f.end],
            start=f.start,
            end=f.end,
            normalized=f.key,
            sentence=idx,
        )
        spans.append(span)
        if idx >= 0:
            per_sentence[idx].append(span)

    keep = [True] * len(sentences)
    summary, action = generated.strip(), "none"
    n = len(spans)
    detail = f"no unsupported spans in {len(sentences)} sentence(s)"
    if spans and policy == "flag":
        action, detail = "flagged", f"{n} unsupported span(s) flagged; summary kept as generated"
    elif spans and policy == "drop_sentence":
        keep = [not per_sentence[i] for i in range(len(sentences))]
        kept = [s.text.strip() for s, k in zip(sentences, keep, strict=True) if k]
        dropped = keep.count(False)
        if kept:
            action, summary = "dropped_sentences", " ".join(kept)
            detail = f"dropped {dropped} of {len(sentences)} sentence(s) holding {n} unsupported span(s)"
        elif fallback_summary is not None:
            action, summary = "fallback", fallback_summary
            detail = f"all {len(sentences)} sentence(s) held unsupported spans; used the extractive summary"
        else:
            action, summary = "dropped_sentences", ""
            detail = f"all {len(sentences)} sentence(s) held unsupported spans; nothing left"
    elif spans and policy == "fallback":
        keep = [False] * len(sentences)
        action, summary = "fallback", fallback_summary or ""
        detail = f"{n} unsupported span(s); replaced by the extractive summary"

    checked = [
        CheckedSentence(
            text=s.text, start=s.start, end=s.end, evidence=ev, unsupported=per_sentence[i], kept=keep[i]
        )
        for i, (s, ev) in enumerate(zip(sentences, evidence, strict=True))
    ]
    return Faithfulness(
        generated=generated,
        summary=summary,
        policy=policy,
        action=action,
        detail=detail,
        alignment=method,
        sentences=checked,
        unsupported=spans,
    )


def figures(results: Sequence[Faithfulness]) -> dict[str, float]:
    """Corpus figures for an evaluation report: how often and how much summaries state what
    their article does not."""
    if not results:
        raise ValueError("no results to summarise")
    n = len(results)
    out = {
        "summaries": float(n),
        "share_with_unsupported": sum(bool(r.unsupported) for r in results) / n,
        "share_with_unsupported_entity_or_number": sum(
            any(s.kind in ("entity", "number") for s in r.unsupported) for r in results
        )
        / n,
        "unsupported_spans_per_summary": sum(len(r.unsupported) for r in results) / n,
    }
    for kind in ("number", "date", "entity", "rare_word"):
        out[f"unsupported_{kind}_per_summary"] = (
            sum(sum(s.kind == kind for s in r.unsupported) for r in results) / n
        )
    return out
