"""A bounded queue in front of the model that groups concurrent requests into one model call.

One worker runs the queued work in its own thread, one batched call at a time (the model
already uses every core for one call). While it runs, new requests wait in the queue; the
next call takes as many as fit in `max_batch_articles`, so throughput rises with load while a
lone request goes straight through. When `max_queued_articles` are waiting, or the queue ahead
would take longer than the request's timeout at the measured pace, `submit` refuses at once
(the API answers 429) instead of letting latency pile up into 504s.

The queue carries every kind of model request (an article to summarise, a summary to
verify): `by_type` makes one run function of the model's batched calls, so a model call
may group both kinds and each still goes through its own batched function.

Streamed summaries (POST /summarize/stream) do not pass through this queue: each decodes in
a thread of its own, at most `abstractive.max_streams` at once, beside the batched calls, and
the pace measured here does not count them.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

# Admit a request only if the work ahead should end well within its timeout: the pace is an
# average, and a request admitted at the edge would often still time out.
ADMISSION_MARGIN = 0.8

In = TypeVar("In")
Out = TypeVar("Out")


class QueueFullError(Exception):
    def __init__(self, retry_after_s: int) -> None:
        super().__init__(f"the model queue is full; retry in {retry_after_s} s")
        self.retry_after_s = retry_after_s


class ShuttingDownError(Exception):
    """The server is stopping and takes no new work."""


class RequestTimeoutError(Exception):
    """The request was not answered within the timeout."""


class ClientGoneError(Exception):
    """The client disconnected before its answer was ready."""


def by_type(runs: Mapping[type, Callable[[list[Any]], list[Any]]]) -> Callable[[list[Any]], list[Any]]:
    """One run function for a mix of request types: each type's items go to its own batched
    function (in one call per type), and the results come back in the items' order."""

    def run(items: list[Any]) -> list[Any]:
        out: list[Any] = [None] * len(items)
        placed = 0
        for kind, run_kind in runs.items():
            where = [i for i, item in enumerate(items) if isinstance(item, kind)]
            if where:
                for i, result in zip(where, run_kind([items[i] for i in where]), strict=True):
                    out[i] = result
                placed += len(where)
        if placed != len(items):
            stray = {type(item).__name__ for item in items if not isinstance(item, tuple(runs))}
            raise TypeError(f"no model call for {', '.join(sorted(stray))}")
        return out

    return run


@dataclass
class _Job(Generic[In, Out]):
    items: Sequence[In]
    future: asyncio.Future[list[Out]]
    queued_at: float = field(default_factory=time.perf_counter)


@dataclass
class BatchStats:
    """Hooks for metrics; the batcher itself knows nothing of Prometheus."""

    on_queue_depth: Callable[[int], None] = lambda depth: None
    on_batch: Callable[[int, float], None] = lambda articles, seconds: None
    on_wait: Callable[[float], None] = lambda seconds: None


class MicroBatcher(Generic[In, Out]):
    def __init__(
        self,
        run: Callable[[list[In]], list[Out]],
        *,
        max_batch: int,
        max_queued: int,
        max_wait_s: float = 0.0,
        stats: BatchStats | None = None,
    ) -> None:
        self._run = run
        self.max_batch = max_batch
        self.max_queued = max_queued
        self.max_wait_s = max_wait_s
        self.stats = stats or BatchStats()
        self._jobs: deque[_Job[In, Out]] = deque()
        self._wakeup = asyncio.Event()
        self._stopping = False
        self._worker: asyncio.Task[None] | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="opslens-model")
        # Seconds per article, smoothed; sizes the Retry-After hint and admission.
        self._per_article_s = 0.5
        self._running_articles = 0  # in the model call under way

    # -- lifecycle -----------------------------------------------------------------------
    def start(self) -> None:
        if self._worker is None:
            self._worker = asyncio.get_running_loop().create_task(self._work(), name="opslens-batcher")

    async def stop(self) -> None:
        """Refuse new work, finish what is queued, then stop the worker."""
        self._stopping = True
        self._wakeup.set()
        if self._worker is not None:
            await self._worker
            self._worker = None
        self._executor.shutdown(wait=True)

    @property
    def queued_articles(self) -> int:
        return sum(len(j.items) for j in self._jobs if not j.future.done())

    # -- requests ------------------------------------------------------------------------
    async def submit(
        self,
        items: Sequence[In],
        *,
        timeout_s: float,
        is_disconnected: Callable[[], Awaitable[bool]] | None = None,
    ) -> list[Out]:
        """Queue `items` as one unit (answered together) and wait for their results."""
        if self._stopping:
            raise ShuttingDownError("the server is shutting down")
        queued = self.queued_articles
        # Refuse what could not be answered in time anyway: past the bound, or when the measured
        # pace says the queue ahead would outlast the timeout (a 429 now beats a 504 later).
        ahead = queued + self._running_articles
        late = ahead > 0 and (ahead + len(items)) * self._per_article_s > ADMISSION_MARGIN * timeout_s
        if queued + len(items) > self.max_queued or late:
            raise QueueFullError(max(1, math.ceil(queued * self._per_article_s)))
        job: _Job[In, Out] = _Job(items, asyncio.get_running_loop().create_future())
        self._jobs.append(job)
        self.stats.on_queue_depth(queued + len(items))
        self._wakeup.set()

        watcher = asyncio.create_task(self._watch(is_disconnected)) if is_disconnected else None
        waiting: set[asyncio.Future] = {job.future} | ({watcher} if watcher else set())
        try:
            done, _ = await asyncio.wait(waiting, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if watcher:
                watcher.cancel()
            # A job still waiting is dropped (not run); one already running finishes unseen.
            job.future.cancel()
        if job.future in done:
            return job.future.result()
        if watcher in done:
            raise ClientGoneError("client disconnected")
        raise RequestTimeoutError(f"no answer within {timeout_s:g} s")

    @staticmethod
    async def _watch(is_disconnected: Callable[[], Awaitable[bool]]) -> None:
        while not await is_disconnected():
            await asyncio.sleep(0.05)

    # -- worker --------------------------------------------------------------------------
    def _live(self) -> None:
        while self._jobs and self._jobs[0].future.done():
            self._jobs.popleft()

    async def _next_batch(self) -> list[_Job[In, Out]]:
        """Wait for work; then take jobs up to max_batch articles (waiting max_wait_s for more)."""
        while True:
            self._live()
            if self._jobs:
                break
            if self._stopping:
                return []
            self._wakeup.clear()
            await self._wakeup.wait()
        batch = [self._jobs.popleft()]
        size = len(batch[0].items)
        deadline = time.perf_counter() + self.max_wait_s
        while size < self.max_batch:
            self._live()
            if not self._jobs:
                remaining = deadline - time.perf_counter()
                if remaining <= 0 or self._stopping:
                    break
                self._wakeup.clear()
                try:
                    await asyncio.wait_for(self._wakeup.wait(), remaining)
                except TimeoutError:
                    break
                continue
            if size + len(self._jobs[0].items) > self.max_batch:
                break
            job = self._jobs.popleft()
            batch.append(job)
            size += len(job.items)
        return batch

    async def _work(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = await self._next_batch()
            if not batch:
                return
            self.stats.on_queue_depth(self.queued_articles)
            now = time.perf_counter()
            for job in batch:
                self.stats.on_wait(now - job.queued_at)
            articles = sum(len(j.items) for j in batch)
            self._running_articles = articles
            start = time.perf_counter()
            try:
                jobs = [j.items for j in batch]
                outcomes = await loop.run_in_executor(self._executor, self._run_jobs, jobs)
            finally:
                self._running_articles = 0
            took = time.perf_counter() - start
            self.stats.on_batch(articles, took)
            self._per_article_s = 0.8 * self._per_article_s + 0.2 * took / articles
            for job, outcome in zip(batch, outcomes, strict=True):
                if job.future.done():  # timed out or client gone while running
                    continue
                if isinstance(outcome, BaseException):
                    job.future.set_exception(outcome)
                else:
                    job.future.set_result(outcome)

    def _run_jobs(self, jobs: list[Sequence[In]]) -> list[list[Out] | BaseException]:
        """Runs in the model thread. One bad request must not fail the others grouped with it,
        so a failed grouped call is retried request by request."""
        flat = [item for items in jobs for item in items]
        try:
            results = self._run(flat)
        except Exception as exc:
            if len(jobs) == 1:
                return [exc]
            return [self._run_one(items) for items in jobs]
        out: list[list[Out] | BaseException] = []
        cursor = 0
        for items in jobs:
            out.append(results[cursor : cursor + len(items)])
            cursor += len(items)
        return out

    def _run_one(self, items: Sequence[In]) -> list[Out] | BaseException:
        try:
            return self._run(list(items))
        except Exception as exc:
            return exc
