"""What routes need from the running service, as `Annotated` dependencies.

`create_app` puts the shared objects on `app.state` (settings, metrics, key guard, stream
slots, and the model once loaded); these read them back for each request, so routes take
them as parameters instead of closing over them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials

from opslens.api.errors import ApiError, Loc, not_ready
from opslens.api.metrics import Metrics
from opslens.api.security import KeyGuard, api_key_header, bearer
from opslens.api.settings import Settings
from opslens.model.errors import ArticleError, NotEnglishError, VerifierUnavailableError
from opslens.model.pipeline import AbstractiveUnavailableError, OpsLens


class StreamSlots:
    """At most `limit` streams decode at once. A slot is taken without waiting: a full house
    answers 429, it does not queue."""

    def __init__(self, limit: int, on_full: Callable[[], None] = lambda: None) -> None:
        self.limit = limit
        self._free = threading.BoundedSemaphore(limit)
        self._on_full = on_full

    @contextmanager
    def take(self) -> Iterator[None]:
        if not self._free.acquire(blocking=False):
            self._on_full()
            msg = f"too many streams in progress (abstractive.max_streams={self.limit})"
            raise ApiError(429, [], msg, "streams_full", {"Retry-After": "2"})
        try:
            yield
        finally:
            self._free.release()


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_metrics(request: Request) -> Metrics:
    return request.app.state.metrics


def get_guard(request: Request) -> KeyGuard:
    return request.app.state.guard


def get_model(request: Request) -> OpsLens:
    loaded = request.app.state.model
    if loaded is None:
        raise HTTPException(503, "model not loaded yet")
    return loaded


def get_stream_slots(request: Request) -> StreamSlots:
    return request.app.state.streams


def get_client(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    header: Annotated[str | None, Depends(api_key_header)],
) -> str:
    """Checks the key, counts the request against the rate limit, returns the client id."""
    guard = get_guard(request)
    if guard.enabled:
        client = guard.check(header or (credentials.credentials if credentials else None))
    else:
        client = f"ip:{request.client.host if request.client else 'unknown'}"
    guard.take(client)
    return client


async def run_queued(request: Request, work: Sequence[Any], loc: Loc) -> list[Any]:
    """Queue the model requests (articles to summarise or verify) as one unit and wait for
    their results. The queue's refusals (full, timeout, stopping, client gone) become responses
    in api/errors; a text without an article sentence (or an HTML page without an article), or
    not in English under the `reject` language policy, is named here, at `loc`'s `text`."""
    batcher = request.app.state.batcher
    if batcher is None:
        raise not_ready()
    settings = get_settings(request)
    try:
        return await batcher.submit(
            [replace(w, language_policy=settings.language_policy) for w in work],
            timeout_s=settings.serving.request_timeout_s,
            is_disconnected=request.is_disconnected,
        )
    except NotEnglishError as exc:
        raise not_english(loc, exc) from exc
    except ArticleError as exc:
        raise ApiError(422, [*loc, "text"], str(exc), exc.kind) from exc


def not_english(loc: Loc, exc: NotEnglishError) -> ApiError:
    """The `reject` language policy's refusal, at the text's field (a batch: its item's)."""
    at = [*loc, exc.item, "text"] if list(loc[-1:]) == ["items"] else [*loc, "text"]
    return ApiError(422, at, str(exc), "not_english")


def load_on_demand(model: OpsLens, metrics: Metrics, loc: Loc, *, generator: bool, verifier: bool) -> float:
    """The models a request needs that load on demand, loaded now if they have not been (callers
    run this in a worker thread, outside the model queue, so that requests queued meanwhile do
    not wait for them): the seconds this request waited. 422 naming `mode` when abstractive mode
    is off here or the generator failed to load; 503 when the verifier failed to load."""
    waited = {"generator": 0.0, "verifier": 0.0}
    try:
        if generator:
            waited["generator"] = model.load_generator()
        if verifier:
            waited["verifier"] = model.load_verifier()
    except AbstractiveUnavailableError as exc:
        raise ApiError(422, [*loc, "mode"], str(exc), "mode_unavailable") from exc
    except VerifierUnavailableError as exc:
        raise ApiError(503, [], str(exc), "verifier_unavailable") from exc
    for name, seconds in waited.items():
        if seconds:
            metrics.on_demand_load.labels(name).set(seconds)
    return sum(waited.values())


AppSettings = Annotated[Settings, Depends(get_settings)]
AppMetrics = Annotated[Metrics, Depends(get_metrics)]
Guard = Annotated[KeyGuard, Depends(get_guard)]
Model = Annotated[OpsLens, Depends(get_model)]
"""The loaded pipeline; 503 before it is."""
Client = Annotated[str, Depends(get_client)]
"""The caller's id (its API key's index, or its address when keys are off); 401 and 429 here."""
Streams = Annotated[StreamSlots, Depends(get_stream_slots)]
