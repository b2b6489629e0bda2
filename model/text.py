"""Turn pasted article text into clean sentences that keep offsets into the original.

Pasted briefing text carries web furniture ("Source link", "Live Briefing: ... click here.",
credit lines, video promos). We drop whole blocks that look like that, segment the rest with
pysbd, and keep every sentence as a (start, end) span of the text the caller sent, so the API
can point back into it.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import pysbd

# Phrases that mark a block as site furniture rather than article prose. Matched
# case-insensitively at the start of a block.
BOILERPLATE_PREFIXES: tuple[str, ...] = (
    "source link",
    "live briefing",
    "watch:",
    "watch live",
    "read more",
    "read also",
    "related:",
    "related coverage",
    "see also",
    "advertisement",
    "subscribe",
    "sign up",
    "follow us",
    "share this",
    "image caption",
    "image source",
    "photo:",
    "video:",
    "listen:",
    "copyright",
    "©",
    "all rights reserved",
    "with reporting by",
    "reporting by",
    "editing by",
)
# Phrases that mark a whole short block as a promo wherever they appear in it.
PROMO_PHRASES: tuple[str, ...] = (
    "click here",
    "sign up for",
    "subscribe to our",
    "download our app",
    "follow us on",
)
PROMO_MAX_WORDS = 80
# A block with no sentence-final punctuation and at most this many words is a heading,
# byline or caption, not a sentence.
HEADING_MAX_WORDS = 25
# Sentences shorter than this carry no summary content ("He left." stays out of summaries).
MIN_SENTENCE_WORDS = 4
# Above this share of unreadable characters a sentence is treated as junk (binary paste).
MAX_JUNK_SHARE = 0.2

_TERMINAL = tuple(".!?\"”’')…:;")
_BLANK_LINE = re.compile(r"\n[ \t\r\f\v]*\n")
_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True, slots=True)
class Span:
    """A character range `source[start:end]` of the text the caller sent."""

    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Sentence:
    text: str  # always source[start:end], untouched
    start: int
    end: int

    @property
    def normalized(self) -> str:
        """Whitespace collapsed: what the encoder reads."""
        return " ".join(self.text.split())


@dataclass(frozen=True, slots=True)
class DroppedBlock:
    start: int
    end: int
    reason: str  # "boilerplate" | "promo" | "heading" | "junk"


@dataclass(frozen=True, slots=True)
class Document:
    source: str
    sentences: tuple[Sentence, ...]
    dropped: tuple[DroppedBlock, ...]


@lru_cache(maxsize=1)
def _segmenter() -> pysbd.Segmenter:
    return pysbd.Segmenter(language="en", clean=False)


def _junk_share(text: str) -> float:
    if not text:
        return 1.0
    bad = sum(
        1
        for ch in text
        if ch == "\ufffd" or (unicodedata.category(ch) in {"Cc", "Cs", "Co", "Cn"} and not ch.isspace())
    )
    return bad / len(text)


def _blocks(source: str) -> list[Span]:
    """Split into paragraphs: at blank lines, and at single newlines unless the line was
    hard-wrapped (it does not end a sentence and the next line starts in lower case)."""
    spans: list[Span] = []
    pos = 0
    for para in [*_BLANK_LINE.finditer(source), None]:
        end = para.start() if para else len(source)
        chunk_start = pos
        lines = source[pos:end].split("\n")
        offset = pos
        for i, line in enumerate(lines):
            line_end = offset + len(line)
            nxt = lines[i + 1].lstrip() if i + 1 < len(lines) else ""
            wrapped = bool(nxt) and not line.rstrip().endswith(_TERMINAL) and nxt[0].islower()
            if not wrapped:
                if source[chunk_start:line_end].strip():
                    spans.append(Span(chunk_start, line_end))
                chunk_start = line_end + 1
            offset = line_end + 1
        pos = para.end() if para else len(source)
    return spans


def _strip(source: str, span: Span) -> Span:
    text = source[span.start : span.end]
    left = len(text) - len(text.lstrip())
    right = len(text.rstrip())
    return Span(span.start + left, span.start + right)


def classify_block(text: str) -> str | None:
    """Why a block is not article prose, or None when it is."""
    lowered = " ".join(text.lower().split())
    words = len(_WORD.findall(lowered))
    if _junk_share(text) > MAX_JUNK_SHARE:
        return "junk"
    if lowered.startswith(BOILERPLATE_PREFIXES):
        return "boilerplate"
    if words <= PROMO_MAX_WORDS and any(p in lowered for p in PROMO_PHRASES):
        return "promo"
    if words <= HEADING_MAX_WORDS and not lowered.endswith(_TERMINAL):
        return "heading"
    return None


def _segment_block(source: str, block: Span) -> list[Sentence]:
    """pysbd segments; offsets are found by searching forward in the block, because the
    segmenter returns strings, and we must never guess where they came from."""
    # pysbd treats a newline as a boundary; a block's inner newlines are wrapped lines, so
    # hide them. Same length, so offsets found in `text` stay valid for `source`.
    text = source[block.start : block.end].replace("\n", " ")
    out: list[Sentence] = []
    cursor = 0
    for piece in _segmenter().segment(text):
        piece = piece.strip()
        if not piece:
            continue
        at = text.find(piece, cursor)
        if at < 0:  # the segmenter altered the text; skip rather than invent offsets
            continue
        cursor = at + len(piece)
        start = block.start + at
        out.append(Sentence(text=source[start : start + len(piece)], start=start, end=start + len(piece)))
    return out


def is_summary_candidate(sentence: Sentence) -> bool:
    return (
        len(_WORD.findall(sentence.text)) >= MIN_SENTENCE_WORDS
        and _junk_share(sentence.text) <= MAX_JUNK_SHARE
    )


def parse_document(source: str) -> Document:
    """Clean and segment `source`. Offsets of every sentence index `source` itself."""
    sentences: list[Sentence] = []
    dropped: list[DroppedBlock] = []
    for raw in _blocks(source):
        block = _strip(source, raw)
        if block.end <= block.start:
            continue
        reason = classify_block(source[block.start : block.end])
        if reason is not None:
            dropped.append(DroppedBlock(block.start, block.end, reason))
            continue
        sentences.extend(s for s in _segment_block(source, block) if is_summary_candidate(s))
    return Document(source=source, sentences=tuple(sentences), dropped=tuple(dropped))


def words(text: str) -> list[str]:
    """Lower-cased word tokens, shared by lexical features and redundancy control."""
    return _WORD.findall(text.lower())


def split_sentences(source: str) -> list[Sentence]:
    """Every sentence of `source`, unfiltered, with offsets into it: for short generated text
    (a summary), where no block is furniture and no sentence is too short to count."""
    out: list[Sentence] = []
    for raw in _blocks(source):
        block = _strip(source, raw)
        if block.end > block.start:
            out.extend(_segment_block(source, block))
    return out
