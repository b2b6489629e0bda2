"""The analyst page shows the result's warnings: an article not in English is answered (the
default `warn` policy) with a warning above the result, in headless Chromium against the real server."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect
from test_language import CLAIM, GERMAN, RUSSIAN
from webpage import analyze


@pytest.mark.slow
def test_page_shows_the_language_warning(page: Page, example_text: str) -> None:
    analyze(page, GERMAN, "Neues Hilfspaket für die Ukraine", CLAIM)
    expect(page.locator("#status")).to_contain_text("Done", timeout=60_000)
    warnings = page.locator("#result-warnings li")
    expect(warnings).to_have_count(1)
    assert warnings.get_attribute("data-code") == "not_english"
    text = warnings.text_content() or ""
    assert "German (de)" in text and "trained on English" in text
    expect(page.locator("#meta")).to_contain_text("language German (de,")
    # The warning stands above the summary, where it is read before the figures.
    top = page.locator("#result-warnings").bounding_box()
    summary = page.locator("#summary").bounding_box()
    assert top and summary and top["y"] < summary["y"]

    # An English article after it: the warning is gone.
    analyze(page, example_text)
    expect(page.locator("#status")).to_contain_text("Done", timeout=60_000)
    expect(page.locator("#result-warnings")).to_be_hidden()
    expect(page.locator("#meta")).to_contain_text("language English (en,")

    # Checking a summary shows the same warning for an article not in English.
    page.check("#task-verify")
    page.fill("#text", RUSSIAN)
    page.fill("#claims", CLAIM)
    page.click("#submit")
    expect(page.locator("#status")).to_contain_text("Done", timeout=60_000)
    expect(page.locator("#result-warnings li")).to_contain_text("Russian (ru)")
