"""Soak test: drive the server with many clients, overload it, and check that it recovers.

    python -m opslens.eval.load --url http://127.0.0.1:8000 --clients 50 --duration 60
    python -m opslens.eval.load --start-server --clients 50 --duration 60

Three phases, each a closed loop of clients posting the example article with a title to
/summarize, bounded in time and in count:

1. steady: `--clients` well-behaved clients (they wait out a 429's Retry-After);
2. saturation: `--saturation-clients` clients that retry at once, to fill the queue (429s);
3. recovery: `--recovery-clients` (default `--clients`) well-behaved clients; errors must be
   back to zero. Pick a load the server can sustain, or it is not recovery but more overload.

Prints a markdown table (requests, ok, 429s, other errors, latency percentiles of the
successful requests, throughput, server memory when its pid is known) and exits 1 when the
recovery phase still sees errors. Load goes only to loopback addresses.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from opslens.eval.loadgen import (
    add_payload_arguments,
    drive,
    markdown_table,
    memory_mb,
    payload_from_args,
    require_loopback,
    start_server,
)

COLUMNS = [
    "phase",
    "clients",
    "elapsed_s",
    "requests",
    "ok",
    "429",
    "errors",
    "p50_ms",
    "p95_ms",
    "p99_ms",
    "articles_per_s",
    "rss_mb",
    "peak_rss_mb",
]


async def soak(url: str, payload: dict[str, Any], args: argparse.Namespace, pid: int | None) -> list[dict]:
    phases = [
        ("steady", args.clients, args.duration, True),
        ("saturation", args.saturation_clients, args.saturation_duration, False),
        ("recovery", args.recovery_clients, args.recovery_duration, True),
    ]
    rows = []
    for name, clients, duration, polite in phases:
        print(f"[load] {name}: {clients} clients for {duration:g} s", file=sys.stderr)
        result = await drive(
            url,
            "/summarize",
            payload,
            clients=clients,
            duration_s=duration,
            requests=args.max_requests,
            respect_retry_after=polite,
            timeout_s=args.timeout,
        )
        row = {"phase": name, **result.summary()}
        if pid is not None:
            row.update(memory_mb(pid))
        rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m opslens.eval.load", description=__doc__.split("\n\n")[0])
    target = p.add_mutually_exclusive_group(required=True)
    target.add_argument("--url", help="a running server on loopback, e.g. http://127.0.0.1:8000")
    target.add_argument("--start-server", action="store_true", help="start `opslens serve` on a free port")
    p.add_argument("--server-pid", type=int, help="with --url: report this process's memory (Linux)")
    p.add_argument("--clients", type=int, default=50, help="steady and recovery phases")
    p.add_argument("--duration", type=float, default=60.0, help="steady phase, seconds")
    p.add_argument("--saturation-clients", type=int, help="default: 4 x --clients")
    p.add_argument("--saturation-duration", type=float, help="seconds; default: --duration / 2")
    p.add_argument("--recovery-clients", type=int, help="default: --clients")
    p.add_argument("--recovery-duration", type=float, help="seconds; default: --duration / 2")
    p.add_argument("--max-requests", type=int, default=100_000, help="cap per phase")
    p.add_argument("--timeout", type=float, default=60.0, help="per request, seconds")
    p.add_argument("--threads", type=int, help="with --start-server: OPSLENS_THREADS for the server")
    add_payload_arguments(p)
    args = p.parse_args(argv)
    for name in ("clients", "max_requests"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.duration <= 0 or args.timeout <= 0:
        p.error("--duration and --timeout must be positive")
    args.saturation_clients = args.saturation_clients or 4 * args.clients
    args.saturation_duration = args.saturation_duration or args.duration / 2
    args.recovery_clients = args.recovery_clients or args.clients
    args.recovery_duration = args.recovery_duration or args.duration / 2

    payload = payload_from_args(args)
    if args.start_server:
        env = {"OPSLENS_LOG_LEVEL": "warning"}
        if args.threads:
            env["OPSLENS_THREADS"] = str(args.threads)
        print("[load] starting server", file=sys.stderr)
        with start_server(env) as server:
            rows = asyncio.run(soak(server.url, payload, args, server.process.pid))
    else:
        try:
            require_loopback(args.url)
        except ValueError as exc:
            p.error(str(exc))
        rows = asyncio.run(soak(args.url.rstrip("/"), payload, args, args.server_pid))

    print(f"\nOpsLens soak: POST /summarize with a title, {len(payload['text'])} characters per article.\n")
    print(markdown_table(rows, COLUMNS))
    recovery = rows[-1]
    print(f"\nstatus codes: {json.dumps({r['phase']: r['statuses'] for r in rows})}")
    if args.out:
        args.out.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    if recovery["errors"] or not recovery["ok"]:
        print(f"NOT RECOVERED: {recovery['errors']} errors, {recovery['ok']} ok in the recovery phase")
        return 1
    print("recovered: no errors in the recovery phase")
    return 0


if __name__ == "__main__":
    sys.exit(main())
