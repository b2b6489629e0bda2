"""Summarization suites (CNN/DailyMail and BBC held-out sets): the model's modes against lead-3,
lead cut to the system's own length in words, random-3 and (abstractive) the zero-shot base
generator, on the same articles; their report section and figure.

Every summary comes from the public `OpsLens.analyze_batch`; baselines read the same
cleaned sentences (`parse_document`), so the comparison is about choice, not cleaning.
Faithfulness figures come from the same guard the service runs (`model/faithfulness/`):
for abstractive systems on what the generator wrote (before the policy) and on what the user
gets (after it); for extractive systems and the references as a reading of the guard itself
(extractive sentences are the article's, so anything flagged there is a guard false alarm).
"""

from __future__ import annotations

import copy
import random
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from tqdm import tqdm

from opslens.eval import plots
from opslens.eval.faithfulness import figures
from opslens.eval.registry import DATA, Outcome, RunConfig, Suite, register
from opslens.eval.report import per_mode, system_name, systems
from opslens.eval.rouge import ROUGE_TYPES, rouge_per_example, rouge_with_ci
from opslens.model.faithfulness import check
from opslens.model.options import DEFAULT_MAX_SENTENCES, DEFAULT_MAX_WORDS, DEFAULT_POLICY, Mode, Policy
from opslens.model.pipeline import AnalysisRequest, OpsLens
from opslens.model.results import Analysis, Faithfulness
from opslens.model.text import Document, parse_document, split_sentences, words

FIELDS = ("id", "article", "summary")


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for lo in range(0, len(items), size):
        yield items[lo : lo + size]


def lead_k(sentences: Sequence[str], k: int) -> list[str]:
    return list(sentences[:k])


def lead_words(sentences: Sequence[str], n_words: int) -> list[str]:
    """The article's first `n_words` words, in its sentences: lead at a system's own length, so
    that a longer summary cannot beat lead on length alone."""
    out: list[str] = []
    for sentence in sentences:
        if n_words <= 0:
            break
        taken = sentence.split()[:n_words]
        out.append(" ".join(taken))
        n_words -= len(taken)
    return out


# A sentence end glued to the next sentence ("on its assets.State-owned Rosneft"), as in BBC News
# Summary's references.
GLUED = re.compile(r"(?<=[a-z0-9%)\]][.!?])(?=[A-Z])|(?<=[.!?][\"'])(?=[A-Z])")


def matched_lead(mode: str) -> str:
    """The name of the baseline that cuts the lead to `mode`'s length, article by article."""
    return f"lead, {mode}'s length"


def reference_lines(summary: str) -> str:
    """A reference with one sentence per line, as ROUGE-Lsum expects: kept as it is when it comes
    so (CNN/DailyMail highlights), else split into sentences."""
    if "\n" in summary.strip():
        return summary
    return _lines(GLUED.sub(" ", summary))


def random_k(sentences: Sequence[str], k: int, rng: random.Random) -> list[str]:
    picked = sorted(rng.sample(range(len(sentences)), min(k, len(sentences))))
    return [sentences[i] for i in picked]


def _figures(preds: Sequence[str], refs: Sequence[str], articles: Sequence[str], n_bootstrap: int) -> dict:
    ci = rouge_with_ci(preds, refs, n_samples=n_bootstrap)
    summary_words = [len(words(p)) for p in preds]
    article_words = [len(words(a)) for a in articles]
    return {
        **{k: round(ci[k]["f1"], 3) for k in ROUGE_TYPES},
        "ci95": {k: [round(ci[k]["low"], 3), round(ci[k]["high"], 3)] for k in ROUGE_TYPES},
        "summary_words_mean": round(sum(summary_words) / len(preds), 2),
        "compression_mean": round(
            sum(a / max(s, 1) for a, s in zip(article_words, summary_words, strict=True)) / len(preds), 2
        ),
    }


def _lines(summary: str) -> str:
    """One sentence per line: what ROUGE-Lsum expects."""
    return "\n".join(" ".join(s.text.split()) for s in split_sentences(summary))


def predict(
    model: OpsLens,
    rows: Sequence[dict[str, Any]],
    *,
    mode: Mode,
    max_sentences: int = DEFAULT_MAX_SENTENCES,
    max_words: int = DEFAULT_MAX_WORDS,
    policy: Policy = DEFAULT_POLICY,
    batch_size: int = 8,
) -> list[Analysis]:
    desc = f"{mode} ({model.info.generator})" if mode == "abstractive" else mode
    out: list[Analysis] = []
    for batch in tqdm(list(_chunks(rows, batch_size)), desc=desc, mininterval=5):
        out += model.analyze_batch(
            [
                AnalysisRequest(
                    text=r["article"],
                    title=r.get("title"),
                    max_sentences=max_sentences,
                    mode=mode,
                    max_words=max_words,
                    policy=policy,
                )
                for r in batch
            ]
        )
    return out


def faithfulness_figures(results: Sequence[Faithfulness]) -> dict[str, Any]:
    """The guard's corpus figures on the generated text, plus what the policy did and how much
    of the final (served) text still carries an unsupported span."""
    raw = {k: round(v, 4) for k, v in figures(results).items()}
    actions: dict[str, int] = {}
    for r in results:
        actions[r.action] = actions.get(r.action, 0) + 1
    final = sum(r.action == "flagged" for r in results) / len(results)
    return {**raw, "actions": actions, "share_final_with_unsupported": round(final, 4)}


def guard_reading(articles: Sequence[Document], texts: Sequence[str]) -> dict[str, Any]:
    """Faithfulness figures for texts no generator wrote (extractive summaries, references),
    with lexical alignment: only the unsupported-span counts matter here."""
    return {
        k: round(v, 4)
        for k, v in figures(
            [check(a, t, policy="flag") for a, t in zip(articles, texts, strict=True)]
        ).items()
    }


def run_summarization(
    model: OpsLens,
    rows: Sequence[dict[str, Any]],
    *,
    modes: Sequence[Mode] = ("extractive",),
    zero_shot: OpsLens | None = None,
    max_sentences: int = DEFAULT_MAX_SENTENCES,
    max_words: int = DEFAULT_MAX_WORDS,
    policy: Policy = DEFAULT_POLICY,
    batch_size: int = 8,
    n_bootstrap: int = 1000,
    seed: int = 0,
    frozen_baseline: bool = True,
) -> tuple[dict, dict, list[dict], dict]:
    """Returns (metrics of the first mode, baselines, per-example records, figures per mode)."""
    articles = [r["article"] for r in rows]
    refs = [reference_lines(r["summary"]) for r in rows]
    docs = [parse_document(a) for a in articles]  # once: the baselines and the guard read them
    kwargs = {
        "max_sentences": max_sentences,
        "max_words": max_words,
        "policy": policy,
        "batch_size": batch_size,
    }

    per_mode: dict[str, dict] = {}
    preds: dict[str, list[str]] = {}
    for mode in modes:
        results = predict(model, rows, mode=mode, **kwargs)
        preds[mode] = [_lines(r.summary) for r in results]
        per_mode[mode] = _figures(preds[mode], refs, articles, n_bootstrap)
        if mode == "abstractive":
            per_mode[mode]["faithfulness"] = faithfulness_figures([r.faithfulness for r in results])
            per_mode[mode]["generator"] = model.info.generator
        else:
            per_mode[mode]["faithfulness"] = guard_reading(docs, [r.summary for r in results])

    rng = random.Random(seed)
    sentences = [[s.normalized for s in d.sentences] for d in docs]
    lead = ["\n".join(lead_k(s, max_sentences)) for s in sentences]
    rand = ["\n".join(random_k(s, max_sentences, rng)) for s in sentences]
    baselines = {f"lead{max_sentences}": _figures(lead, refs, articles, n_bootstrap)}
    for mode in modes:
        # Lead at each mode's own length, article by article: no mode wins on length alone.
        budgets = [len(p.split()) for p in preds[mode]]
        matched = ["\n".join(lead_words(s, n)) for s, n in zip(sentences, budgets, strict=True)]
        baselines[matched_lead(mode)] = _figures(matched, refs, articles, n_bootstrap)
    baselines[f"random{max_sentences}"] = _figures(rand, refs, articles, n_bootstrap)
    if frozen_baseline and "extractive" in modes and model.extractor is not None:
        # The same artifact's scorer over frozen sentence vectors: what the fine-tuned encoder adds.
        frozen = copy.copy(model)
        frozen.extractor = None
        results = predict(frozen, rows, mode="extractive", **kwargs)
        preds["frozen"] = [_lines(r.summary) for r in results]
        baselines["extractive, frozen vectors"] = _figures(preds["frozen"], refs, articles, n_bootstrap)
    if zero_shot is not None:
        results = predict(zero_shot, rows, mode="abstractive", **kwargs)
        preds["zero_shot"] = [_lines(r.summary) for r in results]
        baselines["zero-shot SmolLM2"] = {
            **_figures(preds["zero_shot"], refs, articles, n_bootstrap),
            "faithfulness": faithfulness_figures([r.faithfulness for r in results]),
        }
    baselines["reference"] = {"faithfulness": guard_reading(docs, refs)}

    scores = {name: rouge_per_example(p, refs) for name, p in preds.items()}
    per_lead = rouge_per_example(lead, refs)
    records = []
    for i, row in enumerate(rows):
        rec: dict[str, Any] = {"id": row["id"], "reference": row["summary"], "lead": lead[i]}
        for name, p in preds.items():
            key = "prediction" if name == modes[0] else f"prediction_{name}"
            rec[key] = p[i]
            suffix = "" if name == modes[0] else f"_{name}"
            rec.update({f"{k}{suffix}": round(v, 3) for k, v in scores[name][i].items()})
        rec["lead_rouge1"] = round(per_lead[i]["rouge1"], 3)
        records.append(rec)
    return per_mode[modes[0]], baselines, records, per_mode


def _run(
    model: OpsLens, zero_shot: OpsLens | None, rows: Sequence[dict[str, Any]], config: RunConfig
) -> Outcome:
    metrics, baselines, records, per_mode = run_summarization(
        model,
        rows,
        modes=config.modes,
        zero_shot=zero_shot,
        max_sentences=config.max_sentences,
        max_words=config.max_words,
        policy=config.policy,
        n_bootstrap=config.n_bootstrap,
        frozen_baseline=config.frozen_baseline,
    )
    return Outcome(metrics, baselines, records, per_mode)


def _faithfulness_table(rows: dict[str, dict[str, Any]]) -> list[str]:
    rows = {name: f["faithfulness"] for name, f in rows.items() if "faithfulness" in f}
    if not rows:
        return []
    lines = [
        "",
        "Faithfulness (the service's guard; for generators on the text as generated, before the policy):",
        "",
        "| system | with >=1 unsupported entity/number | with any unsupported span | spans per summary "
        "| served with unsupported | policy actions | article sentences served per summary |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, f in rows.items():
        served = f.get("share_final_with_unsupported")
        actions = ", ".join(f"{k} {v}" for k, v in f.get("actions", {}).items()) or "–"
        quoted = f.get("quoted_sentences_per_summary") if "actions" in f else None
        lines.append(
            f"| {name} | {100 * f['share_with_unsupported_entity_or_number']:.1f}% "
            f"| {100 * f['share_with_unsupported']:.1f}% | {f['unsupported_spans_per_summary']:.2f} "
            f"| {'–' if served is None else f'{100 * served:.1f}%'} | {actions} "
            f"| {'–' if quoted is None else f'{quoted:.2f}'} |"
        )
    return lines + _verdict_table(rows)


def _verdict_table(rows: dict[str, dict[str, Any]]) -> list[str]:
    rows = {name: f for name, f in rows.items() if "judged_sentences" in f}
    if not rows:
        return []
    lines = [
        "",
        "The claim verifier on generated sentences (before the policy: all written; after: those served):",
        "",
        "| system | sentences | contradicted before | not found before | served | contradicted after "
        "| not found after |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, f in rows.items():
        lines.append(
            f"| {name} | {f['judged_sentences']:.0f} | {100 * f['share_sentences_contradicted']:.1f}% "
            f"| {100 * f['share_sentences_not_found']:.1f}% | {f['served_sentences']:.0f} "
            f"| {100 * f['share_served_contradicted']:.1f}% | {100 * f['share_served_not_found']:.1f}% |"
        )
    return lines


def section(results: dict[str, Any]) -> list[str]:
    leads = {k: v for k, v in results["baselines"].items() if k.startswith("lead") and "rouge1" in v}
    lines = [""]
    for mode, scored in per_mode(results).items():
        if "rouge1" not in scored:
            continue
        # Each mode against lead-k and against the lead cut to its own length, not another mode's.
        for lead_name, lead in leads.items():
            if "'s length" in lead_name and lead_name != matched_lead(mode):
                continue
            ratio = scored["rouge1"] / max(lead["rouge1"], 1e-9)
            lines.append(f"ROUGE-1 ratio {system_name(mode)} / {lead_name}: {ratio:.3f}")
    return [
        *lines,
        "ROUGE: F1 x 100, 95% bootstrap CI in brackets (rouge-score, stemming, Lsum on sentences).",
        *_faithfulness_table(systems(results)),
    ]


def draw(results: dict[str, Any], out: Path) -> list[str]:
    scored = {name: f for name, f in systems(results).items() if "rouge1" in f}
    name = f"{results.get('suite', 'summarization')}_rouge.png"
    plots.bars_with_ci(
        out / name,
        scored,
        ROUGE_TYPES,
        title=f"ROUGE on {results['provenance']['examples']} articles (95% bootstrap CI)",
        ylabel="F1 x 100",
    )
    return [name]


def _suite(name: str, description: str, data: Path) -> Suite:
    return register(
        Suite(
            name=name,
            description=description,
            data=data,
            fields=FIELDS,
            headline=("rouge1", "rouge2", "rougeLsum", "summary_words_mean"),
            run=_run,
            section=section,
            plots=draw,
            summarizes=True,
        )
    )


SUITE = _suite(
    "summarization",
    "news summaries against lead-k, random-k and the zero-shot generator",
    DATA / "news_heldout.jsonl.gz",
)
BBC = _suite(
    "summarization-bbc",
    "cased BBC news (references: long extractive selections) against the same baselines",
    DATA / "bbc_heldout.jsonl.gz",
)
