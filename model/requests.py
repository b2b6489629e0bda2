"""What a caller asks of the pipeline for one article (model/pipeline.py `OpsLens.analyze_batch`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from opslens.model.options import (
    DEFAULT_FORMAT,
    DEFAULT_LANGUAGE_POLICY,
    DEFAULT_MAX_SENTENCES,
    DEFAULT_MAX_WORDS,
    DEFAULT_MODE,
    DEFAULT_POLICY,
    Format,
    LanguagePolicy,
    Mode,
    Policy,
)


@dataclass(frozen=True, kw_only=True)
class AnalysisRequest:
    """One article to analyze, with what the caller asked for."""

    text: str
    title: str | None = None
    claims: Sequence[str] = field(default_factory=tuple)
    max_sentences: int = DEFAULT_MAX_SENTENCES
    mode: Mode = DEFAULT_MODE
    max_words: int = DEFAULT_MAX_WORDS  # abstractive only
    policy: Policy = DEFAULT_POLICY  # abstractive only: what to do with unsupported spans
    format: Format = DEFAULT_FORMAT  # html: the page's main content is extracted first (model/html.py)
    language_policy: LanguagePolicy = DEFAULT_LANGUAGE_POLICY  # a text not in English: warn or refuse

    @property
    def claim_texts(self) -> list[str]:
        """The title (when given) and the claims: what gets a stance."""
        return ([self.title] if self.title else []) + list(self.claims)
