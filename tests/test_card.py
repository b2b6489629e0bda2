"""The model card: Hugging Face front matter that parses and carries what the artifact records."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import yaml

from opslens.model.artifact import SHIPPED_ARTIFACT
from opslens.model.card import render_card


def _front(card: str) -> dict:
    assert card.startswith("---\n")
    return yaml.safe_load(card.split("---\n")[1])


def test_shipped_card_has_hub_front_matter() -> None:
    card = render_card(SHIPPED_ARTIFACT)
    meta = _front(card)
    assert meta["license"] == "apache-2.0"
    assert "sentence-transformers/all-MiniLM-L6-v2" in meta["base_model"]
    assert {"FakeNewsChallenge/fnc-1", "abisee/cnn_dailymail", "stanfordnlp/snli"} <= set(meta["datasets"])
    [entry] = meta["model-index"]
    records = json.loads((SHIPPED_ARTIFACT / "evaluation.json").read_text())
    assert len(entry["results"]) == len(records)
    stance = next(r for r in entry["results"] if r["dataset"]["name"] == "fnc1_test.jsonl.gz")
    fnc = next(m for m in stance["metrics"] if m["type"] == "fnc_score")
    assert fnc["value"] == round(records["stance: fnc1_test.jsonl.gz"]["metrics"]["fnc_score"], 2)
    # The card on disk is the rendered one (write_card was re-run after the last change).
    assert (SHIPPED_ARTIFACT / "MODEL_CARD.md").read_text(encoding="utf-8") == card


def test_card_without_evaluation_has_no_model_index(tmp_path: Path) -> None:
    folder = tmp_path / "a"
    shutil.copytree(SHIPPED_ARTIFACT, folder)
    (folder / "evaluation.json").unlink()
    assert "model-index" not in _front(render_card(folder))


def test_card_reads_a_pairs_record_that_lists_its_kinds(tmp_path: Path) -> None:
    """A verifier trained on one pairs file built with every kind of pair records the kinds'
    names under sources["parts"] (a fine-tune's records of several files go there too)."""
    folder = tmp_path / "a"
    shutil.copytree(SHIPPED_ARTIFACT, folder)
    meta_path = folder / "verifier.json"
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    meta["training"]["data"] = {}
    meta["training"]["sources"] = {
        "files": {"../shared/data/nli_pairs.jsonl.gz": "x", "training/data/cnndm_train.jsonl.gz": "y"},
        "parts": ["nli", "summaries"],
    }
    meta_path.write_text(json.dumps(meta), encoding="utf-8")
    datasets = set(_front(render_card(folder))["datasets"])
    assert {"stanfordnlp/snli", "abisee/cnn_dailymail"} <= datasets


def test_an_abstractive_record_names_its_policy(tmp_path: Path) -> None:
    """A default-valued command omits the faithfulness policy and length, on which an abstractive
    figure depends: the record and the card carry them."""
    from opslens.eval.runner import record
    from opslens.eval.suites import get

    folder = tmp_path / "a"
    shutil.copytree(SHIPPED_ARTIFACT, folder)
    (folder / "evaluation.json").unlink()
    figures = {"rouge1": 36.0, "rouge2": 14.0, "rougeLsum": 33.0, "summary_words_mean": 51.0}
    results = {
        "mode": "extractive",
        "metrics": figures,
        "modes": {"extractive": figures, "abstractive": figures},
        "baselines": {"lead3": figures},
        "provenance": {
            "command": "opslens eval summarization --record",
            "data": "eval/data/news_heldout.jsonl.gz",
            "data_sha256": "0" * 64,
            "examples": 300,
            "config": {"max_sentences": 3, "max_words": 60, "policy": "replace_sentence"},
        },
    }
    record(folder, get("summarization"), results, "torch")
    records = json.loads((folder / "evaluation.json").read_text())
    abstractive = records["summarization: news_heldout.jsonl.gz [abstractive]"]
    assert (abstractive["policy"], abstractive["max_words"]) == ("replace_sentence", 60)
    assert "policy" not in records["summarization: news_heldout.jsonl.gz"]  # extractive: no such choice
    card = (folder / "MODEL_CARD.md").read_text(encoding="utf-8")
    assert card.count("Faithfulness policy `replace_sentence`, `max_words` 60.") == 1


def test_the_name_contrast_says_each_rule_it_was_read_with(tmp_path: Path) -> None:
    folder = tmp_path / "a"
    shutil.copytree(SHIPPED_ARTIFACT, folder)
    path = folder / "verifier.json"
    meta = json.loads(path.read_text())
    for key, value in [("contrast_roles", True), ("contrast_screen", False), ("misnamed", True)]:
        meta["training"][key] = {"value": value, "command": "cmd"}
    path.write_text(json.dumps(meta))
    card = render_card(folder)
    assert "(`contrast_roles`)" in card and "(`misnamed`)" in card and "(`contrast_screen`)" not in card
    del meta["training"]["name_contrast"]  # no margin chosen: nothing said of its rules
    path.write_text(json.dumps(meta))
    assert "`misnamed`" not in render_card(folder)


def test_the_card_says_how_restated_agree_was_kept_in_the_record_s_own_words() -> None:
    card = render_card(SHIPPED_ARTIFACT)
    record = json.loads((SHIPPED_ARTIFACT / "verifier.json").read_text())["training"]["restated_agree"]
    assert f"Restated agree: **{'on' if record['value'] else 'off'}**" in card
    assert all(command in card for command in record["commands"])
    assert "macro-F1 on the FNC-1-format file" in card and "fnc-1-format" not in card  # capitals kept
