"""Serving benchmark: the real server on loopback, once per encoder backend, same run.

    python -m opslens.eval.bench [--backends torch,onnx] [--requests 50] [--clients 16] [--duration 20]

For each backend it starts `opslens serve`, warms it up, then measures (1) single requests one
after another (latency a lone user sees) and (2) a closed loop of concurrent clients
(throughput under load, where micro-batching groups requests). It prints a markdown table a
user can paste into an issue, with each figure's ratio to the first backend (the torch
reference), and writes the same figures as JSON with --out.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
from typing import Any

from opslens.eval.loadgen import add_payload_arguments, drive, markdown_table, payload_from_args, start_server
from opslens.model.options import BACKENDS
from opslens.model.text import words

COLUMNS = [
    "backend",
    "phase",
    "clients",
    "requests",
    "ok",
    "errors",
    "p50_ms",
    "p95_ms",
    "p99_ms",
    "articles_per_s",
    "peak_rss_mb",
    "x_p50",
    "x_articles_per_s",
]


async def measure(url: str, payload: dict[str, Any], args: argparse.Namespace) -> list[dict[str, Any]]:
    await drive(url, "/summarize", payload, clients=1, requests=args.warmup)
    single = await drive(url, "/summarize", payload, clients=1, requests=args.requests)
    loaded = await drive(
        url, "/summarize", payload, clients=args.clients, duration_s=args.duration, requests=args.max_requests
    )
    return [{"phase": "single", **single.summary()}, {"phase": "concurrent", **loaded.summary()}]


def add_ratios(rows: list[dict[str, Any]]) -> None:
    """Each row against the first backend's row of the same phase (>1 = better)."""
    reference = {r["phase"]: r for r in rows if r["backend"] == rows[0]["backend"]}
    for row in rows:
        ref = reference[row["phase"]]
        if row["p50_ms"] and ref["p50_ms"]:
            row["x_p50"] = round(ref["p50_ms"] / row["p50_ms"], 2)
        if row["articles_per_s"] and ref["articles_per_s"]:
            row["x_articles_per_s"] = round(row["articles_per_s"] / ref["articles_per_s"], 2)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m opslens.eval.bench", description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--backends", default=",".join(BACKENDS), help="comma-separated; the first is the reference"
    )
    p.add_argument("--requests", type=int, default=50, help="single-request phase: requests sent")
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--clients", type=int, default=16, help="concurrent phase: clients")
    p.add_argument("--duration", type=float, default=20.0, help="concurrent phase: seconds")
    p.add_argument("--max-requests", type=int, default=20_000, help="concurrent phase: request cap")
    p.add_argument("--threads", type=int, help="OPSLENS_THREADS for the server (default: all cores)")
    add_payload_arguments(p)
    args = p.parse_args(argv)

    payload = payload_from_args(args)
    rows: list[dict[str, Any]] = []
    for backend in [b.strip() for b in args.backends.split(",") if b.strip()]:
        env = {"OPSLENS_ENCODER_BACKEND": backend, "OPSLENS_LOG_LEVEL": "warning"}
        if args.threads:
            env["OPSLENS_THREADS"] = str(args.threads)
        print(f"[bench] {backend}: starting server", file=sys.stderr)
        with start_server(env) as server:
            measured = asyncio.run(measure(server.url, payload, args))
            memory = server.memory_mb()
        for row in measured:
            rows.append({"backend": backend, **row, **memory, "ready_s": server.ready_s})
    add_ratios(rows)

    print(
        f"\nOpsLens serving benchmark: POST /summarize ({payload['mode']}), "
        f"{len(words(payload['text']))}-word article + title "
        f"stance, {os.cpu_count()} CPU cores ({platform.processor() or platform.machine()}), "
        f"{args.requests} single requests, {args.clients} clients for {args.duration:g} s. "
        f"x_ = ratio to {rows[0]['backend']} (>1 is better).\n"
    )
    print(markdown_table(rows, COLUMNS))
    if args.out:
        args.out.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
