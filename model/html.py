"""HTML in: a saved web page (a news article, a feed item) turned into the article's plain text
and title, before the usual cleaning and sentence split.

trafilatura (favouring precision: a stray menu line is worse in a summary than a lost caption)
finds the main content and leaves out navigation, cookie banners, captions, share buttons and
"Related" link lists; eval/html_extraction.py measures it against readability-lxml,
resiliparse and jusText on 181 real news pages (README, "HTML in"). Comments under the article
are left out too: they are not the article.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol, TypeVar

import trafilatura

from opslens.model.errors import ExtractedTextTooLongError, HtmlError, NoArticleError, UnreadableHtmlError
from opslens.model.options import Format

# trafilatura logs a page it cannot use at ERROR/WARNING; here that is the caller's input,
# answered with a typed error, not a fault of the service.
logging.getLogger("trafilatura").setLevel(logging.CRITICAL)


FURNITURE = ["//nav", "//footer", "//*[@role='navigation']"]
"""Removed before extraction: a page of menus alone then has no article (trafilatura would fall
back to the menu text); on the benchmark the scores are the same with and without (README)."""


@dataclass(frozen=True)
class Page:
    text: str
    """The article's main content as plain text, one paragraph per line."""
    title: str | None
    """The page's headline (its og:title, JSON-LD headline, <h1> or <title>), when it has one."""


def extract_page(html: str) -> Page:
    """The article in `html`; raises UnreadableHtmlError when it does not parse as HTML, and
    NoArticleError when it holds no main content."""
    tree = trafilatura.load_html(html)
    if tree is None:
        # A feed item's content is a fragment ("<p>..</p>"), which trafilatura takes for "not
        # HTML" unless it is wrapped in a document.
        tree = trafilatura.load_html(f"<html><body>{html}</body></html>")
    if tree is None:
        raise UnreadableHtmlError("text: cannot be parsed as an HTML document (format is 'html')")
    doc = trafilatura.bare_extraction(
        tree, favor_precision=True, include_comments=False, with_metadata=True, prune_xpath=FURNITURE
    )
    text = (doc.text or "").strip() if doc is not None else ""
    if not text:
        raise NoArticleError(
            "text: the HTML page holds no article content (only navigation, banners, link lists or "
            "markup; format is 'html')"
        )
    title = " ".join(doc.title.split()) if doc is not None and doc.title else None
    return Page(text=text, title=title or None)


class _Article(Protocol):
    text: str
    format: Format


A = TypeVar("A", bound=_Article)


def read_pages(items: Sequence[_Article], max_chars: int | None = None) -> list[Page | None]:
    """The page of each item whose format is html (None for plain text). In a batch, errors name
    the item; an extracted text over `max_chars` raises ExtractedTextTooLongError."""
    pages: list[Page | None] = []
    for n, item in enumerate(items):
        if item.format != "html":
            pages.append(None)
            continue
        where = f"item {n}: " if len(items) > 1 else ""
        try:
            page = extract_page(item.text)
        except HtmlError as exc:
            raise type(exc)(f"{where}{exc}") from None
        if max_chars is not None and len(page.text) > max_chars:
            raise ExtractedTextTooLongError(
                f"{where}text: the article extracted from the HTML is {len(page.text)} characters, over "
                f"the limit of {max_chars} (max_text_chars)"
            )
        pages.append(page)
    return pages


def as_text(item: A, page: Page | None) -> A:
    """The request (a dataclass) to read as plain text: the page's article as its `text`, and the
    page's title as its `title` when it has that field and the caller gave none."""
    if page is None:
        return item
    changes: dict[str, Any] = {"text": page.text}
    if getattr(item, "title", "") is None:
        changes["title"] = page.title
    return replace(item, **changes)  # type: ignore[type-var]
