"""Factual-consistency suite: does the claim verifier tell a consistent summary from an
inconsistent one, on human labels, better than today's lexical guard?

Rows hold `document`, `summary` and `label` (1 = consistent with the document, 0 = not), and
optionally `source` (or `domain`) for the per-source breakdown. Every summary goes through
the public `OpsLens.verify_batch`, exactly what `POST /verify` calls; the model says
`consistent` when its consistency score (the lowest P(supported) over the summary's sentences)
reaches the threshold stored in the artifact, chosen on the verifier's validation pairs and
never on the file scored here. In the same run, on the same rows:

- the lexical guard alone (today's reading): "any unsupported number, date, name or rare
  word -> inconsistent", from the faithfulness guard's span checks (`faithfulness.check`);
- for reference, two other readings of the same verifier output: every sentence's top verdict
  is `supported`, and that plus no unsupported span (verdicts and span checks together).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from tqdm import tqdm

from opslens.eval import plots
from opslens.eval.factcheck_metrics import (
    binary_metrics,
    bootstrap_ci,
    by_source,
    oracle_threshold,
    roc_points,
)
from opslens.eval.registry import DATA, Outcome, RunConfig, Suite, register
from opslens.model.errors import NoSentencesError
from opslens.model.faithfulness import check
from opslens.model.pipeline import OpsLens
from opslens.model.results import Verification
from opslens.model.text import parse_document
from opslens.model.verification import VerifyRequest

FIELDS = ("document", "summary", "label")
LEXICAL = "lexical guard (any unsupported span)"
VERDICTS_ONLY = "every sentence's top verdict supported"
VERDICTS_AND_SPANS = "top verdicts supported and no unsupported span"


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for lo in range(0, len(items), size):
        yield items[lo : lo + size]


def _source(row: dict[str, Any]) -> str:
    return str(row.get("source") or row.get("domain") or "all")


def verify_rows(
    model: OpsLens, rows: Sequence[dict[str, Any]], batch_size: int = 8
) -> list[Verification | str]:
    """One Verification per row, or the reason the API refused it (a document without an article
    sentence, a summary without a sentence): a batch the API refuses is retried row by row."""
    out: list[Verification | str] = []
    for batch in tqdm(list(_chunks(rows, batch_size)), desc="factcheck", mininterval=5):
        items = [VerifyRequest(text=r["document"], summary=r["summary"]) for r in batch]
        try:
            out += model.verify_batch(items)
        except ValueError:  # NoSentencesError is one
            for item in items:
                try:
                    out += model.verify_batch([item])
                except (NoSentencesError, ValueError) as exc:
                    out.append(str(exc))
    return out


def lexical_reading(rows: Sequence[dict[str, Any]]) -> list[list[str]]:
    """The unsupported spans today's guard finds in each summary (as the service checks a
    generated summary: flag policy, lexical alignment)."""
    return [
        [s.text for s in check(parse_document(r["document"]), r["summary"], policy="flag").unsupported]
        for r in tqdm(rows, desc="lexical guard", mininterval=5)
    ]


def _scored(
    labels: Sequence[int],
    predictions: Sequence[int],
    scores: Sequence[float],
    sources: Sequence[str],
    n_bootstrap: int,
) -> dict[str, Any]:
    return {
        **binary_metrics(labels, predictions, scores),
        "ci95": bootstrap_ci(labels, predictions, scores, n_samples=n_bootstrap),
        "roc": roc_points(labels, scores),
        "per_source": by_source(sources, labels, predictions, scores),
    }


def run_factcheck(
    model: OpsLens, rows: Sequence[dict[str, Any]], *, n_bootstrap: int = 1000, batch_size: int = 8
) -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]]:
    """Returns (metrics, baselines, per-example records)."""
    labels = [int(r["label"]) for r in rows]
    sources = [_source(r) for r in rows]
    verified = verify_rows(model, rows, batch_size)
    threshold = next((v.threshold for v in verified if isinstance(v, Verification)), None)
    # A row the API refuses cannot be shown consistent: it counts as flagged, with the lowest score.
    scores = [v.score if isinstance(v, Verification) and v.score is not None else 0.0 for v in verified]
    predicted = [int(bool(v.consistent)) if isinstance(v, Verification) else 0 for v in verified]
    top_supported = [
        isinstance(v, Verification) and all(s.verdict == "supported" for s in v.summary) for v in verified
    ]
    spans = lexical_reading(rows)
    lexical = [int(not s) for s in spans]

    metrics = _scored(labels, predicted, scores, sources, n_bootstrap)
    metrics["threshold"] = threshold
    metrics["refused"] = sum(not isinstance(v, Verification) for v in verified)
    metrics["oracle_threshold"] = oracle_threshold(labels, scores)
    own_spans = [isinstance(v, Verification) and not any(s.unsupported for s in v.summary) for v in verified]
    metrics["variants"] = {
        VERDICTS_ONLY: binary_metrics(labels, [int(t) for t in top_supported], scores),
        VERDICTS_AND_SPANS: binary_metrics(
            labels, [int(t and o) for t, o in zip(top_supported, own_spans, strict=True)], scores
        ),
    }
    # The guard has no score of its own: fewer unsupported spans = more consistent (a coarse ranking).
    baselines = {LEXICAL: _scored(labels, lexical, [-len(s) for s in spans], sources, n_bootstrap)}

    records = []
    for i, (row, v) in enumerate(zip(rows, verified, strict=True)):
        rec: dict[str, Any] = {
            "id": row.get("id", i),
            "source": sources[i],
            "label": labels[i],
            "prediction": predicted[i],
            "score": scores[i],
            "lexical_prediction": lexical[i],
            "lexical_unsupported": spans[i],
        }
        if isinstance(v, Verification):
            rec["sentences"] = [
                {"text": s.text, "verdict": s.verdict, "supported": s.probabilities["supported"]}
                for s in v.summary
            ]
        else:
            rec["refused"] = v
        records.append(rec)
    return metrics, baselines, records


def _run(
    model: OpsLens, zero_shot: OpsLens | None, rows: Sequence[dict[str, Any]], config: RunConfig
) -> Outcome:
    return Outcome(*run_factcheck(model, rows, n_bootstrap=config.n_bootstrap))


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}"


def section(results: dict[str, Any]) -> list[str]:
    main = results["metrics"]
    lexical = results["baselines"].get(LEXICAL, {})
    refused = main.get("refused")
    lines = [
        "",
        f"Consistent = score >= {main['threshold']} (the threshold stored in the artifact; score = the "
        "lowest P(supported) over the summary's sentences). Balanced accuracy and ROC AUC x 100, "
        "95% bootstrap CI in brackets; the lexical guard ranks by its count of unsupported spans."
        + (f" {refused} row(s) refused by the API count as inconsistent." if refused else ""),
        "",
        "Per source (balanced accuracy / ROC AUC; consistent : inconsistent):",
        "",
        "| source | consistent : inconsistent | OpsLens | lexical guard |",
        "|---|---|---|---|",
    ]
    for src, m in main["per_source"].items():
        lex = lexical.get("per_source", {}).get(src, {})
        lines.append(
            f"| {src} | {m['consistent']} : {m['inconsistent']} | {_pct(m['balanced_accuracy'])} / "
            f"{_pct(m['roc_auc'])} | {_pct(lex.get('balanced_accuracy'))} / {_pct(lex.get('roc_auc'))} |"
        )
    lines += [
        "",
        "Inconsistent summaries caught (precision / recall / F1 of the 'inconsistent' call):",
        "",
        "| reading | balanced accuracy | precision | recall | F1 |",
        "|---|---|---|---|---|",
    ]
    readings = {"**OpsLens** (score >= threshold)": main, **main.get("variants", {}), LEXICAL: lexical}
    for name, m in readings.items():
        if m:
            lines.append(
                f"| {name} | {_pct(m['balanced_accuracy'])} | {_pct(m['precision_inconsistent'])} | "
                f"{_pct(m['recall_inconsistent'])} | {_pct(m['f1_inconsistent'])} |"
            )
    oracle = main.get("oracle_threshold")
    if oracle:
        lines += [
            "",
            f"For reference only (tuned on this very file, never used): the best threshold here would be "
            f"{oracle['threshold']}, for a balanced accuracy of {oracle['balanced_accuracy']:.1f}.",
        ]
    return lines


def _short(source: str) -> str:
    return source.split(" (")[0]


def draw(results: dict[str, Any], out: Path) -> list[str]:
    main = results["metrics"]
    if not main.get("roc"):
        return []
    lexical = results["baselines"].get(LEXICAL, {})
    curves = {f"OpsLens (AUC {main['roc_auc']:.1f})": main["roc"]}
    if lexical.get("roc"):
        curves[f"lexical guard (AUC {lexical['roc_auc']:.1f})"] = lexical["roc"]
    per_source = {
        f"{_short(src)} (AUC {m['roc_auc']:.1f})": m["roc"]
        for src, m in main["per_source"].items()
        if m["roc"]
    }
    # Operating points: false positive rate = inconsistent called consistent = 1 - their recall.
    points = {
        f"OpsLens at threshold {main['threshold']}": main,
        "lexical guard": lexical,
    }
    name = "factcheck_roc.png"
    plots.roc_curves(
        out / name,
        curves,
        per_source if len(per_source) > 1 else {},
        {
            k: (1 - m["recall_inconsistent"] / 100, m["recall_consistent"] / 100)
            for k, m in points.items()
            if m and m.get("recall_consistent") is not None
        },
        title=f"Factual consistency: ROC on {results['provenance']['examples']} summaries "
        "(positive = consistent)",
    )
    return [name]


SUITE = register(
    Suite(
        name="factcheck",
        description="human-labelled factual consistency of summaries against the lexical guard",
        data=DATA / "factcheck_heldout.jsonl.gz",
        fields=FIELDS,
        headline=("balanced_accuracy", "roc_auc", "accuracy"),
        run=_run,
        section=section,
        plots=draw,
    )
)
