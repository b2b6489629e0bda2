"""Build a committed held-out subset from a test split: every row of a seeded random
sample of groups (e.g. FNC-1 bodies), so no group is split across sets.

    python eval/data/build_heldout.py ../shared/data/fnc1_test.jsonl.gz \
        eval/data/fnc1_heldout.jsonl.gz --group body_id --groups 100 --seed 7
"""

from __future__ import annotations

import argparse
import gzip
import json
import random


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("source")
    p.add_argument("target")
    p.add_argument("--group", default="id", help="field whose values are sampled as units")
    p.add_argument("--groups", type=int, required=True, help="how many groups to keep")
    p.add_argument("--seed", type=int, default=7)
    args = p.parse_args()

    opener = gzip.open if args.source.endswith(".gz") else open
    with opener(args.source, "rt", encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    groups = sorted({str(r[args.group]) for r in rows})
    keep = set(random.Random(args.seed).sample(groups, min(args.groups, len(groups))))
    # Rows of a group side by side: gzip then stores a repeated body once, not per row.
    kept = sorted(
        (r for r in rows if str(r[args.group]) in keep),
        key=lambda r: (str(r[args.group]), str(r.get("id", ""))),
    )
    # mtime=0: the same input gives byte-identical output, so the file's hash is stable.
    with open(args.target, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz:
        for r in kept:
            gz.write((json.dumps(r, ensure_ascii=False) + "\n").encode("utf-8"))
    print(f"{len(kept)} rows from {len(keep)} groups -> {args.target}")


if __name__ == "__main__":
    main()
