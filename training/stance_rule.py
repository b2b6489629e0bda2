"""Whether the verifier's `restated_agree` rule stays on, decided in one command on an FNC-1-format
file (the validation split by default; never the test half).

The rule reads text (a claim that a window sentence restates, read supported, is agreed with), so
`verifier_threshold`, which reads token-id pairs, cannot apply it. This runs the stance suite's own
scoring (`run_stance`: the public `analyze` call, headlines as claims, as `opslens eval stance`
does) with the rule off and on, from one loaded model, and keeps it when it does not lower the
stance macro-F1. The pairs whose label it moves are printed and recorded. --write stores the value
and its record in verifier.json and re-renders the model card.

    python -m opslens.training.stance_rule [--data FNC1.jsonl.gz] [--artifact DIR] \
        [--backend onnx] [--write]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from opslens.corpus import load_table
from opslens.eval.stance import FIELDS, run_stance
from opslens.model.artifact import SHIPPED_ARTIFACT
from opslens.model.options import BACKENDS
from opslens.model.pipeline import OpsLens
from opslens.training.verifier_threshold import write

RULE = "restated_agree"
DEFAULT_DATA = Path("../shared/data/fnc1_validation.jsonl.gz")
MOVED_SHOWN = 20  # pairs whose label moved, kept in the record


def labels_with_rule(model: OpsLens, rows: list[dict[str, Any]], on: bool) -> tuple[float, list[str]]:
    """Stance macro-F1 and the labels of `rows` with the rule set to `on`."""
    verifier = model.verifier
    if verifier is None:
        raise SystemExit("the artifact has no claim verifier: the rule has nothing to read")
    verifier.config = verifier.config.model_copy(update={RULE: on})
    metrics, _, records = run_stance(model, rows)
    return metrics["macro_f1"], [r["prediction"] for r in records]


def choose(model: OpsLens, rows: list[dict[str, Any]], data: Path, command: str) -> dict[str, Any]:
    """The rule's record: on unless it lowers the macro-F1 on `rows` (read from `data`), with both
    scores and the moved pairs."""
    f1_off, off = labels_with_rule(model, rows, False)
    f1_on, on = labels_with_rule(model, rows, True)
    moved = [
        {"id": r["id"], "headline": r["headline"], "gold": r["stance"], "without": a, "with": b}
        for r, a, b in zip(rows, off, on, strict=True)
        if a != b
    ]
    return {
        "value": f1_on >= f1_off,
        "stance_macro_f1": round(f1_on, 2),
        "stance_macro_f1_without": round(f1_off, 2),
        "pairs": len(rows),
        "labels_changed": len(moved),
        "changed": moved[:MOVED_SHOWN],
        "method": "kept when agreeing with the claims a window sentence restates (read supported) does "
        f"not lower the stance macro-F1 on the FNC-1-format file {data} (relatedness from the stance "
        "head), both readings from one loaded model",
        "commands": [command],
    }


def main(argv: list[str] | None = None) -> int:
    prog = "python -m opslens.training.stance_rule"
    parser = argparse.ArgumentParser(prog=prog, description=__doc__)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="FNC-1-format file (%(default)s)")
    parser.add_argument("--artifact", type=Path, default=SHIPPED_ARTIFACT)
    parser.add_argument("--backend", choices=BACKENDS, default="onnx")
    parser.add_argument("--limit", type=int, default=None, help="the first N rows only (a quick look)")
    parser.add_argument("--write", action="store_true", help="store the decision in the artifact")
    args = parser.parse_args(argv)
    if args.write and args.limit:
        parser.error("--write decides on the whole file: drop --limit")
    rows = list(load_table(args.data, FIELDS, args.limit))
    model = OpsLens.load(args.artifact, backend=args.backend)
    command = f"{prog} --data {args.data} --backend {args.backend}"
    chosen = choose(model, rows, args.data, command)
    print(
        f"{RULE}: {'on' if chosen['value'] else 'off'} (macro-F1 {chosen['stance_macro_f1']} with, "
        f"{chosen['stance_macro_f1_without']} without, {chosen['labels_changed']} of {chosen['pairs']} "
        "labels changed)"
    )
    for m in chosen["changed"]:
        print(f"  {m['id']}: {m['without']} -> {m['with']} (gold {m['gold']}): {m['headline']}")
    if args.write:
        write(args.artifact, {RULE: chosen})
        print(f"written to {args.artifact}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
