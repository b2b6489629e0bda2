"""POST /summarize/stream: an abstractive summary as server-sent events, token by token.

Streams do not go through the model queue: each decodes in a worker thread of its own, at
most `abstractive.max_streams` at once, beside the queue's batched model calls.

No `from __future__ import annotations`: the request model is built per app, and FastAPI
must see it as a real type in the signatures.
"""

import logging
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Depends, Request
from fastapi.sse import EventSourceResponse, ServerSentEvent
from pydantic import BaseModel

from opslens.api.deps import AppMetrics, AppSettings, Client, Streams, load_on_demand, not_english
from opslens.api.errors import ERRORS, ApiError, error_body, not_ready
from opslens.model.errors import ArticleError, NotEnglishError
from opslens.model.pipeline import OpsLens

log = logging.getLogger("opslens.api")

RESPONSES: dict[int | str, dict[str, Any]] = {
    # The route's media type is text/event-stream; its refusals are JSON, documented so.
    **{
        code: {
            "description": e["description"],
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}},
        }
        for code, e in ERRORS.items()
    },
    200: {
        "description": "Server-sent events: `token` ({text}) as the summary is decoded, then one "
        "`result` (the same JSON as POST /summarize), or one `error` ({detail}).",
        "content": {"text/event-stream": {}},
    },
}

EXHAUSTED = object()


class LockedIterator:
    """A blocking iterator stepped from worker threads one step at a time, under a lock, so
    that closing it (to stop a decode) waits for the step in flight instead of failing."""

    def __init__(self, iterator: Iterator[Any]) -> None:
        self._it = iterator
        self._lock = threading.Lock()

    def next(self) -> Any:
        """The next item, or EXHAUSTED."""
        with self._lock:
            return next(self._it, EXHAUSTED)

    def close(self) -> None:
        with self._lock:
            close = getattr(self._it, "close", None)
            if close is not None:
                close()


def router(SummarizeRequest: type[BaseModel]) -> APIRouter:
    """The stream route for this app's request model."""
    api = APIRouter(tags=["summarize"])

    def stream_slot(
        request: Request,
        body: SummarizeRequest,  # type: ignore[valid-type]
        streams: Streams,
        metrics: AppMetrics,
    ) -> Iterator[float]:
        """Refuse before the stream starts (a status code cannot change once it has), load a
        generator that loads on demand, then hold one of the stream slots until the stream ends.
        Yields the seconds this request waited for the generator to load."""
        model = request.app.state.model
        if model is None:
            raise not_ready()
        if body.mode != "abstractive":  # type: ignore[attr-defined]
            msg = "streaming is for mode 'abstractive'; use POST /summarize for extractive summaries"
            raise ApiError(422, ["body", "mode"], msg, "stream_mode")
        if not model.abstractive_available:
            raise ApiError(
                422, ["body", "mode"], "abstractive mode is off on this server", "mode_unavailable"
            )
        with streams.take():
            yield load_on_demand(model, metrics, ["body"], generator=True, verifier=True)

    @api.post("/summarize/stream", response_class=EventSourceResponse, responses=RESPONSES)
    async def summarize_stream(
        body: SummarizeRequest,  # type: ignore[valid-type]
        request: Request,
        _: Client,
        waited: Annotated[float, Depends(stream_slot)],
        settings: AppSettings,
        metrics: AppMetrics,
    ) -> AsyncIterator[ServerSentEvent]:
        """Abstractive summary, token by token. Tokens are the raw decode; the `result` event
        holds the final summary after recasing and the faithfulness policy."""
        model: OpsLens = request.app.state.model
        work = replace(body.analysis_request(), language_policy=settings.language_policy)  # type: ignore[attr-defined]
        steps = LockedIterator(model.stream(work))
        timeout_s = settings.serving.request_timeout_s
        deadline = time.monotonic() + timeout_s
        try:
            while (item := await anyio.to_thread.run_sync(steps.next)) is not EXHAUSTED:
                if isinstance(item, str):
                    yield ServerSentEvent(event="token", data={"text": item})
                    if time.monotonic() > deadline:
                        metrics.refused.labels("timeout").inc()
                        msg = f"no result within serving.request_timeout_s={timeout_s}"
                        yield ServerSentEvent(event="error", data=error_body(([], msg, "timeout")))
                        return
                else:
                    item.timings_ms.load_ms = round(waited * 1000, 2)
                    metrics.analysed(item)
                    yield ServerSentEvent(event="result", data=item)
        except NotEnglishError as exc:
            yield ServerSentEvent(event="error", data=error_body(not_english(["body"], exc).problem))
        except ArticleError as exc:  # no sentence, or (format html) no article in the page
            yield ServerSentEvent(event="error", data=error_body((["body", "text"], str(exc), exc.kind)))
        except Exception as exc:  # the status line is sent: report in the stream, never hang up silently
            log.exception("stream failed", exc_info=exc)
            yield ServerSentEvent(event="error", data={"detail": "internal error"})
        finally:
            # Stops the decode if the client left (the generator is closed between two tokens).
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(steps.close)

    return api
