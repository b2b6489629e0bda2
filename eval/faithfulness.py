"""Corpus figures of the faithfulness guard for an evaluation report."""

from __future__ import annotations

from collections.abc import Sequence

from opslens.model.results import Faithfulness


def figures(results: Sequence[Faithfulness]) -> dict[str, float]:
    """Corpus figures for an evaluation report: how often and how much summaries state what
    their article does not."""
    if not results:
        raise ValueError("no results to summarise")
    n = len(results)
    out = {
        "summaries": float(n),
        "share_with_unsupported": sum(bool(r.unsupported) for r in results) / n,
        "share_with_unsupported_entity_or_number": sum(
            any(s.kind in ("entity", "number") for s in r.unsupported) for r in results
        )
        / n,
        "unsupported_spans_per_summary": sum(len(r.unsupported) for r in results) / n,
    }
    for kind in ("number", "date", "entity", "rare_word"):
        out[f"unsupported_{kind}_per_summary"] = (
            sum(sum(s.kind == kind for s in r.unsupported) for r in results) / n
        )
    return out
