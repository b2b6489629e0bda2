"""The request queue and micro-batcher, on its own: grouping, bounds, timeouts, isolation."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from opslens.api.batcher import (
    ClientGoneError,
    MicroBatcher,
    QueueFullError,
    RequestTimeoutError,
    ShuttingDownError,
)


class Recorder:
    """A model stand-in that records each call; `gate` holds a call until released."""

    def __init__(self, seconds: float = 0.0) -> None:
        self.calls: list[list[str]] = []
        self.seconds = seconds
        self.gate = threading.Event()
        self.gate.set()

    def __call__(self, items: list[str]) -> list[str]:
        self.gate.wait(5)
        self.calls.append(list(items))
        time.sleep(self.seconds)
        if "bad" in items:
            raise ValueError("bad item")
        return [s.upper() for s in items]


def run(coro):
    return asyncio.run(coro)


async def hold_first_call(batcher: MicroBatcher, model: Recorder) -> asyncio.Task:
    """Start `batcher` with its first model call (for "a") held at the gate, so the requests
    sent next wait in the queue behind it."""
    batcher.start()
    model.gate.clear()
    first = asyncio.create_task(batcher.submit(["a"], timeout_s=5))
    await asyncio.sleep(0.05)  # taken by the worker: no longer queued
    return first


def test_concurrent_requests_share_model_calls() -> None:
    async def main() -> None:
        model = Recorder()
        b = MicroBatcher(model, max_batch=4, max_queued=100)
        first = await hold_first_call(b, model)
        rest = [asyncio.create_task(b.submit([f"x{i}"], timeout_s=5)) for i in range(6)]
        await asyncio.sleep(0.05)
        model.gate.set()
        assert await first == ["A"]
        assert [await t for t in rest] == [[f"X{i}"] for i in range(6)]
        await b.stop()
        # 1 call for the first request, then the six waiting ones in calls of at most 4.
        assert [len(c) for c in model.calls] == [1, 4, 2]

    run(main())


def test_a_lone_request_is_not_held_back() -> None:
    async def main() -> float:
        b = MicroBatcher(Recorder(), max_batch=16, max_queued=16, max_wait_s=0.002)
        b.start()
        start = time.perf_counter()
        await b.submit(["a"], timeout_s=5)
        took = time.perf_counter() - start
        await b.stop()
        return took

    assert run(main()) < 0.1


def test_full_queue_refuses_with_a_retry_hint() -> None:
    async def main() -> None:
        model = Recorder()
        b = MicroBatcher(model, max_batch=1, max_queued=2)
        running = await hold_first_call(b, model)
        queued = [asyncio.create_task(b.submit([x], timeout_s=5)) for x in "bc"]
        await asyncio.sleep(0.01)
        with pytest.raises(QueueFullError) as err:
            await b.submit(["d"], timeout_s=5)
        assert err.value.retry_after_s >= 1
        model.gate.set()
        assert await running == ["A"]
        assert [await t for t in queued] == [["B"], ["C"]]
        await b.stop()

    run(main())


def test_timeout_and_a_timed_out_request_is_never_run() -> None:
    async def main() -> None:
        model = Recorder()
        b = MicroBatcher(model, max_batch=1, max_queued=10)
        blocker = await hold_first_call(b, model)
        # Long enough to be admitted behind the running call at the default pace (0.5 s/article).
        with pytest.raises(RequestTimeoutError):
            await b.submit(["late"], timeout_s=1.5)
        assert b.queued_articles == 0  # it left the queue
        model.gate.set()
        await blocker
        await b.stop()
        assert ["late"] not in model.calls

    run(main())


def test_client_disconnect_cancels_queued_work() -> None:
    async def main() -> None:
        model = Recorder()
        b = MicroBatcher(model, max_batch=1, max_queued=10)
        blocker = await hold_first_call(b, model)
        gone = asyncio.Event()

        async def is_disconnected() -> bool:
            return gone.is_set()

        waiting = asyncio.create_task(b.submit(["gone"], timeout_s=5, is_disconnected=is_disconnected))
        await asyncio.sleep(0.05)
        gone.set()
        with pytest.raises(ClientGoneError):
            await waiting
        model.gate.set()
        await blocker
        await b.stop()
        assert ["gone"] not in model.calls

    run(main())


def test_a_failing_request_does_not_fail_those_grouped_with_it() -> None:
    async def main() -> None:
        model = Recorder()
        b = MicroBatcher(model, max_batch=8, max_queued=10)
        blocker = await hold_first_call(b, model)
        good = asyncio.create_task(b.submit(["ok"], timeout_s=5))
        bad = asyncio.create_task(b.submit(["bad"], timeout_s=5))
        await asyncio.sleep(0.01)
        model.gate.set()
        await blocker
        assert await good == ["OK"]
        with pytest.raises(ValueError, match="bad item"):
            await bad
        await b.stop()

    run(main())


def test_stop_finishes_queued_work_and_refuses_new() -> None:
    async def main() -> None:
        model = Recorder(seconds=0.02)
        b = MicroBatcher(model, max_batch=1, max_queued=10)
        b.start()
        tasks = [asyncio.create_task(b.submit([x], timeout_s=5)) for x in "abc"]
        await asyncio.sleep(0)
        await b.stop()
        assert await asyncio.gather(*tasks) == [["A"], ["B"], ["C"]]
        with pytest.raises(ShuttingDownError):
            await b.submit(["d"], timeout_s=5)

    run(main())


def test_work_that_would_time_out_in_the_queue_is_refused_up_front() -> None:
    async def main() -> None:
        model = Recorder(seconds=0.2)
        b = MicroBatcher(model, max_batch=1, max_queued=100)
        b.start()
        await b.submit(["warm"], timeout_s=5)  # measures the pace: ~0.2 s per article
        running = await hold_first_call(b, model)
        queued = [asyncio.create_task(b.submit([x], timeout_s=0.5)) for x in "bc"]
        await asyncio.sleep(0.01)
        # Two articles ahead at >= 0.2 s each: a third could not be answered within 0.5 s.
        with pytest.raises(QueueFullError):
            await b.submit(["d"], timeout_s=0.5)
        model.gate.set()
        await running
        await asyncio.gather(*queued, return_exceptions=True)
        await b.stop()

    run(main())
