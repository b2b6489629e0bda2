"""What loading the optional models on demand costs and saves: one real server per setting of
OPSLENS_ABSTRACTIVE and OPSLENS_VERIFIER (both set alike), side by side in one run.

    python -m opslens.eval.on_demand_bench [--loadings off,auto,on] [--requests 10] [--out FILE]

For each setting: seconds to /ready and RSS at ready; the first request with a title (extractive:
with `auto` it waits for the claim verifier) and then the first abstractive one (it waits for the
generator), each with the load it waited for (`timings_ms.load_ms`); the median of the next
--requests abstractive requests (the steady state); RSS after them. Ratios are to `on` (both
loaded at start-up). Servers start one after another, so their loads do not overlap; the example
article is the request (max_words 60), with a title.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from opslens.eval.loadgen import EXAMPLE, markdown_table, start_server
from opslens.model.options import LOADINGS, Loading

TITLE = "Russia presses offensive in eastern Ukraine"
COLUMNS = [
    "loading",
    "ready_s",
    "rss_ready_mb",
    "first_title_ms",
    "title_load_ms",
    "first_abstractive_ms",
    "abstractive_load_ms",
    "steady_p50_ms",
    "rss_after_mb",
    "rss_ready_ratio",
    "steady_ratio",
]
RATIOS = (("rss_ready_mb", "rss_ready_ratio"), ("steady_p50_ms", "steady_ratio"))


def _post(url: str, text: str, mode: str) -> tuple[float, dict[str, Any]]:
    start = time.perf_counter()
    body = {"text": text, "title": TITLE, "mode": mode, "max_words": 60}
    r = httpx.post(f"{url}/summarize", json=body, timeout=300)
    r.raise_for_status()
    return (time.perf_counter() - start) * 1000, r.json()


def measure(loading: Loading, text: str, requests: int, threads: int | None) -> dict[str, Any]:
    env = {"OPSLENS_ABSTRACTIVE": loading, "OPSLENS_VERIFIER": loading}
    with start_server({**env, **({"OPSLENS_THREADS": str(threads)} if threads else {})}) as server:
        row: dict[str, Any] = {
            "loading": loading,
            "ready_s": round(server.ready_s, 1),
            "rss_ready_mb": server.memory_mb()["rss_mb"],
        }
        title_ms, titled = _post(server.url, text, "extractive")
        row |= {"first_title_ms": round(title_ms), "title_load_ms": round(titled["timings_ms"]["load_ms"])}
        if loading == "off":
            return row
        first_ms, first = _post(server.url, text, "abstractive")
        steady = [_post(server.url, text, "abstractive")[0] for _ in range(requests)]
        row |= {
            "first_abstractive_ms": round(first_ms),
            "abstractive_load_ms": round(first["timings_ms"]["load_ms"]),
            "steady_p50_ms": round(statistics.median(steady)),
            "rss_after_mb": server.memory_mb()["rss_mb"],
        }
        return row


def with_ratios(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    base = next((r for r in rows if r["loading"] == "on"), None)
    if base is None:
        return rows
    for row in rows:
        for key, ratio in RATIOS:
            if row.get(key) is not None:
                row[ratio] = round(row[key] / base[key], 2)
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--loadings", default="off,auto,on", help=f"comma-separated, of {', '.join(LOADINGS)}")
    p.add_argument("--requests", type=int, default=10, help="abstractive requests after the first")
    p.add_argument("--threads", type=int, help="OPSLENS_THREADS for the servers (default: all cores)")
    p.add_argument("--text-file", type=Path, default=EXAMPLE)
    p.add_argument("--out", type=Path, help="write the rows as JSON")
    args = p.parse_args(argv)
    loadings = [s.strip() for s in args.loadings.split(",") if s.strip()]
    if unknown := [s for s in loadings if s not in LOADINGS]:
        p.error(f"unknown loading {unknown[0]!r}; expected {', '.join(LOADINGS)}")
    if args.requests < 1:
        p.error("--requests must be at least 1")
    text = args.text_file.read_text(encoding="utf-8")
    rows = with_ratios([measure(s, text, args.requests, args.threads) for s in loadings])  # type: ignore[arg-type]
    print(markdown_table(rows, COLUMNS))
    if args.out:
        args.out.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
