from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright
from webpage import CHROMIUM

from opslens.eval.loadgen import EXAMPLE, Server, start_server

# Fixtures that load the real model or start a server: a test using one must be marked `slow`,
# so `pytest -m "not slow"` stays the under-a-minute loop (checked at collection below).
SLOW_FIXTURES = frozenset({"model", "serve", "live_server"})


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--no-skips",
        action="store_true",
        help="fail the run if any test was skipped (`make test`: a fresh clone runs everything)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    unmarked = [
        item.nodeid
        for item in items
        if SLOW_FIXTURES & set(getattr(item, "fixturenames", ())) and item.get_closest_marker("slow") is None
    ]
    if unmarked:
        listed = "\n  ".join(unmarked)
        raise pytest.UsageError(f"load the model or start a server, yet are not marked slow:\n  {listed}")


def _skipped(config: pytest.Config) -> int:
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    return len(reporter.stats.get("skipped", [])) if reporter is not None else 0


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    # Under --no-skips a test that did not run is a failure (the -ra summary gives the reasons).
    config = session.config
    if config.getoption("--no-skips") and exitstatus == pytest.ExitCode.OK and _skipped(config):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    if config.getoption("--no-skips") and (skipped := _skipped(config)):
        terminalreporter.write_sep("=", f"--no-skips: {skipped} skipped, which fails the run", red=True)


@pytest.fixture(scope="session")
def example_text() -> str:
    # The copy in the package (examples/): a missing file is an error, never a skip.
    return EXAMPLE.read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def model():
    from opslens.model.pipeline import OpsLens

    return OpsLens.load()


@pytest.fixture(scope="session")
def torch_model():
    """The float32 reference the other backends are compared with."""
    from opslens.model.pipeline import OpsLens

    return OpsLens.load(backend="torch")


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


# The page tests' browser: Debian's chromium (playwright cannot download one here; .ci/run installs it).
@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (apt-get install chromium); .ci/run installs it")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser, live_server: str) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1200, "height": 1800})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    # HTTP errors the tests provoke are logged as "Failed to load resource"; anything else
    # (a script error, a CSP violation) is a bug.
    page.on(
        "console",
        lambda msg: (
            errors.append(msg.text)
            if msg.type == "error" and not msg.text.startswith("Failed to load resource")
            else None
        ),
    )
    page.goto(f"{live_server}/")
    yield page
    context.close()
    assert errors == [], f"the page logged errors: {errors}"
