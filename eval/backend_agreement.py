"""Backend agreement: how closely the fast encoder backends reproduce the reference's claim verdicts.

    python -m opslens.eval.backend_agreement [--backends torch,onnx] [--data FILE] [--claims 160]
        [--seed 0] [--artifact PATH] [--threads N] [--json PATH]

The onnx and bf16 backends run the claim verifier on int8 / bfloat16 copies of its weights, and
its verdicts turn on small margins (the name contrast reads a claim against its name variants),
so a faster graph is only worth serving if it reads claims as the reference does. This is the
measurement that chose the onnx verifier's quantisation recipe (model/onnx_adapted.py). For a
seeded sample of the related (headline, body) pairs of an FNC-1-format file (default: the FNC-1
validation split; never tune on a test file), every backend verifies the headline against its body
through the public API, `OpsLens.verify(body, claims=[headline])`, one backend after the other in
this process. Per backend, against the first: the share of identical verdicts, mean and p95
|dP(supported)|, and the verifier's median time per claim with its ratio to the reference's.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from opslens.corpus import load_table
from opslens.eval.loadgen import markdown_table, percentile
from opslens.model.options import BACKENDS, Backend

DEFAULT_DATA = Path("../shared/data/fnc1_validation.jsonl.gz")
COLUMNS = [
    "backend",
    "claims",
    "verdicts_same",
    "dp_supported_mean",
    "dp_supported_p95",
    "ms_per_claim",
    "ms_ratio",
]


@dataclass(frozen=True)
class Reading:
    """One claim as one backend read it."""

    verdict: str
    supported: float  # calibrated P(supported)
    verify_ms: float  # the verifier's own time (timings_ms.verify_ms)


def related_pairs(rows: list[dict[str, Any]], n: int, seed: int) -> list[tuple[str, str]]:
    """(headline, body) of a seeded sample of `n` related pairs (the stance is not `unrelated`),
    in file order, so the same file, n and seed always give the same claims."""
    related = [r for r in rows if r["stance"] != "unrelated"]
    if not related:
        raise ValueError("no related pairs in the data (every stance is 'unrelated')")
    picked = np.random.default_rng(seed).choice(len(related), min(n, len(related)), replace=False)
    return [(related[i]["headline"], related[i]["body"]) for i in sorted(picked.tolist())]


def agreement(reference: list[Reading], other: list[Reading]) -> dict[str, float]:
    """How `other` reads the claims `reference` read (same order)."""
    if len(reference) != len(other) or not reference:
        raise ValueError(f"need the same non-empty claims: {len(reference)} vs {len(other)} readings")
    diffs = [abs(a.supported - b.supported) for a, b in zip(reference, other, strict=True)]
    same = sum(a.verdict == b.verdict for a, b in zip(reference, other, strict=True))
    return {
        "verdicts_same": round(100 * same / len(reference), 1),
        "dp_supported_mean": round(statistics.fmean(diffs), 4),
        "dp_supported_p95": round(percentile(diffs, 95), 4),
    }


def read_claims(
    backend: Backend, pairs: list[tuple[str, str]], artifact: Path | None, threads: int | None
) -> list[Reading]:
    from opslens.model.pipeline import OpsLens

    lens = OpsLens.load(artifact, backend=backend, threads=threads, verifier=True)
    lens.verify(pairs[0][1], claims=[pairs[0][0]])  # warm-up: first-call allocations are not the backend's
    out = []
    for headline, body in pairs:
        result = lens.verify(body, claims=[headline])
        [claim] = result.claims
        out.append(Reading(claim.verdict, claim.probabilities["supported"], result.timings_ms.verify_ms))
    return out


def report(readings: dict[str, list[Reading]]) -> list[dict[str, Any]]:
    """One row per backend, the first being the reference."""
    names = list(readings)
    ref = readings[names[0]]
    ref_ms = statistics.median(r.verify_ms for r in ref)
    rows = []
    for name in names:
        ms = statistics.median(r.verify_ms for r in readings[name])
        rows.append(
            {
                "backend": name,
                "claims": len(readings[name]),
                **agreement(ref, readings[name]),
                "ms_per_claim": round(ms, 1),
                "ms_ratio": round(ms / ref_ms, 2) if ref_ms else None,
            }
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m opslens.eval.backend_agreement", description=__doc__)
    parser.add_argument(
        "--backends", default="torch,onnx", help="comma-separated; the first is the reference"
    )
    parser.add_argument(
        "--data", type=Path, default=DEFAULT_DATA, help="FNC-1 format: headline, body, stance"
    )
    parser.add_argument("--claims", type=int, default=160, help="related pairs sampled from --data")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--artifact", type=Path, default=None, help="artifact folder (default: the shipped one)"
    )
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--json", type=Path, default=None, help="also write the rows and settings here")
    args = parser.parse_args(argv)
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    unknown = [b for b in backends if b not in BACKENDS]
    if unknown or len(backends) < 2:
        parser.error(f"--backends: two or more of {', '.join(BACKENDS)} (got {args.backends!r})")
    if args.claims < 1:
        parser.error("--claims must be at least 1")
    try:
        rows = list(load_table(args.data, ("headline", "body", "stance")))
        pairs = related_pairs(rows, args.claims, args.seed)
    except (FileNotFoundError, ValueError) as exc:
        parser.error(str(exc))
    readings: dict[str, list[Reading]] = {}
    for backend in backends:
        t0 = time.perf_counter()
        readings[backend] = read_claims(backend, pairs, args.artifact, args.threads)
        print(f"{backend}: {len(pairs)} claims in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    table = report(readings)
    print(f"{len(pairs)} related pairs of {args.data} (seed {args.seed}); reference: {backends[0]}\n")
    print(markdown_table(table, COLUMNS))
    if args.json:
        settings = {"data": str(args.data), "claims": len(pairs), "seed": args.seed, "backends": backends}
        args.json.write_text(
            json.dumps({"settings": settings, "rows": table}, indent=2) + "\n", encoding="utf-8"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
