"""The chat prompt of the abstractive summarizer: one definition for training and inference,
so the fine-tuned adapter always sees the prompt it was trained on."""

from __future__ import annotations

from dataclasses import dataclass

from transformers import PreTrainedTokenizerBase

from opslens.model.options import MAX_WORDS, MIN_WORDS

PROMPT_VERSION = 1
SYSTEM = "You are a careful news editor. You write short, factual summaries."
INSTRUCTION = (
    "Summarize the article below in at most {max_words} words, in two or three sentences. "
    "Use only names, numbers and dates that appear in the article."
)


@dataclass(frozen=True, slots=True)
class Prompt:
    input_ids: list[int]
    article_tokens: int  # tokens of the article kept in the prompt
    truncated: bool  # the article was cut to fit the token budget


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


def build_prompt(
    tokenizer: PreTrainedTokenizerBase, article: str, *, max_words: int, article_tokens: int
) -> Prompt:
    """Chat-template token ids ending with the assistant turn's opening, ready to generate."""
    if not article.strip():
        raise ValueError("article is empty")
    if not MIN_WORDS <= max_words <= MAX_WORDS:
        raise ValueError(f"max_words must be between {MIN_WORDS} and {MAX_WORDS}, got {max_words}")
    text, kept, truncated = fit_article(tokenizer, " ".join(article.split()), article_tokens)
    messages = [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": INSTRUCTION.format(max_words=max_words) + "\n\nArticle:\n" + text},
    ]
    ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True)
    if isinstance(ids, dict) or hasattr(ids, "input_ids"):  # some versions return a BatchEncoding
        ids = ids["input_ids"]
    return Prompt(input_ids=list(ids), article_tokens=kept, truncated=truncated)


def length_bucket(summary: str, step: int = 10) -> int:
    """The max_words a training example asks for: its reference length rounded up to `step`,
    so the model learns to honour the number it is given."""
    n = len(summary.split())
    return min(MAX_WORDS, max(MIN_WORDS, -(-n // step) * step))
