"""The model card's YAML front matter in the Hugging Face model-card format (license, base
models, datasets, tags and a `model-index` with the measured results), built from what the
artifact folder records, so an artifact can be published as it is."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from opslens.model.artifact import read_component_meta, read_manifest

EVALUATION = "evaluation.json"  # written by `opslens eval ... --record`
LICENSE = "apache-2.0"  # the project's code and trained weights; see the card for the data's licences

# Training and evaluation files, by name, to the data set they come from: a Hugging Face hub id
# where the set has one, else the GitHub repository it was taken from (shared/data/SOURCES.md).
DATASETS = {
    "cnndm": "abisee/cnn_dailymail",
    "fnc1": "FakeNewsChallenge/fnc-1",
    "bbc_news_summary": "Ainedembe-Denis/BBC-News-Summary-ML-DL-Project",
    "nli_pairs": "stanfordnlp/snli",  # the largest part; the others follow
    "factcheck_dev": "W4ngatang/qags",
    "news_heldout": "abisee/cnn_dailymail",
}
NLI_SOURCES = (  # the rest of nli_pairs.jsonl.gz
    "facebook/anli",
    "BIU-NLP/Breaking_NLI",
    "verypluming/MED",
    "tdiggelm/climate_fever",
    "asaakyan/covidfact",
    "brmson/dataset-sts",  # SICK 2014
)
# What each suite measures, as a model-index task, and the metrics it reports there.
TASKS = {
    "stance": (
        "text-classification",
        "Stance detection (FNC-1)",
        ("fnc_score", "macro_f1", "accuracy", "disagree_f1"),
    ),
    "summarization": ("summarization", "News summarization", ("rouge1", "rouge2", "rougeLsum")),
    "summarization-bbc": ("summarization", "News summarization", ("rouge1", "rouge2", "rougeLsum")),
    "factcheck": (
        "text-classification",
        "Summary factual consistency",
        ("balanced_accuracy", "roc_auc"),
    ),
}
METRIC_NAMES = {
    "fnc_score": "FNC-1 score",
    "macro_f1": "macro-F1",
    "accuracy": "accuracy",
    "disagree_f1": "disagree F1",
    "rouge1": "ROUGE-1",
    "rouge2": "ROUGE-2",
    "rougeLsum": "ROUGE-Lsum",
    "balanced_accuracy": "balanced accuracy",
    "roc_auc": "ROC AUC",
}


def _dataset_id(path: str) -> str | None:
    name = Path(path).name
    return next((ds for key, ds in DATASETS.items() if name.startswith(key)), None)


def _datasets(folder: Path, components: list[str]) -> list[str]:
    found: list[str] = []
    for name in components:
        training = read_component_meta(folder, name).get("training", {})
        paths = [info.get("path", "") for info in training.get("data", {}).values()]
        sources = training.get("sources", {})
        # A fine-tune's pairs files each carry their own record under "parts"; a file built alone
        # lists there the kinds of pairs it holds (names, no files).
        for meta in [sources, *sources.get("parts", [])]:
            paths += list(meta.get("files", {})) if isinstance(meta, dict) else []
        for path in paths:
            ds = _dataset_id(path)
            extra = NLI_SOURCES if Path(path).name.startswith("nli_pairs") else ()
            for d in (ds, *extra):
                if d and d not in found:
                    found.append(d)
    return found


def _results(folder: Path) -> list[dict[str, Any]]:
    evaluation = folder / EVALUATION
    if not evaluation.is_file():
        return []
    out = []
    for key, rec in json.loads(evaluation.read_text(encoding="utf-8")).items():
        suite = key.split(":", 1)[0]
        if suite not in TASKS:
            continue
        task_type, task_name, keys = TASKS[suite]
        metrics = [
            {"type": k, "value": round(float(rec["metrics"][k]), 2), "name": METRIC_NAMES[k]}
            for k in keys
            if isinstance(rec.get("metrics", {}).get(k), int | float)
        ]
        if not metrics:
            continue
        data = str(rec.get("data", ""))
        out.append(
            {
                "task": {"type": task_type, "name": task_name},
                "dataset": {
                    "name": key.split(":", 1)[1].strip(),
                    "type": _dataset_id(data) or Path(data).name,
                    "split": "test",
                },
                "metrics": metrics,
            }
        )
    return out


def front_matter(folder: Path) -> str:
    """The card's YAML header, between --- lines."""
    manifest = read_manifest(folder)
    bases = [manifest.encoder.get("name")]
    for name in manifest.components:
        base = read_component_meta(folder, name).get("config", {}).get("base")
        if base and base not in bases:
            bases.append(base)
    tags = ["extractive-summarization", "stance-detection", "fact-checking", "natural-language-inference"]
    if "abstractive" in manifest.components:
        tags += ["summarization", "lora"]
    if "verifier" in manifest.components:
        tags += ["cross-encoder", "lora"] if "lora" not in tags else ["cross-encoder"]
    meta: dict[str, Any] = {
        "license": LICENSE,
        "language": ["en"],
        "library_name": "opslens",
        "base_model": [b for b in bases if b],
        "datasets": _datasets(folder, manifest.components),
        "tags": tags,
        "pipeline_tag": "summarization",
    }
    results = _results(folder)
    if results:
        meta["model-index"] = [{"name": f"{manifest.name}-{manifest.version}", "results": results}]
    return "---\n" + yaml.safe_dump(meta, sort_keys=False, allow_unicode=True, width=1000) + "---\n"
