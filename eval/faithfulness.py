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
        # replace_sentence: how much of what is served is the article's own text, not written.
        "quoted_sentences_per_summary": sum(len(r.quoted) for r in results) / n,
    }
    for kind in ("number", "date", "entity", "rare_word"):
        out[f"unsupported_{kind}_per_summary"] = (
            sum(sum(s.kind == kind for s in r.unsupported) for r in results) / n
        )
    return out | verdict_shares(results)


def verdict_shares(results: Sequence[Faithfulness]) -> dict[str, float]:
    """The claim verifier's verdicts on generated sentences: the share it calls contradicted or
    not found among all of them (before the policy) and among those served (after it). Empty
    when no verifier judged the sentences."""
    written = [s for r in results for s in r.sentences if s.verdict is not None]
    if not written:
        return {}
    served = [s for s in written if s.kept]
    out = {"judged_sentences": float(len(written)), "served_sentences": float(len(served))}
    for verdict in ("contradicted", "not_found"):
        out[f"share_sentences_{verdict}"] = sum(s.verdict == verdict for s in written) / len(written)
        out[f"share_served_{verdict}"] = sum(s.verdict == verdict for s in served) / max(len(served), 1)
    return out
