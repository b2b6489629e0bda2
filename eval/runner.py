"""Run registered suites: load the model once, score each suite on its rows, and return results
with the provenance a reader needs to trust or reproduce them (data hash, model, config,
command, library versions, time).
"""

from __future__ import annotations

import json
import platform
import shlex
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

from opslens.corpus import load_table
from opslens.eval.registry import RunConfig, Suite
from opslens.eval.report import SCHEMA_VERSION, per_mode
from opslens.model.artifact import SHIPPED_ARTIFACT, read_manifest
from opslens.model.cache import file_sha256
from opslens.model.card import EVALUATION, write_card
from opslens.model.options import DEFAULT_BACKEND, MODES, REFERENCE_BACKEND, Backend, Engine, Mode
from opslens.model.pipeline import OpsLens

ABSTRACTIVE: Mode = "abstractive"


@dataclass(frozen=True)
class Models:
    """The model every suite scores, and the zero-shot generator a summarizing suite compares with."""

    model: OpsLens
    zero_shot: OpsLens | None
    modes: tuple[Mode, ...]


def modes_to_score(mode: Mode | None, model_path: Path | None) -> tuple[Mode, ...]:
    """One mode when asked for; else every mode the artifact can serve."""
    if mode is not None:
        return (mode,)
    folder = model_path or SHIPPED_ARTIFACT
    if ABSTRACTIVE not in read_manifest(folder).components:
        print(
            f"opslens eval: {folder} has no abstractive adapter; scoring extractive mode only",
            file=sys.stderr,
        )
        return tuple(m for m in MODES if m != ABSTRACTIVE)
    return MODES


def load_models(
    suites: Sequence[Suite],
    *,
    mode: Mode | None,
    model_path: Path | None,
    backend: Backend,
    engine: Engine,
    zero_shot: bool | None,
) -> Models:
    """Load once for all `suites`; the generator only when a summarizing suite scores abstractive mode.

    Raises AbstractiveUnavailableError or BaseModelError when the generator cannot be loaded."""
    modes = modes_to_score(mode, model_path)
    abstractive = any(s.summarizes for s in suites) and ABSTRACTIVE in modes
    model = OpsLens.load(model_path, backend=backend, abstractive=abstractive, engine=engine)
    baseline = None
    # Side by side (no --mode), the zero-shot base is the baseline that says what the adapter adds.
    if abstractive and (zero_shot if zero_shot is not None else mode is None):
        baseline = OpsLens.load(model_path, backend=backend, abstractive=True, zero_shot=True, engine=engine)
    return Models(model, baseline, modes)


def shown(path: Path) -> str:
    """The path relative to the working directory when it lies below it (no home paths in cards)."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def command_line() -> str:
    return "opslens " + " ".join(shlex.quote(a) for a in sys.argv[1:])


def libraries(backend: Backend, generator_engine: Engine | None) -> dict[str, str]:
    """Versions of what produced the figures; `generator_engine` None when no generator ran."""
    return {
        p: version(p)
        for p in ("opslens", "torch", "transformers", "rouge-score", "datasets", "scikit-learn")
        + (("onnxruntime",) if backend == "onnx" else ())
        + (("ctranslate2",) if generator_engine == "ct2" else ())
        + (("onnxruntime-genai",) if generator_engine == "ort" else ())
    }


def run_suite(
    suite: Suite,
    models: Models,
    config: RunConfig,
    *,
    data: Path | None = None,
    limit: int | None = None,
    model_path: Path | None = None,
    backend: Backend = DEFAULT_BACKEND,
    generator_engine: Engine,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Score one suite on `data` (default: its committed held-out set); returns (results, records).

    results holds the keys `opslens eval SUITE` has always written, plus `schema_version`."""
    data = data or suite.data
    rows = list(load_table(data, suite.fields, limit))
    modes = models.modes if suite.summarizes else ()
    generates = ABSTRACTIVE in modes
    started = time.perf_counter()
    outcome = suite.run(models.model, models.zero_shot if generates else None, rows, config)
    seconds = time.perf_counter() - started
    results = {
        "schema_version": SCHEMA_VERSION,
        "suite": suite.name,
        "mode": modes[0] if modes else None,
        "metrics": outcome.metrics,
        **({"modes": outcome.per_mode} if len(outcome.per_mode) > 1 else {}),
        "baselines": outcome.baselines,
        "provenance": {
            "data": shown(data),
            "data_sha256": file_sha256(data),
            "examples": len(rows),
            "model": models.model.info.model_dump(),
            "model_path": str(model_path or SHIPPED_ARTIFACT),
            "config": {
                "max_sentences": config.max_sentences,
                "bootstrap": config.n_bootstrap,
                "limit": limit,
                **(
                    {
                        "max_words": config.max_words,
                        "policy": config.policy,
                        "generator_engine": generator_engine,
                    }
                    if generates
                    else {}
                ),
            },
            "command": command_line(),
            "seconds": round(seconds, 1),
            "seconds_per_example": round(seconds / max(len(rows), 1), 4),
            "libraries": libraries(backend, generator_engine if generates else None),
            "python": platform.python_version(),
            "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        },
    }
    return results, outcome.records


def _kept(figures: dict[str, Any], keep: tuple[str, ...]) -> dict[str, Any]:
    """Headline figures, plus the faithfulness share where there is one."""
    out = {k: figures[k] for k in keep if k in figures}
    share = figures.get("faithfulness", {}).get("share_with_unsupported_entity_or_number")
    if share is not None:
        out["share_with_unsupported_entity_or_number"] = share
    return out


def record(folder: Path, suite: Suite, results: dict[str, Any], backend: Backend) -> None:
    """Store a run's headline figures in the artifact's evaluation.json and rewrite its card."""
    path = folder / EVALUATION
    recorded = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    prov = results["provenance"]
    data_name = Path(prov["data"]).name
    # One record per suite, data file and mode, so held-out and full-test figures sit side by
    # side. The torch encoder is the reference; other backends' figures sit beside it.
    suffix = "" if backend == REFERENCE_BACKEND else f" ({backend} encoder)"
    # The command names its backend, so that it reproduces the figure whatever the default is.
    command = prov["command"] if "--backend" in prov["command"] else f"{prov['command']} --backend {backend}"
    for mode, figures in per_mode(results).items():
        label = f" [{mode}]" if mode == ABSTRACTIVE else ""
        # An abstractive figure depends on the policy and length, which a default-valued command omits.
        generation = (
            {k: prov["config"][k] for k in ("policy", "max_words") if k in prov["config"]}
            if mode == ABSTRACTIVE
            else {}
        )
        recorded[f"{suite.name}: {data_name}{label}{suffix}"] = {
            "command": command,
            **generation,
            "data": prov["data"],
            "data_sha256": prov["data_sha256"],
            "examples": prov["examples"],
            "metrics": _kept(figures, suite.headline),
            "baselines": {n: _kept(b, suite.headline) for n, b in results["baselines"].items()},
        }
    path.write_text(json.dumps(recorded, indent=2) + "\n", encoding="utf-8")
    write_card(folder)
