"""Shared by the page tests: what they type, and how they read the page back.

The `browser` and `page` fixtures live in conftest.py; tests import these helpers by module
name (pytest's `pythonpath` puts tests/ on the path).
"""

from __future__ import annotations

import io
import shutil
from decimal import ROUND_HALF_UP, Decimal

import httpx
import numpy as np
from PIL import Image
from playwright.sync_api import Page

CHROMIUM = shutil.which("chromium")
TITLE = "Russia presses offensive in east"
CLAIM = "Ukraine says Russia has suffered heavy losses around Bakhmut."
# Markup that would run, or at least become elements, if the page ever used innerHTML; and
# astral characters (emoji, a flag, a ZWJ family, a math letter) before and inside sentences,
# so code-point offsets and UTF-16 indices differ.
HOSTILE = (
    '<img src=x onerror="window.__pwned = 1"><script>window.__pwned = 2</script> 🇺🇦😀 Officials in Kyiv '
    "said the bridge over the river was destroyed overnight by a missile strike.\n\n"
    "👩‍👩‍👧 The army said repairs to the 𝔘-shaped bridge would take three weeks, officials added.\n\n"
    "<b>Bold</b> claims about the front were denied by the ministry on Sunday evening, a spokesman said."
)


def analyze(page: Page, text: str, title: str = "", claims: str = "", max_sentences: int = 3) -> None:
    page.fill("#text", text)
    page.fill("#title", title)
    page.fill("#claims", claims)
    page.fill("#max-sentences", str(max_sentences))
    page.click("#submit")


def expected(live_server: str, page: Page, **fields: object) -> dict:
    """What the API says for exactly the text the page sent (a textarea normalises newlines)."""
    body = {"text": page.input_value("#text"), **fields}
    r = httpx.post(f"{live_server}/summarize", json=body, timeout=60)
    assert r.status_code == 200, r.text
    return r.json()


def pct(p: float) -> str:
    """A probability as the page writes it: JavaScript's toFixed(1) rounds a tie (0.6825 -> 68.25)
    up, where Python's format rounds it to even."""
    return f"{Decimal(100 * p).quantize(Decimal('0.1'), rounding=ROUND_HALF_UP)}%"


def highlighted(page: Page, kind: str, span_id: str) -> str:
    return "".join(page.locator(f'#article mark[data-{kind}~="{span_id}"]').all_text_contents())


def pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.int16)
