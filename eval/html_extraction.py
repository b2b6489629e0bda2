"""Main-content extractors compared on a news-page benchmark with hand-made ground truth.

    python -m opslens.eval.html_extraction PATH [--only NAME ...]

PATH is a checkout of scrapinghub/article-extraction-benchmark (MIT): `html/*.html.gz` (181
news and blog pages as fetched, menus, banners and all) and `ground-truth.json` (each page's
article body, typed out by people). Each extractor turns each page into plain text; the text is
scored against the ground truth the benchmark's way: per page, precision and recall over
tokens (`\\w+`) and over 4-token shingles (the benchmark's own metric, comparable to its
published table), averaged over pages, F1 from the averages. `ms/page` is the wall time of the
extraction alone, one page after another on one core.

`opslens` is what OpsLens ships (`opslens.model.html.extract_page`: trafilatura with the
settings chosen here, plus the page title); the others need only be installed to be measured
(`pip install readability-lxml resiliparse`); a missing one is reported and skipped.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import statistics
import time
from collections import Counter
from collections.abc import Callable, Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

Extractor = Callable[[str], str]
TOKEN = re.compile(r"\w+")


def _trafilatura(**options: bool) -> Extractor:
    import trafilatura

    def extract(html: str) -> str:
        return trafilatura.extract(html, include_comments=False, **options) or ""

    return extract


def _opslens() -> Extractor:
    from opslens.model.errors import HtmlError
    from opslens.model.html import extract_page

    def extract(html: str) -> str:
        try:
            return extract_page(html).text
        except HtmlError:
            return ""

    return extract


def _readability() -> Extractor:
    import lxml.html
    from readability import Document

    def extract(html: str) -> str:
        summary = Document(html).summary(html_partial=True)
        return " ".join(lxml.html.fromstring(summary).itertext()) if summary.strip() else ""

    return extract


def _resiliparse() -> Extractor:
    from resiliparse.extract.html2text import extract_plain_text

    def extract(html: str) -> str:
        return extract_plain_text(html, main_content=True)

    return extract


def _justext() -> Extractor:
    import justext

    stoplist = justext.get_stoplist("English")

    def extract(html: str) -> str:
        return "\n".join(p.text for p in justext.justext(html, stoplist) if not p.is_boilerplate)

    return extract


EXTRACTORS: dict[str, tuple[str, Callable[[], Extractor]]] = {
    # name: (the distribution whose version is reported, factory)
    "opslens": ("trafilatura", _opslens),
    "trafilatura": ("trafilatura", _trafilatura),
    "trafilatura-precision": ("trafilatura", lambda: _trafilatura(favor_precision=True)),
    "trafilatura-recall": ("trafilatura", lambda: _trafilatura(favor_recall=True)),
    "readability-lxml": ("readability-lxml", _readability),
    "resiliparse": ("resiliparse", _resiliparse),
    "justext": ("justext", _justext),
}


def _grams(text: str, n: int) -> Counter[tuple[str, ...]]:
    tokens = TOKEN.findall(text)
    return Counter(tuple(tokens[i : i + n]) for i in range(max(1, len(tokens) - n + 1)) if tokens)


def overlap(true: str, pred: str, n: int) -> tuple[float, float]:
    """Precision and recall of `pred`'s n-grams against `true`'s (counts clipped), as the
    benchmark's evaluate.py scores a page (both 1.0 when both are empty)."""
    t, p = _grams(true, n), _grams(pred, n)
    tp = sum((t & p).values())
    fp, fn = sum(p.values()) - tp, sum(t.values()) - tp
    precision = 1.0 if fp == fn == 0 else (tp / (tp + fp) if tp + fp else 0.0)
    recall = 1.0 if fp == fn == 0 else (tp / (tp + fn) if tp + fn else 0.0)
    return precision, recall


def _f1(p: float, r: float) -> float:
    return 2 * p * r / (p + r) if p + r else 0.0


def load_pages(root: Path) -> list[tuple[str, str, str]]:
    """(id, html, ground-truth body) for every page of the benchmark at `root`."""
    truth = json.loads((root / "ground-truth.json").read_text(encoding="utf-8"))
    pages = []
    for key, item in sorted(truth.items()):
        with gzip.open(root / "html" / f"{key}.html.gz", "rt", encoding="utf-8") as f:
            pages.append((key, f.read(), item.get("articleBody") or ""))
    return pages


def score(extract: Extractor, pages: Sequence[tuple[str, str, str]]) -> dict[str, float]:
    extract(pages[0][1])  # warm-up (lazy imports, caches), so that the first page is not timed cold
    per_page: dict[str, list[float]] = {k: [] for k in ("tp", "tr", "sp", "sr", "ms")}
    empty = 0
    for _, html, true in pages:
        t0 = time.perf_counter()
        pred = extract(html)
        per_page["ms"].append((time.perf_counter() - t0) * 1000)
        empty += not pred.strip()
        for n, (kp, kr) in ((1, ("tp", "tr")), (4, ("sp", "sr"))):
            p, r = overlap(true, pred, n)
            per_page[kp].append(p)
            per_page[kr].append(r)
    mean = {k: statistics.fmean(v) for k, v in per_page.items()}
    ms = sorted(per_page["ms"])
    return {
        "token_p": mean["tp"],
        "token_r": mean["tr"],
        "token_f1": _f1(mean["tp"], mean["tr"]),
        "shingle_f1": _f1(mean["sp"], mean["sr"]),
        "ms_mean": mean["ms"],
        "ms_p95": ms[int(0.95 * (len(ms) - 1))],
        "empty": empty,
    }


def _version(dist: str) -> str:
    try:
        return version(dist)
    except PackageNotFoundError:
        return "-"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("benchmark", type=Path, help="checkout of scrapinghub/article-extraction-benchmark")
    ap.add_argument("--only", nargs="+", choices=list(EXTRACTORS), help="extractors to run (default: all)")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args(argv)
    pages = load_pages(args.benchmark)
    print(f"{len(pages)} pages from {args.benchmark}")
    header = f"{'extractor':<22} {'version':<9} {'token P':>8} {'token R':>8} {'token F1':>9} "
    print(header + f"{'4-gram F1':>10} {'ms/page':>8} {'p95 ms':>7} {'empty':>6}")
    results = {}
    for name in args.only or EXTRACTORS:
        dist, factory = EXTRACTORS[name]
        try:
            extract = factory()
        except ImportError as exc:
            print(f"{name:<22} skipped: {exc}")
            continue
        m = results[name] = {"version": _version(dist), **score(extract, pages)}
        print(
            f"{name:<22} {m['version']:<9} {m['token_p']:>8.3f} {m['token_r']:>8.3f} {m['token_f1']:>9.3f} "
            f"{m['shingle_f1']:>10.3f} {m['ms_mean']:>8.1f} {m['ms_p95']:>7.1f} {m['empty']:>6d}"
        )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
