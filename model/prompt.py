"""The chat prompt of the abstractive summarizer: one definition for training and inference,
so the fine-tuned adapter always sees the prompt it was trained on.

Two versions, recorded in every adapter's config:
- v1: the article's first `article_tokens` tokens (what 1.0–1.3 adapters were trained on);
- v2 (extract, then write): the title, when there is one, and the extractive model's
  best-scored sentences within `article_tokens` tokens, quoted in article order. The whole
  article is covered, the prompt is shorter, and every fact the generator may use is in it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from transformers import PreTrainedTokenizerBase

from opslens.model.options import DEFAULT_MAX_WORDS, MAX_WORDS, MIN_WORDS
from opslens.model.text import split_sentences

PROMPT_VERSION = 2  # what new adapters and the zero-shot base are prompted with
PROMPT_VERSIONS = (1, 2)
SYSTEM = "You are a careful news editor. You write short, factual summaries."
INSTRUCTION = (
    "Summarize the article below in at most {max_words} words, in two or three sentences. "
    "Use only names, numbers and dates that appear in the article."
)
INSTRUCTION_V2 = (
    "Below are the key sentences of a news article. Summarize the article in at most {max_words} "
    "words, in two or three sentences. Use only names, numbers and dates that appear below."
)


@dataclass(frozen=True, slots=True)
class Source:
    """What the generator summarizes: the article's sentences in order, the extractive model's
    score of each (None: read them in article order) and the title, when there is one."""

    sentences: tuple[str, ...]
    scores: tuple[float, ...] | None = None
    title: str | None = None

    def __post_init__(self) -> None:
        if self.scores is not None and len(self.scores) != len(self.sentences):
            raise ValueError(f"{len(self.scores)} scores for {len(self.sentences)} sentences")

    @classmethod
    def of(cls, article: str, title: str | None = None) -> Source:
        """An article given as text, unscored (v2 then quotes its lead)."""
        return cls(tuple(s.text for s in split_sentences(article)), None, title)

    @property
    def text(self) -> str:
        return " ".join(" ".join(s.split()) for s in self.sentences)

    def lower(self) -> Source:
        title = self.title.lower() if self.title else self.title
        return Source(tuple(s.lower() for s in self.sentences), self.scores, title)


@dataclass(frozen=True, slots=True)
class Prompt:
    input_ids: list[int]
    article_tokens: int  # tokens of the article kept in the prompt
    truncated: bool  # part of the article is not in the prompt


def fit_article(tokenizer: PreTrainedTokenizerBase, article: str, budget: int) -> tuple[str, int, bool]:
    """The longest prefix of `article` within `budget` tokens, cut at a token boundary of the
    original text (offsets, not a decode, so the prompt quotes the article exactly)."""
    if budget < 1:
        raise ValueError(f"article token budget must be positive, got {budget}")
    enc = tokenizer(article, add_special_tokens=False, return_offsets_mapping=True)
    n = len(enc["input_ids"])
    if n <= budget:
        return article, n, False
    end = enc["offset_mapping"][budget - 1][1]
    return article[:end], budget, True


def select_extract(
    tokenizer: PreTrainedTokenizerBase, sentences: Sequence[str], scores: Sequence[float] | None, budget: int
) -> tuple[str, int]:
    """The sentences v2 quotes, best-scored first while they fit in `budget` tokens (one that
    does not fit is passed over for shorter ones), joined in article order; unscored, the lead.
    When not even the best one fits, its first `budget` tokens. Returns (text, tokens)."""
    text, kept, _ = _extract(tokenizer, sentences, scores, budget)
    return text, kept


def _extract(
    tokenizer: PreTrainedTokenizerBase, sentences: Sequence[str], scores: Sequence[float] | None, budget: int
) -> tuple[str, int, bool]:
    """`select_extract`, plus whether a sentence was left out or cut (from the per-sentence
    lengths it already has: the article is not tokenized a second time)."""
    if budget < 1:
        raise ValueError(f"article token budget must be positive, got {budget}")
    texts = [" ".join(s.split()) for s in sentences]
    lengths = [len(ids) for ids in tokenizer(texts, add_special_tokens=False)["input_ids"]] if texts else []
    order = sorted(range(len(texts)), key=lambda i: (-scores[i], i)) if scores else range(len(texts))
    chosen, used = [], 0
    for i in order:
        if lengths[i] and used + lengths[i] <= budget:
            chosen.append(i)
            used += lengths[i]
    if not chosen:
        best = next((i for i in order if lengths[i]), None)
        if best is None:
            return "", 0, False
        text, n, _ = fit_article(tokenizer, texts[best], budget)
        return text, n, True
    left_out = sum(1 for n in lengths if n) > len(chosen)
    return " ".join(texts[i] for i in sorted(chosen)), used, left_out


def _article_text(
    tokenizer: PreTrainedTokenizerBase, source: Source, budget: int, version: int
) -> tuple[str, int, bool]:
    if version == 1:
        return fit_article(tokenizer, source.text, budget)
    return _extract(tokenizer, source.sentences, source.scores, budget)


def build_prompt(
    tokenizer: PreTrainedTokenizerBase,
    source: Source | str,
    *,
    max_words: int,
    article_tokens: int,
    version: int = PROMPT_VERSION,
) -> Prompt:
    """Chat-template token ids ending with the assistant turn's opening, ready to generate."""
    if isinstance(source, str):
        source = Source.of(source)
    if not source.text.strip():
        raise ValueError("article is empty")
    if not MIN_WORDS <= max_words <= MAX_WORDS:
        raise ValueError(f"max_words must be between {MIN_WORDS} and {MAX_WORDS}, got {max_words}")
    if version not in PROMPT_VERSIONS:
        raise ValueError(f"unknown prompt version {version}; this code writes {PROMPT_VERSIONS}")
    text, kept, truncated = _article_text(tokenizer, source, article_tokens, version)
    if version == 1:
        user = INSTRUCTION.format(max_words=max_words) + "\n\nArticle:\n" + text
    else:
        title = " ".join((source.title or "").split())
        title = f"Title: {title}\n\n" if title else ""
        user = INSTRUCTION_V2.format(max_words=max_words) + "\n\n" + title + "Key sentences:\n" + text
    messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]
    ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True)
    if isinstance(ids, dict) or hasattr(ids, "input_ids"):  # some versions return a BatchEncoding
        ids = ids["input_ids"]
    return Prompt(input_ids=list(ids), article_tokens=kept, truncated=truncated)


def template_head(
    tokenizer: PreTrainedTokenizerBase, version: int = PROMPT_VERSION, max_words: int = DEFAULT_MAX_WORDS
) -> int:
    """How many leading tokens the prompts of `version` at `max_words` share, whatever their
    article and title: the chat template and the instruction."""
    a, b = (
        build_prompt(tokenizer, source, max_words=max_words, article_tokens=8, version=version).input_ids
        for source in (Source(("a.",), title="x"), Source(("b.",)))
    )
    return shared_prefix(a, b)


def shared_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    """How many leading tokens `a` and `b` have in common."""
    return next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))


def length_bucket(summary: str, step: int = 10) -> int:
    """The max_words a training example asks for: its reference length rounded up to `step`,
    so the model learns to honour the number it is given."""
    n = len(summary.split())
    return min(MAX_WORDS, max(MIN_WORDS, -(-n // step) * step))
