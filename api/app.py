"""FastAPI app factory. Routes are thin: validate, call the pipeline, serialise.

No `from __future__ import annotations` here: FastAPI must see the request models
built inside `create_app` as real types, not as names to resolve later.
"""

import logging
import threading
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager
from importlib.metadata import version
from typing import Annotated, Any

import anyio
from asgi_correlation_id import CorrelationIdMiddleware
from fastapi import Depends, FastAPI, HTTPException, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, PlainTextResponse
from fastapi.sse import EventSourceResponse, ServerSentEvent
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from opslens import __version__
from opslens.api.batcher import (
    ClientGoneError,
    MicroBatcher,
    QueueFullError,
    RequestTimeoutError,
    ShuttingDownError,
)
from opslens.api.body_limit import BodySizeLimit
from opslens.api.logs import log_access, valid_request_id
from opslens.api.metrics import Metrics
from opslens.api.observe import RequestObserver
from opslens.api.page import add_page
from opslens.api.schemas import BatchResponse, ErrorResponse, InfoResponse, SummarizeResponse, request_models
from opslens.api.security import KeyGuard, RateLimitedError, authorization
from opslens.api.settings import Settings
from opslens.model.artifact import CARD, SHIPPED_ARTIFACT, read_manifest
from opslens.model.pipeline import (
    ABSTRACTIVE,
    AbstractiveUnavailableError,
    AnalysisRequest,
    NoSentencesError,
    OpsLens,
)
from opslens.model.results import Analysis

log = logging.getLogger("opslens.api")

WARMUP_TEXT = (
    "The service started and loaded its model. It answers one request before the first client does, "
    "so that the first client waits no longer than the others."
)
ERRORS = {
    400: {"model": ErrorResponse, "description": "The body cannot be read as UTF-8 JSON."},
    401: {"model": ErrorResponse, "description": "API keys are configured and none valid was sent."},
    413: {"model": ErrorResponse, "description": "Request body over limits.max_body_bytes."},
    422: {"model": ErrorResponse, "description": "Invalid field; `loc` names it and `msg` the limit."},
    429: {
        "model": ErrorResponse,
        "description": "The model queue is full or the key's rate limit is spent; see Retry-After.",
    },
    503: {"model": ErrorResponse, "description": "The model is not loaded yet, or the server is stopping."},
    504: {"model": ErrorResponse, "description": "No answer within serving.request_timeout_s."},
}


def _error(
    status: int, loc: list[str | int], msg: str, kind: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(
        status_code=status, content={"detail": [{"loc": loc, "msg": msg, "type": kind}]}, headers=headers
    )


def _detail(loc: list[str | int], msg: str, kind: str) -> list[dict[str, Any]]:
    return [{"loc": loc, "msg": msg, "type": kind}]


def _analysis_request(item: Any) -> AnalysisRequest:
    return AnalysisRequest(
        text=item.text,
        title=item.title,
        claims=tuple(item.claims),
        max_sentences=item.max_sentences,
        mode=item.mode,
        max_words=item.max_words,
        policy=item.faithfulness_policy,
    )


def wants_generator(settings: Settings) -> bool:
    """Load the generator when enabled and the artifact holds an adapter for it."""
    if not settings.abstractive.enabled:
        return False
    folder = settings.model_path or SHIPPED_ARTIFACT
    if ABSTRACTIVE not in read_manifest(folder).components:
        log.warning("abstractive mode off: artifact %s has no '%s' component", folder, ABSTRACTIVE)
        return False
    return True


_END = object()


class _Pull:
    """Steps a blocking iterator from worker threads, one step at a time, so that closing it
    (to stop a decode) waits for the step in flight instead of failing."""

    def __init__(self, iterator: Iterator[Any]) -> None:
        self._it = iterator
        self._lock = threading.Lock()

    def next(self) -> Any:
        with self._lock:
            return next(self._it, _END)

    def close(self) -> None:
        with self._lock:
            close = getattr(self._it, "close", None)
            if close is not None:
                close()


def create_app(settings: Settings | None = None, model: OpsLens | None = None) -> FastAPI:
    """Build the service. Pass `model` to serve an already-loaded pipeline (tests)."""
    settings = settings or Settings()
    limits = settings.limits
    serving = settings.serving
    metrics = Metrics()
    guard = KeyGuard(settings.accepted_keys(), settings.rate_limit)
    SummarizeRequest, BatchRequest = request_models(
        limits, settings.default_max_sentences, settings.abstractive
    )
    # Concurrent streams; taken without waiting (a full house answers 429, it does not queue).
    streams = threading.BoundedSemaphore(settings.abstractive.max_streams)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if app.state.model is None:
            start = time.perf_counter()
            app.state.model = OpsLens.load(
                settings.model_path,
                threads=settings.threads,
                max_article_sentences=limits.max_article_sentences,
                backend=settings.encoder_backend,
                cache_dir=settings.cache_dir,
                abstractive=wants_generator(settings),
                engine=settings.abstractive.engine,
            )
            # One call before the first request: lazy initialisation (kernels, caches) costs the
            # first caller a second otherwise.
            app.state.model.analyze(WARMUP_TEXT, title="Warm-up", max_sentences=1)
            if app.state.model.generator is not None:
                app.state.model.analyze(WARMUP_TEXT, mode="abstractive", max_words=10)
            metrics.model_load.set(time.perf_counter() - start)
            log.info("model %s loaded in %.1fs", app.state.model.info.version, time.perf_counter() - start)
        batcher: MicroBatcher[AnalysisRequest, Analysis] = MicroBatcher(
            app.state.model.analyze_batch,
            max_batch=serving.max_batch_articles,
            max_queued=serving.max_queued_articles,
            max_wait_s=serving.batch_wait_ms / 1000,
            stats=metrics.batch_stats(),
        )
        batcher.start()
        app.state.batcher = batcher
        try:
            yield
        finally:
            # Uvicorn has already waited for in-flight requests; anything still queued finishes.
            await batcher.stop()
            app.state.batcher = None

    app = FastAPI(
        title="OpsLens",
        version=__version__,
        description="Short, faithful extractive summaries and FNC-1 stance labels for briefing articles.",
        lifespan=lifespan,
    )
    app.state.model = model
    app.state.batcher = None
    app.state.settings = settings

    def get_model(request: Request) -> OpsLens:
        loaded = request.app.state.model
        if loaded is None:
            raise HTTPException(503, "model not loaded yet")
        return loaded

    Model = Annotated[OpsLens, Depends(get_model)]
    Client = Annotated[str, Depends(authorization(guard))]

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        # Never echo the input back: it may be a 100k-character article or binary junk.
        detail = [
            {"loc": list(e.get("loc", [])), "msg": e.get("msg", "invalid"), "type": e.get("type", "invalid")}
            for e in exc.errors()
        ]
        return JSONResponse(status_code=422, content={"detail": jsonable_encoder(detail)})

    @app.exception_handler(RateLimitedError)
    async def rate_limited(_: Request, exc: RateLimitedError) -> JSONResponse:
        metrics.refused.labels("rate_limited").inc()
        return _error(429, ["header"], str(exc), "rate_limited", {"Retry-After": str(exc.retry_after_s)})

    @app.exception_handler(Exception)
    async def unexpected_error(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return JSONResponse(status_code=500, content={"detail": "internal error"})

    async def analyze(request: Request, items: Sequence, loc: list[str | int]) -> list[Analysis] | Response:
        batcher: MicroBatcher[AnalysisRequest, Analysis] | None = request.app.state.batcher
        if batcher is None:
            return _error(503, [], "model not loaded yet", "not_ready", {"Retry-After": "5"})
        requests = [_analysis_request(i) for i in items]
        try:
            results = await batcher.submit(
                requests, timeout_s=serving.request_timeout_s, is_disconnected=request.is_disconnected
            )
        except NoSentencesError as exc:
            return _error(422, [*loc, "text"], str(exc), "no_sentences")
        except AbstractiveUnavailableError as exc:
            return _error(422, [*loc, "mode"], str(exc), "mode_unavailable")
        except QueueFullError as exc:
            metrics.refused.labels("queue_full").inc()
            limit = f"serving.max_queued_articles={serving.max_queued_articles}"
            return _error(429, [], f"{exc} ({limit})", "queue_full", {"Retry-After": str(exc.retry_after_s)})
        except RequestTimeoutError as exc:
            metrics.refused.labels("timeout").inc()
            return _error(504, [], f"{exc} (serving.request_timeout_s)", "timeout")
        except ShuttingDownError as exc:
            metrics.refused.labels("shutting_down").inc()
            return _error(503, [], str(exc), "shutting_down", {"Retry-After": "5", "Connection": "close"})
        except ClientGoneError:
            metrics.refused.labels("client_gone").inc()
            # Nobody reads this; 499 (nginx's "client closed request") marks it in logs and metrics.
            return Response(status_code=499)
        for result in results:
            metrics.analysed(result)
        return results

    @app.post("/summarize", response_model=SummarizeResponse, responses=ERRORS, tags=["summarize"])
    async def summarize(body: SummarizeRequest, request: Request, _: Client):  # type: ignore[valid-type]
        """Summarise one article and label its stance toward the title and each claim."""
        results = await analyze(request, [body], ["body"])
        return results if isinstance(results, Response) else results[0]

    @app.post("/summarize/batch", response_model=BatchResponse, responses=ERRORS, tags=["summarize"])
    async def summarize_batch(body: BatchRequest, request: Request, _: Client):  # type: ignore[valid-type]
        """Several articles in one call (at most limits.max_batch_items); all or nothing."""
        results = await analyze(request, body.items, ["body", "items"])
        return results if isinstance(results, Response) else BatchResponse(items=results)

    def stream_slot(request: Request, body: SummarizeRequest) -> Iterator[None]:  # type: ignore[valid-type]
        """Refuse before the stream starts (a status code cannot change once it has)."""
        model = request.app.state.model
        if model is None:
            raise HTTPException(503, _detail([], "model not loaded yet", "not_ready"), {"Retry-After": "5"})
        if body.mode != "abstractive":  # type: ignore[attr-defined]
            msg = "streaming is for mode 'abstractive'; use POST /summarize for extractive summaries"
            raise HTTPException(422, _detail(["body", "mode"], msg, "stream_mode"))
        if model.generator is None:
            raise HTTPException(
                422, _detail(["body", "mode"], "abstractive mode is off on this server", "mode_unavailable")
            )
        if not streams.acquire(blocking=False):
            metrics.refused.labels("streams_full").inc()
            limit = f"abstractive.max_streams={settings.abstractive.max_streams}"
            raise HTTPException(
                429,
                _detail([], f"too many streams in progress ({limit})", "streams_full"),
                {"Retry-After": "2"},
            )
        try:
            yield
        finally:
            streams.release()

    @app.post(
        "/summarize/stream",
        response_class=EventSourceResponse,
        responses={
            # The route's media type is text/event-stream; its refusals are JSON, documented so.
            **{
                code: {
                    "description": e["description"],
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}
                    },
                }
                for code, e in ERRORS.items()
            },
            200: {
                "description": "Server-sent events: `token` ({text}) as the summary is decoded, then one "
                "`result` (the same JSON as POST /summarize), or one `error` ({detail}).",
                "content": {"text/event-stream": {}},
            },
        },
        tags=["summarize"],
    )
    async def summarize_stream(
        body: SummarizeRequest,  # type: ignore[valid-type]
        request: Request,
        _: Client,
        __: Annotated[None, Depends(stream_slot)],
    ) -> AsyncIterator[ServerSentEvent]:
        """Abstractive summary, token by token. Tokens are the raw decode; the `result` event
        holds the final summary after recasing and the faithfulness policy."""
        model: OpsLens = request.app.state.model
        pull = _Pull(model.stream(_analysis_request(body)))
        deadline = time.monotonic() + serving.request_timeout_s
        try:
            while (item := await anyio.to_thread.run_sync(pull.next)) is not _END:
                if isinstance(item, str):
                    yield ServerSentEvent(event="token", data={"text": item})
                    if time.monotonic() > deadline:
                        msg = f"no result within serving.request_timeout_s={serving.request_timeout_s}"
                        metrics.refused.labels("timeout").inc()
                        yield ServerSentEvent(event="error", data={"detail": _detail([], msg, "timeout")})
                        return
                else:
                    metrics.analysed(item)
                    yield ServerSentEvent(event="result", data=item)
        except NoSentencesError as exc:
            yield ServerSentEvent(
                event="error", data={"detail": _detail(["body", "text"], str(exc), "no_sentences")}
            )
        except Exception as exc:  # the status line is sent: report in the stream, never hang up silently
            log.exception("stream failed", exc_info=exc)
            yield ServerSentEvent(event="error", data={"detail": "internal error"})
        finally:
            # Stops the decode if the client left (the generator is closed between two tokens).
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(pull.close)

    @app.get("/health", tags=["ops"])
    def health() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    @app.get("/ready", tags=["ops"], responses={503: {"model": ErrorResponse}})
    def ready(request: Request) -> JSONResponse:
        """Readiness: the model is loaded and requests will be served."""
        if request.app.state.model is None:
            return JSONResponse(status_code=503, content={"detail": "model not loaded"})
        return JSONResponse({"status": "ready", "model": request.app.state.model.info.model_dump()})

    @app.get("/info", response_model=InfoResponse, responses={401: ERRORS[401]}, tags=["ops"])
    def info(model: Model, _: Client) -> InfoResponse:
        """Model card, versions and the limits this server enforces."""
        folder = settings.model_path or SHIPPED_ARTIFACT
        card = folder / CARD
        return InfoResponse(
            service="opslens",
            version=__version__,
            model=model.info.model_dump(),
            model_card=card.read_text(encoding="utf-8") if card.is_file() else "",
            limits=limits,
            serving=serving,
            abstractive=settings.abstractive,
            auth={"api_keys": guard.enabled, "rate_limit": settings.rate_limit},
            libraries={p: version(p) for p in ("torch", "transformers", "fastapi", "pydantic")},
        )

    add_page(app)

    @app.get("/metrics", tags=["ops"], response_class=PlainTextResponse)
    def prometheus_metrics() -> PlainTextResponse:
        """Prometheus exposition format."""
        return PlainTextResponse(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    # Added innermost first. CORS only when origins are configured.
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "X-API-Key", "X-Request-ID", "Content-Type"],
            expose_headers=["X-Request-ID", "Retry-After"],
        )
    # Oversized bodies are refused before anything reads them.
    app.add_middleware(BodySizeLimit, max_bytes=limits.max_body_bytes)
    app.add_middleware(RequestObserver, observers=[metrics.observe, log_access])
    # Outermost, so every response (413s included) carries the request ID and every log line has it.
    app.add_middleware(CorrelationIdMiddleware, header_name="X-Request-ID", validator=valid_request_id)
    return app
