"""Write an evaluation run: per-example JSONL, results.json (stable keys, a schema version),
report.md and its figures (PNG files beside it).

One suite (`opslens eval SUITE`): predictions.jsonl, results.json, report.md. Every suite
(`opslens eval all`): predictions_SUITE.jsonl per suite, one results.json holding each suite's
results as `opslens eval SUITE` writes them, and one report.md with a section per suite.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from opslens.model.options import DEFAULT_BACKEND

if TYPE_CHECKING:
    from opslens.eval.registry import Suite

SCHEMA_VERSION = 1
"""Of results.json. Raise it when a key is renamed or removed or changes meaning; adding keys is
compatible."""


def cell(figures: dict[str, Any], key: str) -> str:
    value = figures.get(key)
    if value is None:
        return "–"
    ci = figures.get("ci95", {}).get(key)
    return f"{value:.2f} [{ci[0]:.2f}, {ci[1]:.2f}]" if ci else f"{value:.2f}"


def per_mode(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """OpsLens's figures by mode: each mode when several ran, else the one ("" for a suite
    without modes)."""
    return results.get("modes") or {results.get("mode") or "": results["metrics"]}


def system_name(mode: str) -> str:
    """OpsLens's row name in the tables for `mode`."""
    return f"**OpsLens {mode}**" if mode else "**OpsLens**"


def systems(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Table rows: OpsLens (each mode when several ran), then the baselines."""
    rows = {system_name(m): f for m, f in per_mode(results).items()}
    return {**rows, **results["baselines"]}


def body(results: dict[str, Any], suite: Suite, plots: Sequence[str] = ()) -> list[str]:
    """One suite's part of a report: data and model, headline table, the suite's section, figures."""
    keys = suite.headline
    prov = results["provenance"]
    lines = [
        f"Data: `{prov['data']}` ({prov['examples']} examples, sha256 {prov['data_sha256'][:12]}); "
        f"model {prov['model']['name']} {prov['model']['version']}, "
        f"{prov['model'].get('backend', DEFAULT_BACKEND)} encoder.",
        "",
        "| system | " + " | ".join(keys) + " |",
        "|---" * (len(keys) + 1) + "|",
    ]
    for name, figures in systems(results).items():
        if any(k in figures for k in keys):
            lines.append(f"| {name} | " + " | ".join(cell(figures, k) for k in keys) + " |")
    lines += suite.section(results)
    if plots:
        lines += ["", *(f"![{name.removesuffix('.png')}]({name})" for name in plots)]
    return lines


def markdown(results: dict[str, Any], suite: Suite, plots: Sequence[str] = ()) -> str:
    return "\n".join(
        [
            f"# OpsLens evaluation: {suite.name}",
            "",
            *body(results, suite, plots),
            "",
            f"Command: `{results['provenance']['command']}`",
            "",
        ]
    )


def markdown_all(combined: dict[str, Any], suites: Mapping[str, Suite]) -> str:
    prov = combined["provenance"]
    model = prov["model"]
    lines = [
        "# OpsLens evaluation",
        "",
        f"Model {model['name']} {model['version']}, {model.get('backend', DEFAULT_BACKEND)} encoder"
        + (f", generator {model['generator']}" if model.get("generator") else "")
        + f"; {len(combined['suites'])} suites on their committed held-out sets in {prov['seconds']} s.",
    ]
    for name, results in combined["suites"].items():
        lines += ["", f"## {name}", "", *body(results, suites[name], combined["plots"].get(name, ()))]
    lines += ["", f"Command: `{prov['command']}`", ""]
    return "\n".join(lines)


def _write_records(path: Path, records: list[dict[str, Any]]) -> None:
    with open(path, "w", encoding="utf-8") as f:
        for rec in records:
            f.write(json.dumps(rec, ensure_ascii=False) + "\n")


def _write_json(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def write_run(out: Path, results: dict[str, Any], records: list[dict[str, Any]], suite: Suite) -> list[str]:
    """One suite's run into `out`; returns the names of the figures written."""
    out.mkdir(parents=True, exist_ok=True)
    _write_records(out / "predictions.jsonl", records)
    plots = suite.plots(results, out)
    _write_json(out / "results.json", results)
    (out / "report.md").write_text(markdown(results, suite, plots), encoding="utf-8")
    return plots


Runs = Mapping[str, tuple[dict[str, Any], list[dict[str, Any]]]]
"""Suite name -> (results, per-example records)."""


def combine(runs: Runs, plots: Mapping[str, list[str]], provenance: dict[str, Any]) -> dict[str, Any]:
    """The results.json of `opslens eval all`: each suite's results as `opslens eval SUITE`
    writes them, the figures drawn for each, and the run's provenance."""
    return {
        "schema_version": SCHEMA_VERSION,
        "suites": {name: results for name, (results, _) in runs.items()},
        "plots": dict(plots),
        "provenance": provenance,
    }


def write_all(
    out: Path, runs: Runs, suites: Mapping[str, Suite], provenance: dict[str, Any]
) -> dict[str, Any]:
    """Every suite's run into `out`, one results.json and one report.md; returns the results."""
    out.mkdir(parents=True, exist_ok=True)
    plots = {}
    for name, (results, records) in runs.items():
        _write_records(out / f"predictions_{name}.jsonl", records)
        plots[name] = suites[name].plots(results, out)
    combined = combine(runs, plots, provenance)
    _write_json(out / "results.json", combined)
    (out / "report.md").write_text(markdown_all(combined, suites), encoding="utf-8")
    return combined
