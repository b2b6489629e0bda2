from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from opslens.eval.loadgen import Server, start_server

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT.parent / "shared" / "examples" / "briefing_bakhmut.txt"


@pytest.fixture(scope="session")
def example_text() -> str:
    if not EXAMPLE.is_file():
        pytest.skip(f"example article not found at {EXAMPLE}")
    return EXAMPLE.read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def model():
    from opslens.model.pipeline import OpsLens

    return OpsLens.load()


@contextmanager
def _serve(**env: str) -> Iterator[Server]:
    # One model thread per server: tests run beside other work on small CI machines.
    with start_server({"OPSLENS_THREADS": "1", **env}, ready_timeout_s=120) as server:
        yield server


@pytest.fixture(scope="session")
def serve() -> Callable[..., AbstractContextManager[Server]]:
    """`with serve(OPSLENS_X="1") as server:` a real `opslens serve` of one's own on loopback
    (`server.url`, `server.process`, `server.log`)."""
    return _serve


@pytest.fixture(scope="session")
def live_server() -> Iterator[str]:
    """One real server with default settings, shared by the tests that only call it."""
    with _serve() as server:
        yield server.url


# A handful of training rows: enough for the trainers to run end to end in seconds.
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


@dataclass(frozen=True)
class TinyData:
    news: Path  # extractive rows: id, article, summary
    fnc: Path  # stance rows: id, headline, body, stance
    articles: list[tuple[str, str]]
    stances: list[tuple[str, int, str]]


@pytest.fixture
def tiny_data(tmp_path: Path) -> TinyData:
    news = tmp_path / "news.jsonl"
    news.write_text(
        "".join(
            json.dumps({"id": str(i), "article": a, "summary": s}) + "\n" for i, (a, s) in enumerate(ARTICLES)
        )
    )
    fnc = tmp_path / "fnc.jsonl"
    fnc.write_text(
        "".join(
            json.dumps({"id": str(i), "headline": h, "body": ARTICLES[b][0], "stance": label}) + "\n"
            for i, (h, b, label) in enumerate(STANCES)
        )
    )
    return TinyData(news, fnc, ARTICLES, STANCES)
