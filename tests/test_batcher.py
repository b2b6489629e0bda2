"""The request queue and micro-batcher, on its own: grouping, bounds, timeouts, isolation.

The stand-in model holds each call at a gate and says when a call has started, so the tests wait
for states (a call under way, n articles queued), never for a guessed number of milliseconds.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

import pytest

from opslens.api.batcher import (
    ClientGoneError,
    MicroBatcher,
    QueueFullError,
    RequestTimeoutError,
    ShuttingDownError,
)


class Recorder:
    """A model stand-in that records each call; a call waits while `gate` is clear, and sets
    `entered` when it starts."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()

    def __call__(self, items: list[str]) -> list[str]:
        self.calls.append(list(items))
        self.entered.set()
        if not self.gate.wait(10):
            raise TimeoutError("the test never opened the gate")
        if "bad" in items:
            raise ValueError("bad item")
        return [s.upper() for s in items]


def run(coro):
    return asyncio.run(coro)


async def until(condition: Callable[[], bool], what: str) -> None:
    """Give the event loop turns until `condition` holds (tasks just created need a turn to
    queue their work); no clock involved."""
    for _ in range(1000):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError(f"never happened: {what}")


async def hold_first_call(batcher: MicroBatcher, model: Recorder) -> asyncio.Task:
    """Start `batcher` with its first model call (for "a") held at the gate, so the requests
    sent next wait in the queue behind it."""
    batcher.start()
    model.gate.clear()
    model.entered.clear()
    first = asyncio.create_task(batcher.submit(["a"], timeout_s=5))
    # Once the model is called, "a" is the call under way, no longer queued.
    assert await asyncio.to_thread(model.entered.wait, 10), "the worker never called the model"
    return first


def test_concurrent_requests_share_model_calls() -> None:
    async def main() -> None:
        model = Recorder()
        b = MicroBatcher(model, max_batch=4, max_queued=100)
        first = await hold_first_call(b, model)
        rest = [asyncio.create_task(b.submit([f"x{i}"], timeout_s=5)) for i in range(6)]
        await until(lambda: b.queued_articles == 6, "six requests queued")
        model.gate.set()
        assert await first == ["A"]
        assert [await t for t in rest] == [[f"X{i}"] for i in range(6)]
        await b.stop()
        # 1 call for the first request, then the six waiting ones in calls of at most 4.
        assert [len(c) for c in model.calls] == [1, 4, 2]

    run(main())


def test_a_lone_request_is_not_held_back() -> None:
    """The worker waits at most max_wait_s for company: a lone request is one model call of its
    own, answered within its timeout, not held until a batch fills."""

    async def main() -> None:
        model = Recorder()
        b = MicroBatcher(model, max_batch=16, max_queued=16, max_wait_s=0.002)
        b.start()
        assert await b.submit(["a"], timeout_s=5) == ["A"]
        await b.stop()
        assert model.calls == [["a"]]

    run(main())


def test_full_queue_refuses_with_a_retry_hint() -> None:
    async def main() -> None:
        model = Recorder()
        b = MicroBatcher(model, max_batch=1, max_queued=2)
        running = await hold_first_call(b, model)
        queued = [asyncio.create_task(b.submit([x], timeout_s=5)) for x in "bc"]
        await until(lambda: b.queued_articles == 2, '"b" and "c" queued')
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
        # Long enough to be admitted behind the running call at the starting pace (0.5 s/article).
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
        await until(lambda: b.queued_articles == 1, '"gone" queued')
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
        await until(lambda: b.queued_articles == 2, '"ok" and "bad" queued')
        model.gate.set()
        await blocker
        assert await good == ["OK"]
        with pytest.raises(ValueError, match="bad item"):
            await bad
        assert ["ok", "bad"] in model.calls  # they were grouped, then retried one by one
        await b.stop()

    run(main())


def test_stop_finishes_queued_work_and_refuses_new() -> None:
    async def main() -> None:
        model = Recorder()
        b = MicroBatcher(model, max_batch=1, max_queued=10)
        running = await hold_first_call(b, model)
        queued = [asyncio.create_task(b.submit([x], timeout_s=5)) for x in "bc"]
        await until(lambda: b.queued_articles == 2, '"b" and "c" queued')
        stopping = asyncio.create_task(b.stop())
        await asyncio.sleep(0)  # one turn: stop() has begun (it refuses new work at once)
        with pytest.raises(ShuttingDownError):
            await b.submit(["d"], timeout_s=5)
        assert not stopping.done(), "stop() waits for the queued work"
        model.gate.set()
        await stopping
        assert [await t for t in (running, *queued)] == [["A"], ["B"], ["C"]]
        with pytest.raises(ShuttingDownError):
            await b.submit(["e"], timeout_s=5)

    run(main())


def test_work_that_would_time_out_in_the_queue_is_refused_up_front() -> None:
    """At the starting pace (0.5 s per article; nothing measured yet) a request with a 2 s timeout
    is admitted while the work ahead of it and its own end within 0.8 x 2 s = 1.6 s: with "a"
    under way, "b" (1.0 s) and "c" (1.5 s) get in, and "d", two articles ahead (2.0 s), is refused
    before it queues; a request with a longer timeout still gets in behind them."""

    async def main() -> None:
        model = Recorder()
        b = MicroBatcher(model, max_batch=1, max_queued=100)
        running = await hold_first_call(b, model)
        queued = [asyncio.create_task(b.submit([x], timeout_s=2)) for x in "bc"]
        # Both admitted: a refused one would be done, and not counted as queued.
        await until(lambda: b.queued_articles == 2, '"b" and "c" admitted and queued')
        assert not any(t.done() for t in queued)
        with pytest.raises(QueueFullError) as err:
            await b.submit(["d"], timeout_s=2)
        assert err.value.retry_after_s == 1  # the two queued articles at 0.5 s each
        assert b.queued_articles == 2, '"d" was not queued'
        # The queue bound (100) is far off: it was the timeout that refused "d".
        patient = asyncio.create_task(b.submit(["e"], timeout_s=30))
        await until(lambda: b.queued_articles == 3, '"e" admitted')
        model.gate.set()
        assert await running == ["A"]
        assert [await t for t in queued] == [["B"], ["C"]]
        assert await patient == ["E"]
        await b.stop()
        assert ["d"] not in model.calls

    run(main())
