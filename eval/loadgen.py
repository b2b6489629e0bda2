"""Load generation against a running OpsLens server: start one on loopback, drive it with a
bounded number of concurrent clients, and summarise what came back.

Shared by the serving benchmark (`eval/bench.py`) and the soak test (`eval/load.py`). Every
run is bounded in time and count, and only loopback addresses are accepted as targets.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import os
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from opslens.model.options import DEFAULT_MAX_WORDS, DEFAULT_MODE, MODES

# Package data (pyproject: "opslens" = ["examples/*.txt"]), so a clone and an install find it alike.
EXAMPLE = Path(str(resources.files("opslens") / "examples" / "briefing_bakhmut.txt"))
# What the benchmarks ask about the example article: claims for /summarize (one the article states,
# one it does not, one it never mentions) and a three-sentence summary for /verify.
EXAMPLE_CLAIMS = (
    "Russia lost nearly 30 armored vehicles in fighting around Vuhledar.",
    "Ukraine has retaken Bakhmut.",
    "China has supplied weapons to Russia.",
)
EXAMPLE_SUMMARY = (
    "Zelenskiy says Ukrainian forces have inflicted extraordinarily significant losses on Russia around "
    "Bakhmut and Vuhledar. Drone footage appeared to show Russia lost nearly 30 armored vehicles near "
    "Vuhledar. Blinken warned China of serious consequences if Beijing supplies weapons to Russia."
)
ENDPOINTS = {"summarize": "/summarize", "verify": "/verify", "stream": "/summarize/stream"}


def require_loopback(url: str) -> None:
    """Refuse to send load anywhere but this machine."""
    host = urlsplit(url).hostname or ""
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except socket.gaierror as exc:
        raise ValueError(f"cannot resolve {host!r}: {exc}") from exc
    if not addresses or not all(ipaddress.ip_address(a.split("%")[0]).is_loopback for a in addresses):
        raise ValueError(f"load is only sent to loopback addresses; {host!r} resolves to {sorted(addresses)}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def memory_mb(pid: int) -> dict[str, float]:
    """Current (VmRSS) and peak (VmHWM) resident memory of a process, in MB (Linux)."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out["rss_mb" if key == "VmRSS" else "peak_rss_mb"] = round(int(value.split()[0]) / 1024, 1)
    return out


@dataclass
class Server:
    url: str
    process: subprocess.Popen
    log: Path
    ready_s: float

    def memory_mb(self) -> dict[str, float]:
        return memory_mb(self.process.pid)


@contextmanager
def start_server(env: Mapping[str, str] | None = None, *, ready_timeout_s: float = 180) -> Iterator[Server]:
    """`opslens serve` on a free loopback port, in a subprocess; stopped (SIGTERM) on exit."""
    port = free_port()
    log = Path(os.environ.get("TMPDIR", "/tmp")) / f"opslens-server-{port}.log"
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "opslens.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
            env={**os.environ, **(env or {})},
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    start = time.perf_counter()
    try:
        while True:
            if proc.poll() is not None:
                output = log.read_text(errors="replace")
                raise RuntimeError(f"server exited with {proc.returncode}:\n{output}")
            if time.perf_counter() - start > ready_timeout_s:
                raise TimeoutError(f"server not ready within {ready_timeout_s} s (log: {log})")
            try:
                if httpx.get(f"{url}/ready", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
        yield Server(url, proc, log, round(time.perf_counter() - start, 2))
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, round(q / 100 * len(ordered) + 0.4999999))
    return ordered[min(rank, len(ordered)) - 1]


@dataclass
class LoadResult:
    clients: int
    elapsed_s: float
    statuses: Counter[int | str] = field(default_factory=Counter)
    latencies_ms: list[float] = field(default_factory=list)  # successful requests only
    articles_per_request: int = 1
    timings_ms: list[dict[str, float]] = field(default_factory=list)  # the server's, when collected
    first_token_ms: list[float] = field(default_factory=list)  # streams: to the first token event

    @property
    def requests(self) -> int:
        return sum(self.statuses.values())

    @property
    def ok(self) -> int:
        return sum(n for s, n in self.statuses.items() if isinstance(s, int) and 200 <= s < 300)

    @property
    def throttled(self) -> int:
        return self.statuses.get(429, 0)

    @property
    def errors(self) -> int:
        """Anything but a success or a deliberate 429: 5xx, other 4xx, transport errors."""
        return self.requests - self.ok - self.throttled

    def summary(self) -> dict[str, Any]:
        lat = self.latencies_ms
        return {
            "clients": self.clients,
            "requests": self.requests,
            "ok": self.ok,
            "429": self.throttled,
            "errors": self.errors,
            "statuses": {str(k): v for k, v in sorted(self.statuses.items(), key=str)},
            "p50_ms": round(percentile(lat, 50), 1) if lat else None,
            "p95_ms": round(percentile(lat, 95), 1) if lat else None,
            "p99_ms": round(percentile(lat, 99), 1) if lat else None,
            "articles_per_s": round(self.ok * self.articles_per_request / self.elapsed_s, 2),
            "elapsed_s": round(self.elapsed_s, 2),
            **({"server_timings_p50_ms": self.timings_p50()} if self.timings_ms else {}),
            **(
                {
                    "first_token_p50_ms": round(percentile(self.first_token_ms, 50), 1),
                    "first_token_p95_ms": round(percentile(self.first_token_ms, 95), 1),
                }
                if self.first_token_ms
                else {}
            ),
        }

    def timings_p50(self) -> dict[str, float]:
        """The median of each part of the server's own `timings_ms` over the collected answers."""
        keys = sorted({k for t in self.timings_ms for k in t})
        return {k: round(percentile([t[k] for t in self.timings_ms if k in t], 50), 2) for k in keys}


async def drive(
    url: str,
    path: str,
    payload: dict[str, Any],
    *,
    clients: int,
    duration_s: float | None = None,
    requests: int | None = None,
    headers: Mapping[str, str] | None = None,
    respect_retry_after: bool = False,
    timeout_s: float = 60.0,
    collect_timings: bool = False,
) -> LoadResult:
    """Closed loop: `clients` concurrent clients, each sending its next request when the last
    is answered, until `duration_s` has passed or `requests` have been sent (whichever first).
    `collect_timings` keeps the `timings_ms` of each successful answer (single objects only)."""
    if duration_s is None and requests is None:
        raise ValueError("bound the run: give duration_s, requests or both")
    require_loopback(url)
    items = payload.get("items")
    result = LoadResult(clients, 0.0, articles_per_request=len(items) if isinstance(items, list) else 1)
    deadline = time.perf_counter() + duration_s if duration_s is not None else float("inf")
    budget = requests if requests is not None else sys.maxsize
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)

    async with httpx.AsyncClient(base_url=url, timeout=timeout_s, limits=limits) as client:

        async def one_client() -> None:
            nonlocal budget
            while time.perf_counter() < deadline and budget > 0:
                budget -= 1
                start = time.perf_counter()
                try:
                    r = await client.post(path, json=payload, headers=dict(headers or {}))
                except httpx.HTTPError as exc:
                    result.statuses[type(exc).__name__] += 1
                    continue
                result.statuses[r.status_code] += 1
                if r.is_success:
                    result.latencies_ms.append((time.perf_counter() - start) * 1000)
                    if collect_timings:
                        result.timings_ms.append(r.json().get("timings_ms", {}))
                elif r.status_code == 429 and respect_retry_after:
                    wait = float(r.headers.get("retry-after", "1"))
                    await asyncio.sleep(max(0.0, min(wait, deadline - time.perf_counter())))

        start = time.perf_counter()
        await asyncio.gather(*(one_client() for _ in range(clients)))
        result.elapsed_s = time.perf_counter() - start
    return result


def add_payload_arguments(p: argparse.ArgumentParser) -> None:
    """What the load scripts send, and where they write their figures."""
    p.add_argument("--text-file", type=Path, help="article to send (default: the packaged example)")
    p.add_argument("--title", default="Russia presses ahead with offensive in east")
    p.add_argument("--mode", choices=MODES, default=DEFAULT_MODE)
    p.add_argument("--max-words", type=int, default=DEFAULT_MAX_WORDS, help="abstractive summary length")
    p.add_argument(
        "--claims",
        type=int,
        default=0,
        choices=range(len(EXAMPLE_CLAIMS) + 1),
        help="/summarize: send the first N of the example claims too (stance per claim)",
    )
    p.add_argument(
        "--summary-file", type=Path, help="/verify: the summary to check (default: three sentences)"
    )
    p.add_argument("--out", type=Path, help="also write the figures as JSON here")


def payload_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """The /summarize body: the article, its title, the mode and `--claims` example claims."""
    source = args.text_file or EXAMPLE
    if not source.is_file():
        raise FileNotFoundError(f"article not found at {source} (pass --text-file)")
    payload = {"text": source.read_text(encoding="utf-8"), "title": args.title, "mode": args.mode}
    if args.mode == "abstractive":
        payload["max_words"] = args.max_words
    if getattr(args, "claims", 0):
        payload["claims"] = list(EXAMPLE_CLAIMS[: args.claims])
    return payload


def stream_payload_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """The /summarize/stream body: the /summarize one in abstractive mode (the only one that streams)."""
    return payload_from_args(argparse.Namespace(**{**vars(args), "mode": "abstractive"}))


@dataclass(frozen=True)
class StreamReading:
    first_token_s: float | None  # since the request was sent; None: no token came
    result: dict[str, Any] | None  # the `result` event's JSON
    error: dict[str, Any] | None  # the `error` event's JSON


async def read_stream(lines: AsyncIterator[str], start: float) -> StreamReading:
    """Read /summarize/stream's server-sent events: when the first `token` event arrived (seconds
    since `start`, a perf_counter reading) and the `result` or `error` event's data."""
    first: float | None = None
    event = None
    async for line in lines:
        if line.startswith("event:"):
            event = line.removeprefix("event:").strip()
            if event == "token" and first is None:
                first = time.perf_counter() - start
        elif line.startswith("data:") and event in ("result", "error"):
            data = json.loads(line.removeprefix("data:"))
            if event == "result":
                return StreamReading(first, data, None)
            return StreamReading(first, None, data)
    return StreamReading(first, None, {"detail": "the stream ended without a result"})


def verify_payload_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """The /verify body: the same article and a summary of it to check."""
    summary_file = getattr(args, "summary_file", None)
    summary = summary_file.read_text(encoding="utf-8") if summary_file else EXAMPLE_SUMMARY
    return {"text": payload_from_args(args)["text"], "summary": summary}


def markdown_table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        lines.append("| " + " | ".join("" if row.get(c) is None else str(row.get(c)) for c in columns) + " |")
    return "\n".join(lines)
