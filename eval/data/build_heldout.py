"""Build a committed held-out subset from a test split, seeded so it can be rebuilt byte for byte.

Two ways to sample:
- `--groups N`: every row of a random sample of N groups (e.g. FNC-1 bodies), so no group is
  split across sets;
- `--rows N --stratify FIELD`: N rows, each value of FIELD (e.g. a data set's `source`) keeping
  its share of the file (largest remainders), so the subset has the file's mix.

    python eval/data/build_heldout.py ../shared/data/fnc1_test.jsonl.gz \
        eval/data/fnc1_heldout.jsonl.gz --group body_id --groups 100 --seed 7
    python eval/data/build_heldout.py ../shared/data/factcheck_dev.jsonl.gz \
        eval/data/factcheck_heldout.jsonl.gz --rows 300 --stratify source --seed 7
    python eval/data/build_heldout.py ../shared/data/bbc_news_summary.jsonl.gz \
        eval/data/bbc_heldout.jsonl.gz --split test --rows 236 --stratify category --seed 7
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
from collections import defaultdict
from typing import Any


def sample_groups(rows: list[dict[str, Any]], group: str, n: int, seed: int) -> list[dict[str, Any]]:
    groups = sorted({str(r[group]) for r in rows})
    keep = set(random.Random(seed).sample(groups, min(n, len(groups))))
    # Rows of a group side by side: gzip then stores a repeated body once, not per row.
    return sorted(
        (r for r in rows if str(r[group]) in keep),
        key=lambda r: (str(r[group]), str(r.get("id", ""))),
    )


def stratified_rows(rows: list[dict[str, Any]], field: str, n: int, seed: int) -> list[dict[str, Any]]:
    strata: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        strata[str(r.get(field, ""))].append(r)
    n = min(n, len(rows))
    exact = {k: n * len(v) / len(rows) for k, v in strata.items()}
    quota = {k: int(q) for k, q in exact.items()}
    # Largest remainders get the rows that rounding down left over.
    for k in sorted(exact, key=lambda k: (quota[k] - exact[k], k))[: n - sum(quota.values())]:
        quota[k] += 1
    rng = random.Random(seed)
    kept = [r for k in sorted(strata) for r in rng.sample(strata[k], quota[k])]
    # Summaries of one document side by side (gzip stores the document once), then by id.
    return sorted(
        kept, key=lambda r: (str(r.get(field, "")), str(r.get("document", "")), str(r.get("id", "")))
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("source")
    p.add_argument("target")
    how = p.add_mutually_exclusive_group(required=True)
    how.add_argument("--groups", type=int, help="how many groups (values of --group) to keep")
    how.add_argument("--rows", type=int, help="how many rows to keep, stratified by --stratify")
    p.add_argument("--group", default="id", help="field whose values are sampled as units (--groups)")
    p.add_argument("--stratify", default="source", help="field whose shares the sample keeps (--rows)")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--split", help="keep only rows whose `split` field is this (e.g. test) before sampling")
    args = p.parse_args()

    opener = gzip.open if args.source.endswith(".gz") else open
    with opener(args.source, "rt", encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    if args.split is not None:
        rows = [r for r in rows if r.get("split") == args.split]
    if args.groups is not None:
        kept = sample_groups(rows, args.group, args.groups, args.seed)
        what = f"{len({str(r[args.group]) for r in kept})} groups"
    else:
        kept = stratified_rows(rows, args.stratify, args.rows, args.seed)
        what = f"{len({str(r.get(args.stratify, '')) for r in kept})} strata of {args.stratify}"
    # mtime=0: the same input gives byte-identical output, so the file's hash is stable.
    with open(args.target, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz:
        for r in kept:
            gz.write((json.dumps(r, ensure_ascii=False) + "\n").encode("utf-8"))
    print(f"{len(kept)} rows from {what} -> {args.target}")


if __name__ == "__main__":
    main()
