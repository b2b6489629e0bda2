"""Ray: `opslens batch --engine ray` agrees with the local engine line for line, and the
service runs as Ray Serve replicas. One local Ray instance (2 CPUs) serves the whole module."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from opslens.api.settings import Settings
from opslens.batch.records import without_timings
from opslens.cli import main

ray = pytest.importorskip("ray", reason="Ray is an optional extra: pip install 'opslens[ray]'")
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def ray_session() -> Iterator[None]:
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def _read(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_batch_local_and_ray_agree(ray_session: None, example_text: str, tmp_path: Path) -> None:
    short = "\n\n".join(example_text.split("\n\n")[3:6])
    lines = [
        json.dumps({"id": "full", "text": example_text, "title": "Ukraine inflicts losses near Bakhmut"}),
        "{this is not json",
        json.dumps({"id": "empty", "text": ""}),
        json.dumps({"id": 4, "text": short, "claims": ["Russia withdrew"], "max_sentences": 1}),
        json.dumps({"id": "sep", "text": example_text + "\u2028", "max_sentences": 2}, ensure_ascii=False),
        # In one batch (of 2) with the line above: only this line may fail.
        json.dumps({"id": "blank", "text": "  \n\n "}),
    ]
    src = tmp_path / "in.jsonl"
    src.write_text("\n".join(lines) + "\n", encoding="utf-8")

    common = ["--batch-size", "2", "--threads", "1"]
    assert main(["batch", str(src), str(tmp_path / "local.jsonl"), *common]) == 0
    assert (
        main(["batch", str(src), str(tmp_path / "ray.jsonl"), *common, "--engine", "ray", "--workers", "2"])
        == 0
    )
    local, ray_out = _read(tmp_path / "local.jsonl"), _read(tmp_path / "ray.jsonl")

    assert [r["line"] for r in local] == list(range(1, len(lines) + 1))
    assert [r["id"] for r in local] == ["full", None, "empty", 4, "sep", "blank"]
    assert [r.get("error", {}).get("type") for r in local] == [
        None,
        "bad_json",
        "invalid",
        None,
        None,
        "no_sentences",
    ]
    assert local[0]["analysis"]["title_stance"]["label"] in {"agree", "disagree", "discuss", "unrelated"}
    assert len(local[3]["analysis"]["sentences"]) == 1
    assert local[3]["analysis"]["claim_stances"][0]["claim"] == "Russia withdrew"
    assert len(local[4]["analysis"]["sentences"]) == 2
    assert [without_timings(r) for r in ray_out] == [without_timings(r) for r in local]


def test_ray_batch_resume_analyzes_only_the_lines_after_the_output(
    ray_session: None, example_text: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    paragraphs = [p for p in example_text.split("\n\n") if len(p) > 80]
    src, local, resumed = tmp_path / "in.jsonl", tmp_path / "local.jsonl", tmp_path / "resumed.jsonl"
    src.write_text("".join(json.dumps({"id": i, "text": p}) + "\n" for i, p in enumerate(paragraphs[:6])))
    common = ["--batch-size", "2", "--threads", "1", "--no-timings"]
    assert main(["batch", str(src), str(local), *common]) == 0
    # A run stopped after 4 lines, its 5th half written. (4 = whole batches: Ray's batches
    # then hold the same articles as the local engine's, so the bytes can match.)
    kept = b"".join(local.read_bytes().splitlines(keepends=True)[:4])
    resumed.write_bytes(kept + b'{"line": 5, "id": 4, "analy')
    capsys.readouterr()
    assert (
        main(["batch", str(src), str(resumed), *common, "--engine", "ray", "--workers", "1", "--resume"]) == 0
    )
    # The workers saw only lines 5 and 6: lines 1-4 were neither analyzed nor written again.
    assert "4 lines kept from the previous run, 2 lines in" in capsys.readouterr().err
    assert resumed.read_bytes() == local.read_bytes()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_replicas_answer_like_the_model(ray_session: None, model, example_text: str) -> None:
    from ray import serve

    from opslens.api.ray_serve import APP_NAME, deployment

    port = _free_port()
    settings = Settings(threads=1, ray={"replicas": 2})
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    try:
        serve.run(deployment(settings), name=APP_NAME, route_prefix="/")
        status = serve.status().applications[APP_NAME].deployments[APP_NAME]
        assert status.replica_states.get("RUNNING") == 2
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
            assert client.get("/ready").json()["status"] == "ready"
            responses = [client.post("/summarize", json={"text": example_text}) for _ in range(4)]
            assert client.post("/summarize", json={"text": ""}).status_code == 422
        expected = model.analyze(example_text).summary
        assert all(r.status_code == 200 and r.json()["summary"] == expected for r in responses)
    finally:
        serve.shutdown()
