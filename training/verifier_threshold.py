"""Two decision thresholds stored in the verifier component, chosen on the verifier's own
validation pairs (never on an evaluation file).

- `consistency_threshold`: `OpsLens.verify` calls a summary consistent when its score, the
  lowest P(supported) over its sentences, reaches it. Each validation pair with a verdict label
  (NLI, FNC-1 unrelated, synthetic) is one statement; the threshold on its calibrated
  P(supported) that maximises the balanced accuracy of supported (entailment) vs not (neutral
  or contradiction) is kept.
- `stance_veto`: the stance head, trained on FNC-1 headlines only, calls most negated sentences
  `agree`; the verdict head sees the negation. An `agree` whose P(contradicted) reaches the veto
  becomes `disagree`. Kept: the lowest value on a 0.05 grid that does not lower the stance
  macro-F1 on the validation FNC-1 related pairs (veto as much as FNC-1 allows); the share of
  validation negations still called `agree` is recorded beside it.

Both go into verifier.json's config, with how they were chosen in its training record; the
weights and their sha256 are untouched, and the model card is re-rendered.

- `name_contrast` (with `--claims-config`): see training/verifier_contrast.py. `--contrast-only
  --backend onnx` (or bf16) reads the validation claims with that backend and prints the margin
  it would choose (measure-only: the artifact holds one margin, chosen on torch's reading).
  `--contrast-roles`, `--contrast-screen` and `--misnamed on|off` set those rules for the
  reading (default: the artifact's); --write stores them with the margin.

    python -m opslens.training.verifier_threshold --pairs PAIRS.npz [MORE.npz ...] \
        [--claims-config CONFIG.json ...] [--write]
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.metrics import f1_score, roc_auc_score

from opslens.eval.factcheck_metrics import balanced_accuracy as eval_balanced_accuracy
from opslens.model.artifact import SHIPPED_ARTIFACT, read_component_meta
from opslens.model.cache import file_sha256
from opslens.model.card import write_card
from opslens.model.options import BACKENDS
from opslens.model.readings import best_supported
from opslens.model.verifier import COMPONENT, NLI_LABELS, STANCES, ClaimVerifier
from opslens.training.verifier_contrast import choose_name_contrast, contrast_readings, validation_claims
from opslens.training.verifier_pairs import concat_pairs, load_pairs

SUPPORTED = NLI_LABELS.index("entailment")
CONTRADICTED = NLI_LABELS.index("contradiction")
AGREE, DISAGREE, DISCUSS = (STANCES.index(s) for s in ("agree", "disagree", "discuss"))
NEGATION = "synthetic:negation"
# The lexical rules the name contrast is read with: VerifierConfig key -> (flag, what it does).
# Given on the command line they override the artifact's, and they are stored with the margin.
RULES = {
    "contrast_roles": ("--contrast-roles", "variants that keep names' roles"),
    "contrast_screen": ("--contrast-screen", "read only the variants the evidence's words favour"),
    "misnamed": ("--misnamed", "read claims the window states only of other names as contradicted"),
}


def balanced_accuracy(positive: np.ndarray, predicted: np.ndarray) -> float:
    """Mean of the recall on each class, as a fraction (the eval suite's figure / 100)."""
    return eval_balanced_accuracy(positive.astype(int), predicted.astype(int)) / 100


def best_threshold(scores: np.ndarray, positive: np.ndarray) -> tuple[float, float]:
    """(threshold, balanced accuracy): predicted positive = score >= threshold. Candidates are
    midpoints between consecutive distinct scores; of equally good ones, the middle is kept."""
    distinct = np.unique(scores)
    candidates = np.concatenate([[0.0], (distinct[:-1] + distinct[1:]) / 2, [1.0]])
    accs = np.array([balanced_accuracy(positive, scores >= t) for t in candidates])
    best = np.flatnonzero(np.isclose(accs, accs.max()))
    pick = best[len(best) // 2]
    return float(candidates[pick]), float(accs[pick])


@dataclass(frozen=True)
class Validation:
    """Calibrated verdict and stance probabilities of every validation pair, with its labels."""

    verdict: np.ndarray  # [N, 3], as inference reads it (best of window and sentences, if so configured)
    window: np.ndarray  # [N, 3], the window alone: what the stance veto reads
    stance: np.ndarray  # [N, 3]
    verdict_label: np.ndarray  # index into NLI_LABELS, -1 when none
    stance_label: np.ndarray  # index into STANCES, -1 when none
    sources: np.ndarray


@torch.inference_mode()
def validation_probabilities(verifier: ClaimVerifier, pairs_paths: list[Path]) -> Validation:
    pairs = concat_pairs([load_pairs(p) for p in pairs_paths])
    idx = pairs.indices("validation")
    window, stance = verifier.probabilities([(pairs.claim_ids(i), pairs.evidence_ids(i)) for i in idx])
    verdict = window
    if verifier.config.sentence_support:  # read as at inference: the best of window and sentences
        singles = [(n, t) for n, i in enumerate(idx) for t in pairs.evidence_texts(i)]
        alone, _ = verifier.probabilities([(pairs.claim_ids(idx[n]), pairs.text(t)) for n, t in singles])
        by_pair: dict[int, list[torch.Tensor]] = {}
        for (n, _), p in zip(singles, alone, strict=True):
            by_pair.setdefault(n, []).append(p)
        options = [[v, *by_pair.get(n, [])] for n, v in enumerate(window)]
        verdict = torch.stack([o[best_supported(o)] for o in options])
    return Validation(
        verdict=verdict.numpy(),
        window=window.numpy(),
        stance=stance.numpy(),
        verdict_label=pairs.verdict[idx].astype(int),
        stance_label=pairs.stance[idx].astype(int),
        sources=np.array([pairs.source_of(i) for i in idx]),
    )


def _data(paths: list[Path]) -> list[dict[str, str]]:
    return [{"path": str(p), "sha256": file_sha256(p), "split": "validation"} for p in paths]


def _command(paths: list[Path]) -> str:
    return f"python -m opslens.training.verifier_threshold --pairs {' '.join(map(str, paths))} --write"


def choose_threshold(val: Validation, pairs_paths: list[Path]) -> dict[str, Any]:
    has = val.verdict_label >= 0
    scores, positive = val.verdict[has, SUPPORTED], val.verdict_label[has] == SUPPORTED
    threshold, acc = best_threshold(scores, positive)
    return {
        "value": round(threshold, 4),
        "balanced_accuracy": round(100 * acc, 2),
        "balanced_accuracy_at_0.5": round(100 * balanced_accuracy(positive, scores >= 0.5), 2),
        "roc_auc": round(100 * float(roc_auc_score(positive, scores)), 2),
        "examples": int(has.sum()),
        "supported": int(positive.sum()),
        "sources": len(set(val.sources[has].tolist())),
        "data": _data(pairs_paths),
        "method": "the threshold on calibrated P(supported) maximising the balanced accuracy of "
        "supported (entailment) vs not (neutral, contradiction) over the validation pairs with a "
        "verdict label (middle of the best plateau)",
        "command": _command(pairs_paths),
    }


def vetoed(stance: np.ndarray, contradicted: np.ndarray, veto: float | None) -> np.ndarray:
    """Stance labels (argmax), an agree whose P(contradicted) reaches `veto` made disagree."""
    labels = stance.argmax(1)
    if veto is not None:
        labels[(labels == AGREE) & (contradicted >= veto)] = DISAGREE
    return labels


def stance_macro_f1(val: Validation, rows: np.ndarray, predicted: np.ndarray) -> float:
    """Macro-F1 (x100) of predicted stance labels against those of the selected validation rows."""
    return 100 * float(f1_score(val.stance_label[rows], predicted, labels=[0, 1, 2], average="macro"))


def choose_veto(val: Validation, pairs_paths: list[Path]) -> dict[str, Any]:
    fnc = val.stance_label >= 0
    negation = val.sources == NEGATION

    def macro_f1(veto: float | None) -> float:
        return stance_macro_f1(val, fnc, vetoed(val.stance[fnc], val.window[fnc, CONTRADICTED], veto))

    def negations_agreed(veto: float | None) -> float:
        return float((vetoed(val.stance[negation], val.window[negation, CONTRADICTED], veto) == AGREE).mean())

    base = macro_f1(None)
    grid = [round(v, 2) for v in np.arange(0.5, 1.0, 0.05)]
    allowed = [v for v in grid if macro_f1(v) >= base]
    veto = min(allowed) if allowed else None
    return {
        "value": veto,
        "stance_macro_f1": round(macro_f1(veto), 2),
        "stance_macro_f1_without": round(base, 2),
        "negations_called_agree": round(negations_agreed(veto), 3),
        "negations_called_agree_without": round(negations_agreed(None), 3),
        "fnc1_related_pairs": int(fnc.sum()),
        "negation_pairs": int(negation.sum()),
        "data": _data(pairs_paths),
        "method": "the lowest P(contradicted) on a 0.05 grid from 0.5 at which turning agree into "
        "disagree does not lower the stance macro-F1 on the validation FNC-1 related pairs",
        "command": _command(pairs_paths),
    }


def choose_support_rule(val: Validation, veto: float | None, pairs_paths: list[Path]) -> dict[str, Any]:
    """Whether an `agree` (after the veto) whose verdict is not_found becomes `discuss`: kept when
    it does not lower the stance macro-F1 on the validation FNC-1 related pairs."""
    fnc = val.stance_label >= 0
    base = vetoed(val.stance[fnc], val.window[fnc, CONTRADICTED], veto)
    ruled = base.copy()
    ruled[(ruled == AGREE) & (val.verdict[fnc].argmax(1) == NLI_LABELS.index("neutral"))] = DISCUSS

    def macro_f1(pred: np.ndarray) -> float:
        return stance_macro_f1(val, fnc, pred)

    return {
        "value": bool(macro_f1(ruled) >= macro_f1(base)),
        "stance_macro_f1": round(macro_f1(ruled), 2),
        "stance_macro_f1_without": round(macro_f1(base), 2),
        "agree_turned_discuss": int((ruled != base).sum()),
        "fnc1_related_pairs": int(fnc.sum()),
        "data": _data(pairs_paths),
        "method": "kept when turning agree into discuss where the verdict is not_found does not lower "
        "the stance macro-F1 on the validation FNC-1 related pairs (after the veto)",
        "command": _command(pairs_paths),
    }


def write(artifact: Path, chosen: dict[str, dict[str, Any]]) -> None:
    """Store the chosen values ({config key: record}) in verifier.json (config and training
    record) and re-render the card."""
    path = artifact / f"{COMPONENT}.json"
    meta = read_component_meta(artifact, COMPONENT)
    for key, record in chosen.items():
        meta["config"][key] = record["value"]
        meta["training"][key] = record
    path.write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    write_card(artifact)


def main(argv: list[str] | None = None) -> int:
    prog = "python -m opslens.training.verifier_threshold"
    parser = argparse.ArgumentParser(prog=prog, description=__doc__)
    parser.add_argument(
        "--pairs", type=Path, nargs="+", default=[Path(".gpu/verifier_pairs.npz")], help="pairs files"
    )
    parser.add_argument(
        "--claims-config",
        type=Path,
        nargs="*",
        default=[],
        help="verifier training configs whose validation claims choose the name contrast margin",
    )
    parser.add_argument("--artifact", type=Path, default=SHIPPED_ARTIFACT)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument(
        "--contrast-only",
        action="store_true",
        help="choose the name contrast margin alone, at the artifact's consistency threshold (no pairs)",
    )
    for key, (flag, meaning) in RULES.items():
        parser.add_argument(
            flag,
            choices=["on", "off"],
            default=None,
            help=f"{meaning} (VerifierConfig.{key}); default: the artifact's",
        )
    parser.add_argument(
        "--backend",
        choices=BACKENDS,
        default="torch",
        help="read the claims with this backend (--contrast-only, print only); default torch",
    )
    parser.add_argument("--write", action="store_true", help="store it in the artifact (else print only)")
    args = parser.parse_args(argv)
    if args.contrast_only and not args.claims_config:
        parser.error("--contrast-only needs --claims-config (the configs whose validation claims choose it)")
    if args.backend != "torch" and (args.write or not args.contrast_only):
        parser.error("--backend other than torch measures the name contrast: --contrast-only, no --write")
    if args.threads:
        torch.set_num_threads(args.threads)
    from opslens.model.encoder import load_encoder

    encoder = load_encoder(args.backend, threads=args.threads)
    verifier = ClaimVerifier.load(args.artifact, encoder, backend=args.backend, threads=args.threads)
    verifier.config = verifier.config.model_copy(update=_rules_given(args))
    if args.contrast_only:
        return _contrast_only(verifier, args)
    val = validation_probabilities(verifier, args.pairs)
    chosen = {
        "consistency_threshold": choose_threshold(val, args.pairs),
        "stance_veto": choose_veto(val, args.pairs),
    }
    if args.claims_config:
        claims = [c for path in args.claims_config for c in validation_claims(path)]
        verifier.config = verifier.config.model_copy(
            update={"consistency_threshold": chosen["consistency_threshold"]["value"]}
        )
        configs = " ".join(map(str, args.claims_config))
        command = f"{_command(args.pairs)}{_rule_flags(verifier)} --claims-config {configs}"
        chosen["name_contrast"] = choose_name_contrast(
            contrast_readings(verifier, claims),
            chosen["consistency_threshold"]["value"],
            args.claims_config,
            command,
        )
        chosen |= _rule_records(verifier, command)
    chosen["agree_needs_support"] = choose_support_rule(val, chosen["stance_veto"]["value"], args.pairs)
    return _report(chosen, args)


def _contrast_only(verifier: ClaimVerifier, args: argparse.Namespace) -> int:
    """The name contrast margin alone (for new variants on the same weights), at the threshold the
    artifact holds; --write stores it and the rules (`RULES`) it was chosen with."""
    claims = [c for path in args.claims_config for c in validation_claims(path)]
    backend = "" if args.backend == "torch" else f" --backend {args.backend}"
    configs = " ".join(map(str, args.claims_config))
    command = (
        f"python -m opslens.training.verifier_threshold --contrast-only{_rule_flags(verifier)}{backend} "
        f"--claims-config {configs}{'' if backend else ' --write'}"
    )
    threshold = verifier.config.consistency_threshold
    chosen = {
        "name_contrast": choose_name_contrast(
            contrast_readings(verifier, claims), threshold, args.claims_config, command
        ),
        **_rule_records(verifier, command),
    }
    return _report(chosen, args)


def _report(chosen: dict[str, dict[str, Any]], args: argparse.Namespace) -> int:
    """Print the chosen values with their records; with --write, store them in the artifact."""
    print(json.dumps(chosen, indent=2))
    if args.write:
        write(args.artifact, chosen)
        values = ", ".join(f"{key}={record['value']}" for key, record in chosen.items())
        print(f"wrote {values} into {args.artifact}")
    return 0


def _rules_given(args: argparse.Namespace) -> dict[str, bool]:
    """The rules set on the command line, as VerifierConfig updates."""
    given = {
        key: getattr(args, flag.removeprefix("--").replace("-", "_")) for key, (flag, _) in RULES.items()
    }
    return {key: value == "on" for key, value in given.items() if value is not None}


def _rule_flags(verifier: ClaimVerifier) -> str:
    """The rules the claims were read with, as the flags that repeat that reading."""
    return "".join(
        f" {flag} {'on' if getattr(verifier.config, key) else 'off'}" for key, (flag, _) in RULES.items()
    )


def _rule_records(verifier: ClaimVerifier, command: str) -> dict[str, dict[str, Any]]:
    """The rules the margin was chosen with, stored beside it (they change what it reads)."""
    return {key: {"value": getattr(verifier.config, key), "command": command} for key in RULES}


if __name__ == "__main__":
    sys.exit(main())
