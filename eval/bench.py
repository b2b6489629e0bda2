"""Serving benchmark: the real server on loopback, one per configuration, side by side in one run.

    python -m opslens.eval.bench [--backends torch,onnx] [--requests 50] [--clients 16] [--duration 20]
    python -m opslens.eval.bench --backends torch --verifier both --claims 3 \
        --endpoints summarize,verify --duration 0        # today's model beside the claim verifier
    python -m opslens.eval.bench --backends torch --extractor both --claims 0 --duration 0
                                        # the frozen-vector extractive scorer beside the fine-tuned one
    python -m opslens.eval.bench --backends onnx --endpoints stream --duration 0 --requests 12
                                        # /summarize/stream: time to the first token and to the result

A configuration is an encoder backend, the claim verifier on or off (OPSLENS_VERIFIER; off
serves the artifact as it was before the verifier) and the extractive model (OPSLENS_EXTRACTOR).
It starts `opslens serve` for every configuration at once, reads each one's memory once warmed
up, and for each endpoint measures (1) single requests, one at a time, taking turns across the
servers so that whatever else the machine is doing weighs on every configuration alike (latency
a lone user sees, with the median of the server's own `timings_ms` parts, so the verifier's
share shows), and (2) unless --duration is 0, a closed loop of concurrent clients per server in
turn (throughput under load, where micro-batching groups requests). /summarize sends the example
article with a title and --claims example claims; /verify a three-sentence summary of it (not
sent with the verifier off, which refuses it); /summarize/stream the /summarize body in abstractive
mode, timed to its first `token` event (first_token_*) and to its `result` event. It prints a
markdown table a user can paste into an issue, each figure's ratio to the first configuration's,
and writes the rows as JSON with --out."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import time
from contextlib import ExitStack
from typing import Any

import httpx

from opslens.eval.loadgen import (
    ENDPOINTS,
    LoadResult,
    Server,
    add_payload_arguments,
    drive,
    markdown_table,
    payload_from_args,
    read_stream,
    require_loopback,
    start_server,
    stream_payload_from_args,
    verify_payload_from_args,
)
from opslens.model.options import BACKENDS
from opslens.model.text import split_sentences, words

COLUMNS = [
    "backend",
    "verifier",
    "extractor",
    "endpoint",
    "phase",
    "clients",
    "requests",
    "ok",
    "errors",
    "p50_ms",
    "p95_ms",
    "p99_ms",
    "first_token_p50_ms",
    "first_token_p95_ms",
    "articles_per_s",
    "server_summarize_ms",
    "server_verify_ms",
    "verify_share",
    "ready_rss_mb",
    "peak_rss_mb",
    "x_p50",
    "x_articles_per_s",
]
VERIFIER_STATES = {"on": ("on",), "off": ("off",), "both": ("off", "on")}
EXTRACTOR_STATES = {"finetuned": ("finetuned",), "frozen": ("frozen",), "both": ("frozen", "finetuned")}


def _server_parts(summary: dict[str, Any]) -> dict[str, Any]:
    """The extractive model's and the verifier's median times in the server's `timings_ms`, and
    the verifier's share of the total."""
    parts = summary.get("server_timings_p50_ms") or {}
    verify, total = parts.get("verify_ms"), parts.get("total_ms")
    out = {"server_summarize_ms": parts["summarize_ms"]} if "summarize_ms" in parts else {}
    if verify is None or not total:
        return out
    return {**out, "server_verify_ms": verify, "verify_share": round(verify / total, 3)}


Config = tuple[str, str, str]
"""(encoder backend, verifier on|off, extractor finetuned|frozen)."""


async def single_requests(
    servers: dict[Config, Server], path: str, payload: dict[str, Any], requests: int
) -> dict[Config, LoadResult]:
    """`requests` rounds of one request to each server in turn, one request in flight at a time."""
    for url in (s.url for s in servers.values()):
        require_loopback(url)
    results = {cfg: LoadResult(1, 0.0) for cfg in servers}
    clients = {cfg: httpx.AsyncClient(base_url=s.url, timeout=60.0) for cfg, s in servers.items()}
    try:
        for _ in range(requests):
            for cfg, client in clients.items():
                start = time.perf_counter()
                try:
                    if path == ENDPOINTS["stream"]:
                        await _one_stream(client, path, payload, start, results[cfg])
                        continue
                    r = await client.post(path, json=payload)
                except httpx.HTTPError as exc:
                    results[cfg].statuses[type(exc).__name__] += 1
                    continue
                elapsed = time.perf_counter() - start
                results[cfg].elapsed_s += elapsed
                results[cfg].statuses[r.status_code] += 1
                if r.is_success:
                    results[cfg].latencies_ms.append(elapsed * 1000)
                    results[cfg].timings_ms.append(r.json().get("timings_ms", {}))
    finally:
        for client in clients.values():
            await client.aclose()
    return results


async def _one_stream(
    client: httpx.AsyncClient, path: str, payload: dict[str, Any], start: float, result: LoadResult
) -> None:
    """One /summarize/stream request: its latency is to the `result` event, and the time to the
    first `token` event is kept beside it. An `error` event counts as an error."""
    async with client.stream("POST", path, json=payload) as r:
        if not r.is_success:
            await r.aread()
            result.statuses[r.status_code] += 1
            result.elapsed_s += time.perf_counter() - start
            return
        reading = await read_stream(r.aiter_lines(), start)
    elapsed = time.perf_counter() - start
    result.elapsed_s += elapsed
    if reading.result is None:
        result.statuses["stream_error"] += 1
        return
    result.statuses[r.status_code] += 1
    result.latencies_ms.append(elapsed * 1000)
    result.timings_ms.append(reading.result.get("timings_ms", {}))
    if reading.first_token_s is not None:
        result.first_token_ms.append(reading.first_token_s * 1000)


async def measure(
    servers: dict[Config, Server], payloads: dict[str, dict[str, Any]], args: argparse.Namespace
) -> list[dict[str, Any]]:
    rows = []
    for endpoint, payload in payloads.items():
        path = ENDPOINTS[endpoint]
        # With the verifier off, /verify is refused by design: nothing to time.
        asked = {cfg: s for cfg, s in servers.items() if cfg[1] == "on" or endpoint != "verify"}
        await single_requests(asked, path, payload, args.warmup)
        for cfg, result in (await single_requests(asked, path, payload, args.requests)).items():
            single = result.summary()
            rows.append(
                {"config": cfg, "endpoint": endpoint, "phase": "single", **single, **_server_parts(single)}
            )
        if args.duration > 0:
            for cfg, server in asked.items():
                loaded = await drive(
                    server.url,
                    path,
                    payload,
                    clients=args.clients,
                    duration_s=args.duration,
                    requests=args.max_requests,
                    # Past ABSTRACTIVE__MAX_STREAMS a stream is refused with 429; a client waits as told.
                    respect_retry_after=endpoint == "stream",
                )
                rows.append({"config": cfg, "endpoint": endpoint, "phase": "concurrent", **loaded.summary()})
    return rows


def _config(row: dict[str, Any]) -> Config:
    return row["backend"], row["verifier"], row["extractor"]


def add_ratios(rows: list[dict[str, Any]]) -> None:
    """Each row against the first configuration's row of the same endpoint and phase (>1 = better)."""
    first = _config(rows[0])
    reference = {(r["endpoint"], r["phase"]): r for r in rows if _config(r) == first}
    for row in rows:
        ref = reference.get((row["endpoint"], row["phase"]))
        if ref is None:
            continue
        if row["p50_ms"] and ref["p50_ms"]:
            row["x_p50"] = round(ref["p50_ms"] / row["p50_ms"], 2)
        if row["articles_per_s"] and ref["articles_per_s"]:
            row["x_articles_per_s"] = round(row["articles_per_s"] / ref["articles_per_s"], 2)


def _describe(endpoint: str, payloads: dict[str, dict[str, Any]]) -> str:
    body = payloads[endpoint]
    if endpoint == "verify":
        return f"POST /verify of a {len(split_sentences(body['summary']))}-sentence summary"
    asked = f"with title and {len(body.get('claims', []))} claims"
    if endpoint == "stream":
        return (
            f"POST /summarize/stream (abstractive, max_words {body['max_words']}) {asked}: p50 to the "
            "result event, first_token to the first token event"
        )
    return f"POST /summarize ({body['mode']}) {asked}"


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
    p.add_argument(
        "--extractor",
        choices=tuple(EXTRACTOR_STATES),
        default="finetuned",
        help="serve the fine-tuned extractive encoder, the frozen-vector scorer, or both (frozen first)",
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

    payloads = {
        "summarize": payload_from_args(args),
        "verify": verify_payload_from_args(args),
        "stream": stream_payload_from_args(args),
    }
    configs = [
        (b.strip(), v, x)
        for b in args.backends.split(",")
        if b.strip()
        for v in VERIFIER_STATES[args.verifier]
        for x in EXTRACTOR_STATES[args.extractor]
    ]
    with ExitStack() as stack:
        servers: dict[Config, Server] = {}
        ready: dict[Config, float] = {}
        for cfg in configs:
            backend, verifier, extractor = cfg
            env = {
                "OPSLENS_ENCODER_BACKEND": backend,
                "OPSLENS_VERIFIER": "true" if verifier == "on" else "false",
                "OPSLENS_EXTRACTOR": extractor,
                "OPSLENS_LOG_LEVEL": "warning",
            }
            if args.threads:
                env["OPSLENS_THREADS"] = str(args.threads)
            print(f"[bench] {backend}, verifier {verifier}, {extractor}: starting server", file=sys.stderr)
            servers[cfg] = stack.enter_context(start_server(env))
            ready[cfg] = servers[cfg].memory_mb()["rss_mb"]
        measured = asyncio.run(measure(servers, {e: payloads[e] for e in endpoints}, args))
        memory = {cfg: s.memory_mb() for cfg, s in servers.items()}
    rows: list[dict[str, Any]] = []
    for row in sorted(measured, key=lambda r: configs.index(r["config"])):
        cfg = row.pop("config")
        rows.append(
            {
                "backend": cfg[0],
                "verifier": cfg[1],
                "extractor": cfg[2],
                **row,
                "ready_rss_mb": ready[cfg],
                **memory[cfg],
                "ready_s": servers[cfg].ready_s,
            }
        )
    add_ratios(rows)

    summarize = payloads["summarize"]
    print(
        f"\nOpsLens serving benchmark: {len(words(summarize['text']))}-word article; "
        + ", ".join(_describe(e, payloads) for e in endpoints)
        + f"; {os.cpu_count()} CPU cores ({platform.processor() or platform.machine()}), "
        f"threads {args.threads or 'all'}, {args.requests} single requests"
        + (f", {args.clients} clients for {args.duration:g} s" if args.duration > 0 else "")
        + f". x_ = ratio to {rows[0]['backend']}, verifier {rows[0]['verifier']}, {rows[0]['extractor']} "
        "(>1 is better); server_*_ms and verify_share: the medians of the server's own timings_ms.\n"
    )
    print(markdown_table(rows, COLUMNS))
    if args.out:
        args.out.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
