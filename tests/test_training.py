"""Training smoke test: both trainers on a handful of rows, resume, and the result serves."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from opslens.cli import main
from opslens.model.pipeline import OpsLens

pytestmark = pytest.mark.slow

ARTICLES = [
    (
        "Russian forces shelled the city of Kherson on Sunday. Three people were killed, officials said. "
        "The regional governor called for calm. Markets in Kyiv were quiet.",
        "Russian shelling of Kherson killed three people.",
    ),
    (
        "The European Union agreed to buy ammunition for Ukraine. Estonia had proposed the plan. "
        "Borrell said it will work. Critics said deliveries would be slow.",
        "The EU agreed to buy ammunition for Ukraine, an Estonian plan.",
    ),
    (
        "Drone footage appeared to show Russia losing thirty armored vehicles near Vuhledar. "
        "Neither side gave casualty figures. Analysts urged caution about the footage.",
        "Footage appeared to show heavy Russian losses near Vuhledar.",
    ),
    (
        "Blinken warned China of serious consequences if it arms Russia. Wang Yi met him in Munich. "
        "China denied any plans to send weapons. The talks lasted an hour.",
        "Blinken warned China not to arm Russia; China denied plans.",
    ),
]
STANCES = [
    ("Kherson shelling kills three", 0, "agree"),
    ("Nobody was hurt in Kherson shelling", 0, "disagree"),
    ("Officials say Kherson was shelled", 0, "discuss"),
    ("New smartphone released", 0, "unrelated"),
    ("EU to buy ammunition for Ukraine", 1, "agree"),
    ("EU rejects ammunition plan", 1, "disagree"),
    ("Estonia proposes EU ammunition purchase", 1, "discuss"),
    ("Football club signs striker", 1, "unrelated"),
]


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_train_both_components_resume_and_serve(tmp_path: Path) -> None:
    news = _write(
        tmp_path / "news.jsonl",
        [{"id": str(i), "article": a, "summary": s} for i, (a, s) in enumerate(ARTICLES)],
    )
    fnc = _write(
        tmp_path / "fnc.jsonl",
        [
            {"id": str(i), "headline": h, "body": ARTICLES[b][0], "stance": lab}
            for i, (h, b, lab) in enumerate(STANCES)
        ],
    )
    out = tmp_path / "artifact"

    def train(task: str, data: Path, run: str, *extra: str) -> int:
        paths = ["--train-file", str(data), "--validation-file", str(data), "--run-dir", str(tmp_path / run)]
        steps = ["--epochs", "2", "--batch-size", "2", "--checkpoint-every", "1", "--eval-every", "2"]
        return main(["train", task, *paths, "--output-dir", str(out), *steps, *extra])

    assert train("extractive", news, "ext") == 0
    assert train("stance", fnc, "st") == 0
    # Resuming a finished run continues from its last checkpoint instead of starting over.
    assert train("stance", fnc, "st", "--resume") == 0
    log = [json.loads(line) for line in (tmp_path / "st" / "train_log.jsonl").read_text().splitlines()]
    assert {"event": "resume", "step": 8} in log

    meta = json.loads((out / "stance.json").read_text())
    assert meta["training"]["steps"] == 8
    assert meta["training"]["data"]["train"]["examples"] == len(STANCES)
    assert 0.05 < meta["config"]["temperature"] < 20

    model = OpsLens.load(out)
    result = model.analyze(ARTICLES[0][0], title="Kherson shelling kills three", max_sentences=2)
    assert 1 <= len(result.sentences) <= 2
    assert result.title_stance is not None
    assert "Model card" in (out / "MODEL_CARD.md").read_text()


def test_missing_column_is_a_clear_error(tmp_path: Path) -> None:
    bad = _write(tmp_path / "bad.jsonl", [{"id": "1", "text": "no article field here"}])
    with pytest.raises(ValueError, match="missing column"):
        main(
            [
                "train",
                "extractive",
                "--train-file",
                str(bad),
                "--validation-file",
                str(bad),
                "--run-dir",
                str(tmp_path / "r"),
                "--output-dir",
                str(tmp_path / "o"),
            ]
        )
