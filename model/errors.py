"""The errors the inference API raises on a caller's input or a missing component. The pipeline
re-exports them; the API maps them to HTTP status codes."""

from __future__ import annotations

from opslens.model.results import Language
from opslens.model.text import Document


class ArticleError(ValueError):
    """The article text (the request's `text`) cannot be read as an article; `kind` names why,
    the same word in API errors and batch error records."""

    kind = "invalid_article"


class NoSentencesError(ArticleError):
    """The text holds no article sentence to summarise."""

    kind = "no_sentences"

    @classmethod
    def of(cls, doc: Document, item: int | None = None) -> NoSentencesError:
        where = f"item {item}: " if item is not None else ""
        return cls(
            f"{where}text contains no article sentence (need a sentence of at least 4 words; "
            f"{len(doc.dropped)} block(s) were ignored as headings, boilerplate or unreadable data)"
        )


class AbstractiveUnavailableError(RuntimeError):
    """Abstractive mode was asked for but no generator is loaded."""


class VerifierUnavailableError(RuntimeError):
    """Verification was asked for but no claim verifier is loaded."""


class HtmlError(ArticleError):
    """An HTML page (format "html") that yields no article to read."""


class UnreadableHtmlError(HtmlError):
    """The input cannot be parsed as an HTML document at all."""

    kind = "unreadable_html"


class NoArticleError(HtmlError):
    """The page parses, but the extractor finds no main content in it (only navigation, banners,
    link lists, or nothing)."""

    kind = "no_article"


class ExtractedTextTooLongError(HtmlError):
    """The text extracted from a page is longer than the pipeline's `max_text_chars`."""

    kind = "text_too_long"


class NotEnglishError(ValueError):
    """The text is not in English and the language policy is `reject` (the models know English only)."""

    def __init__(self, language: Language, item: int = 0, *, several: bool = False) -> None:
        where = f"item {item}: " if several else ""
        super().__init__(
            f"{where}text is in {language.name or language.code} ({language.code}, confidence "
            f"{language.confidence:.2f}), not English; this server refuses texts not in English "
            "(language policy 'reject'): its models were trained on English news only"
        )
        self.language = language
        self.item = item
