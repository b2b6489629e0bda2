"""Write an evaluation run: per-example JSONL, results.json (stable keys), report.md."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

HEADLINE = {
    "summarization": ("rouge1", "rouge2", "rougeLsum", "summary_words_mean"),
    "stance": ("fnc_score", "accuracy", "macro_f1"),
}


def _cell(figures: dict[str, Any], key: str) -> str:
    value = figures.get(key)
    if value is None:
        return "–"
    ci = figures.get("ci95", {}).get(key)
    return f"{value:.2f} [{ci[0]:.2f}, {ci[1]:.2f}]" if ci else f"{value:.2f}"


def _systems(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Table rows: OpsLens (each mode when several ran), then the baselines."""
    modes = results.get("modes") or {results.get("mode") or "": results["metrics"]}
    rows = {(f"**OpsLens {m}**" if m else "**OpsLens**"): f for m, f in modes.items()}
    return {**rows, **results["baselines"]}


def _faithfulness_table(systems: dict[str, dict[str, Any]]) -> list[str]:
    rows = {name: f["faithfulness"] for name, f in systems.items() if "faithfulness" in f}
    if not rows:
        return []
    lines = [
        "",
        "Faithfulness (the service's guard; for generators on the text as generated, before the policy):",
        "",
        "| system | with >=1 unsupported entity/number | with any unsupported span | spans per summary "
        "| served with unsupported | policy actions |",
        "|---|---|---|---|---|---|",
    ]
    for name, f in rows.items():
        served = f.get("share_final_with_unsupported")
        actions = ", ".join(f"{k} {v}" for k, v in f.get("actions", {}).items()) or "–"
        lines.append(
            f"| {name} | {100 * f['share_with_unsupported_entity_or_number']:.1f}% "
            f"| {100 * f['share_with_unsupported']:.1f}% | {f['unsupported_spans_per_summary']:.2f} "
            f"| {'–' if served is None else f'{100 * served:.1f}%'} | {actions} |"
        )
    return lines


def markdown(results: dict[str, Any]) -> str:
    suite = results["suite"]
    keys = HEADLINE[suite]
    prov = results["provenance"]
    lines = [
        f"# OpsLens evaluation: {suite}",
        "",
        f"Data: `{prov['data']}` ({prov['examples']} examples, sha256 {prov['data_sha256'][:12]}); "
        f"model {prov['model']['name']} {prov['model']['version']}, "
        f"{prov['model'].get('backend', 'torch')} encoder.",
        "",
        "| system | " + " | ".join(keys) + " |",
        "|---" * (len(keys) + 1) + "|",
    ]
    systems = _systems(results)
    for name, figures in systems.items():
        if any(k in figures for k in keys):
            lines.append(f"| {name} | " + " | ".join(_cell(figures, k) for k in keys) + " |")
    main = results["metrics"]
    if suite == "summarization":
        lead = next(v for k, v in results["baselines"].items() if k.startswith("lead"))
        lines.append("")
        for name, figures in systems.items():
            if name.startswith("**") and "rouge1" in figures:
                lines.append(
                    f"ROUGE-1 ratio {name} / lead: {figures['rouge1'] / max(lead['rouge1'], 1e-9):.3f}"
                )
        lines += [
            "ROUGE: F1 x 100, 95% bootstrap CI in brackets (rouge-score, stemming, Lsum on sentences).",
            *_faithfulness_table(systems),
        ]
    else:
        lines += [
            "",
            "Per class (P / R / F1, support):",
            "",
            "| label | P | R | F1 | support |",
            "|---|---|---|---|---|",
        ]
        for lab, c in main["per_class"].items():
            lines.append(
                f"| {lab} | {c['precision']:.1f} | {c['recall']:.1f} | {c['f1']:.1f} | {c['support']} |"
            )
        conf = main["confusion"]
        lines += [
            "",
            "Confusion (rows gold, columns predicted):",
            "",
            "| | " + " | ".join(conf["labels"]) + " |",
            "|---" * (len(conf["labels"]) + 1) + "|",
        ]
        lines += [
            f"| {lab} | " + " | ".join(str(x) for x in row) + " |"
            for lab, row in zip(conf["labels"], conf["matrix"], strict=True)
        ]
    lines += ["", f"Command: `{prov['command']}`", ""]
    return "\n".join(lines)


def write_run(out: Path, results: dict[str, Any], records: list[dict[str, Any]]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "predictions.jsonl", "w", encoding="utf-8") as f:
        for rec in records:
            f.write(json.dumps(rec, ensure_ascii=False) + "\n")
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    (out / "report.md").write_text(markdown(results), encoding="utf-8")
