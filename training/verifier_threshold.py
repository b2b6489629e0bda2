"""The summary consistency threshold stored in the verifier component, chosen on the verifier's
own validation pairs (never on an evaluation file).

`OpsLens.verify` calls a summary consistent when its score, the lowest P(supported) over its
sentences, reaches `consistency_threshold`. Here each validation pair with a verdict label
(NLI, FNC-1 unrelated, synthetic) is one statement: the threshold on its calibrated
P(supported) that maximises the balanced accuracy of supported (entailment) vs not (neutral or
contradiction) is written into verifier.json's config, with how it was chosen in its training
record; the weights and their sha256 are untouched, and the model card is re-rendered.

    python -m opslens.training.verifier_threshold --pairs .gpu/verifier_pairs.npz [--write]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.metrics import roc_auc_score

from opslens.model.artifact import SHIPPED_ARTIFACT, read_component_meta
from opslens.model.cache import file_sha256
from opslens.model.card import write_card
from opslens.model.verifier import COMPONENT, NLI_LABELS, ClaimVerifier
from opslens.training.verifier_pairs import load_pairs

SUPPORTED = NLI_LABELS.index("entailment")


def balanced_accuracy(positive: np.ndarray, predicted: np.ndarray) -> float:
    """Mean of the recall on each class."""
    return float((predicted[positive].mean() + (~predicted[~positive]).mean()) / 2)


def best_threshold(scores: np.ndarray, positive: np.ndarray) -> tuple[float, float]:
    """(threshold, balanced accuracy): predicted positive = score >= threshold. Candidates are
    midpoints between consecutive distinct scores; of equally good ones, the middle is kept."""
    distinct = np.unique(scores)
    candidates = np.concatenate([[0.0], (distinct[:-1] + distinct[1:]) / 2, [1.0]])
    accs = np.array([balanced_accuracy(positive, scores >= t) for t in candidates])
    best = np.flatnonzero(np.isclose(accs, accs.max()))
    pick = best[len(best) // 2]
    return float(candidates[pick]), float(accs[pick])


@torch.inference_mode()
def supported_scores(verifier: ClaimVerifier, pairs_path: Path) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """P(supported), whether the label is entailment, and the source of every validation pair
    that has a verdict label."""
    pairs = load_pairs(pairs_path)
    idx = [i for i in pairs.indices("validation") if pairs.verdict[i] >= 0]
    verdict, _ = verifier.probabilities([(pairs.claim_ids(i), pairs.evidence_ids(i)) for i in idx])
    positive = np.array([pairs.verdict[i] == SUPPORTED for i in idx])
    return verdict[:, SUPPORTED].numpy(), positive, [pairs.source_of(i) for i in idx]


def choose(verifier: ClaimVerifier, pairs_path: Path) -> dict[str, Any]:
    scores, positive, sources = supported_scores(verifier, pairs_path)
    threshold, acc = best_threshold(scores, positive)
    return {
        "value": round(threshold, 4),
        "balanced_accuracy": round(100 * acc, 2),
        "balanced_accuracy_at_0.5": round(100 * balanced_accuracy(positive, scores >= 0.5), 2),
        "roc_auc": round(100 * float(roc_auc_score(positive, scores)), 2),
        "examples": len(scores),
        "supported": int(positive.sum()),
        "sources": len(set(sources)),
        "data": {"path": str(pairs_path), "sha256": file_sha256(pairs_path), "split": "validation"},
        "method": "the threshold on calibrated P(supported) maximising the balanced accuracy of "
        "supported (entailment) vs not (neutral, contradiction) over the validation pairs with a "
        "verdict label (middle of the best plateau)",
        "command": f"python -m opslens.training.verifier_threshold --pairs {pairs_path} --write",
    }


def write(artifact: Path, chosen: dict[str, Any]) -> None:
    """Store the threshold in verifier.json (config and training record) and re-render the card."""
    path = artifact / f"{COMPONENT}.json"
    meta = read_component_meta(artifact, COMPONENT)
    meta["config"]["consistency_threshold"] = chosen["value"]
    meta["training"]["consistency_threshold"] = chosen
    path.write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    write_card(artifact)


def main(argv: list[str] | None = None) -> int:
    prog = "python -m opslens.training.verifier_threshold"
    parser = argparse.ArgumentParser(prog=prog, description=__doc__)
    parser.add_argument("--pairs", type=Path, default=Path(".gpu/verifier_pairs.npz"))
    parser.add_argument("--artifact", type=Path, default=SHIPPED_ARTIFACT)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--write", action="store_true", help="store it in the artifact (else print only)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    from opslens.model.encoder import SentenceEncoder

    chosen = choose(ClaimVerifier.load(args.artifact, SentenceEncoder()), args.pairs)
    print(json.dumps(chosen, indent=2))
    if args.write:
        write(args.artifact, chosen)
        print(f"wrote consistency_threshold={chosen['value']} into {args.artifact / (COMPONENT + '.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
