"""Serving benchmark: the real server on loopback, once per configuration, same run.

    python -m opslens.eval.bench [--backends torch,onnx] [--requests 50] [--clients 16] [--duration 20]
    python -m opslens.eval.bench --backends torch --verifier both --claims 3 \
        --endpoints summarize,verify --duration 0        # today's model beside the claim verifier

A configuration is an encoder backend and the claim verifier on or off (OPSLENS_VERIFIER; off
serves the artifact as it was before the verifier). For each it starts `opslens serve`, reads
its memory once warmed up, and for each endpoint measures (1) single requests one after
another (latency a lone user sees, with the median of the server's own `timings_ms` parts, so
the verifier's share shows) and (2) unless --duration is 0, a closed loop of concurrent clients
(throughput under load, where micro-batching groups requests). /summarize sends the example
article with a title and --claims example claims; /verify a three-sentence summary of it (not
sent with the verifier off, which refuses it). It prints a markdown table a user can paste into
an issue, each figure's ratio to the first configuration's, and writes the rows as JSON with --out.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
from typing import Any

from opslens.eval.loadgen import (
    ENDPOINTS,
    add_payload_arguments,
    drive,
    markdown_table,
    payload_from_args,
    start_server,
    verify_payload_from_args,
)
from opslens.model.options import BACKENDS
from opslens.model.text import words

COLUMNS = [
    "backend",
    "verifier",
    "endpoint",
    "phase",
    "clients",
    "requests",
    "ok",
    "errors",
    "p50_ms",
    "p95_ms",
    "p99_ms",
    "articles_per_s",
    "server_verify_ms",
    "verify_share",
    "ready_rss_mb",
    "peak_rss_mb",
    "x_p50",
    "x_articles_per_s",
]
VERIFIER_STATES = {"on": ("on",), "off": ("off",), "both": ("off", "on")}


def _server_parts(summary: dict[str, Any]) -> dict[str, Any]:
    """The verifier's median time in the server's `timings_ms` and its share of the total."""
    parts = summary.get("server_timings_p50_ms") or {}
    verify, total = parts.get("verify_ms"), parts.get("total_ms")
    if verify is None or not total:
        return {}
    return {"server_verify_ms": verify, "verify_share": round(verify / total, 3)}


async def measure(
    url: str, payloads: dict[str, dict[str, Any]], args: argparse.Namespace
) -> list[dict[str, Any]]:
    rows = []
    for endpoint, payload in payloads.items():
        path = ENDPOINTS[endpoint]
        await drive(url, path, payload, clients=1, requests=args.warmup)
        single = (
            await drive(url, path, payload, clients=1, requests=args.requests, collect_timings=True)
        ).summary()
        rows.append({"endpoint": endpoint, "phase": "single", **single, **_server_parts(single)})
        if args.duration > 0:
            loaded = await drive(
                url, path, payload, clients=args.clients, duration_s=args.duration, requests=args.max_requests
            )
            rows.append({"endpoint": endpoint, "phase": "concurrent", **loaded.summary()})
    return rows


def add_ratios(rows: list[dict[str, Any]]) -> None:
    """Each row against the first configuration's row of the same endpoint and phase (>1 = better)."""
    first = (rows[0]["backend"], rows[0]["verifier"])
    reference = {(r["endpoint"], r["phase"]): r for r in rows if (r["backend"], r["verifier"]) == first}
    for row in rows:
        ref = reference.get((row["endpoint"], row["phase"]))
        if ref is None:
            continue
        if row["p50_ms"] and ref["p50_ms"]:
            row["x_p50"] = round(ref["p50_ms"] / row["p50_ms"], 2)
        if row["articles_per_s"] and ref["articles_per_s"]:
            row["x_articles_per_s"] = round(row["articles_per_s"] / ref["articles_per_s"], 2)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m opslens.eval.bench", description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--backends", default=",".join(BACKENDS), help="comma-separated; the first is the reference"
    )
    p.add_argument(
        "--verifier",
        choices=tuple(VERIFIER_STATES),
        default="on",
        help="serve with the claim verifier on, off (today's model), or both side by side (off first)",
    )
    p.add_argument("--endpoints", default="summarize", help=f"comma-separated, of {', '.join(ENDPOINTS)}")
    p.add_argument("--requests", type=int, default=50, help="single-request phase: requests sent")
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--clients", type=int, default=16, help="concurrent phase: clients")
    p.add_argument("--duration", type=float, default=20.0, help="concurrent phase: seconds (0: skip it)")
    p.add_argument("--max-requests", type=int, default=20_000, help="concurrent phase: request cap")
    p.add_argument("--threads", type=int, help="OPSLENS_THREADS for the server (default: all cores)")
    add_payload_arguments(p)
    args = p.parse_args(argv)
    endpoints = [e.strip() for e in args.endpoints.split(",") if e.strip()]
    if not endpoints or set(endpoints) - set(ENDPOINTS):
        p.error(f"--endpoints: choose from {', '.join(ENDPOINTS)}")

    payloads = {"summarize": payload_from_args(args), "verify": verify_payload_from_args(args)}
    rows: list[dict[str, Any]] = []
    for backend in [b.strip() for b in args.backends.split(",") if b.strip()]:
        for verifier in VERIFIER_STATES[args.verifier]:
            env = {
                "OPSLENS_ENCODER_BACKEND": backend,
                "OPSLENS_VERIFIER": "true" if verifier == "on" else "false",
                "OPSLENS_LOG_LEVEL": "warning",
            }
            if args.threads:
                env["OPSLENS_THREADS"] = str(args.threads)
            # With the verifier off, /verify is refused by design: nothing to time.
            asked = {e: payloads[e] for e in endpoints if verifier == "on" or e != "verify"}
            print(f"[bench] {backend}, verifier {verifier}: starting server", file=sys.stderr)
            with start_server(env) as server:
                ready = server.memory_mb()["rss_mb"]
                measured = asyncio.run(measure(server.url, asked, args))
                memory = server.memory_mb()
            for row in measured:
                rows.append(
                    {
                        "backend": backend,
                        "verifier": verifier,
                        **row,
                        "ready_rss_mb": ready,
                        **memory,
                        "ready_s": server.ready_s,
                    }
                )
    add_ratios(rows)

    summarize = payloads["summarize"]
    print(
        f"\nOpsLens serving benchmark: POST /summarize ({summarize['mode']}), "
        f"{len(words(summarize['text']))}-word article + title + {len(summarize.get('claims', []))} claims"
        + (", POST /verify of a summary of it" if "verify" in endpoints else "")
        + f"; {os.cpu_count()} CPU cores ({platform.processor() or platform.machine()}), "
        f"threads {args.threads or 'all'}, {args.requests} single requests"
        + (f", {args.clients} clients for {args.duration:g} s" if args.duration > 0 else "")
        + f". x_ = ratio to {rows[0]['backend']}, verifier {rows[0]['verifier']} (>1 is better); "
        "server_verify_ms and verify_share: the median of the server's own timings_ms.\n"
    )
    print(markdown_table(rows, COLUMNS))
    if args.out:
        args.out.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
