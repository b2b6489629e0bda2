"""FastAPI app factory. Routes are thin: validate, call the pipeline, serialise.

No `from __future__ import annotations` here: FastAPI must see the request models
built inside `create_app` as real types, not as names to resolve later.
"""

import logging
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import version
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from opslens import __version__
from opslens.api.body_limit import BodySizeLimit
from opslens.api.metrics import Metrics, MetricsMiddleware
from opslens.api.schemas import BatchResponse, ErrorResponse, InfoResponse, SummarizeResponse, request_models
from opslens.api.settings import Settings
from opslens.model.artifact import CARD, SHIPPED_ARTIFACT
from opslens.model.pipeline import NoSentencesError, OpsLens
from opslens.model.pipeline import Request as AnalysisRequest
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

log = logging.getLogger("opslens.api")

ERRORS = {
    400: {"model": ErrorResponse, "description": "The body cannot be read as UTF-8 JSON."},
    413: {"model": ErrorResponse, "description": "Request body over limits.max_body_bytes."},
    422: {"model": ErrorResponse, "description": "Invalid field; `loc` names it and `msg` the limit."},
    503: {"model": ErrorResponse, "description": "The model is not loaded yet."},
}


def _error(status: int, loc: list[str | int], msg: str, kind: str) -> JSONResponse:
    return JSONResponse(status_code=status, content={"detail": [{"loc": loc, "msg": msg, "type": kind}]})


def create_app(settings: Settings | None = None, model: OpsLens | None = None) -> FastAPI:
    """Build the service. Pass `model` to serve an already-loaded pipeline (tests)."""
    settings = settings or Settings()
    limits = settings.limits
    metrics = Metrics()
    # One inference at a time: torch already uses every core for one call, and parallel
    # calls would only fight over them. Requests wait in the server's thread pool.
    infer_lock = threading.Lock()
    SummarizeRequest, BatchRequest = request_models(limits, settings.default_max_sentences)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if app.state.model is None:
            start = time.perf_counter()
            app.state.model = OpsLens.load(
                settings.model_path,
                threads=settings.threads,
                max_article_sentences=limits.max_article_sentences,
            )
            metrics.model_load.set(time.perf_counter() - start)
            log.info("model %s loaded in %.1fs", app.state.model.info.version, time.perf_counter() - start)
        yield

    app = FastAPI(
        title="OpsLens",
        version=__version__,
        description="Short, faithful extractive summaries and FNC-1 stance labels for briefing articles.",
        lifespan=lifespan,
    )
    app.state.model = model
    app.state.settings = settings

    def get_model(request: Request) -> OpsLens:
        loaded = request.app.state.model
        if loaded is None:
            raise HTTPException(503, "model not loaded yet")
        return loaded

    Model = Annotated[OpsLens, Depends(get_model)]

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        # Never echo the input back: it may be a 100k-character article or binary junk.
        detail = [
            {"loc": list(e.get("loc", [])), "msg": e.get("msg", "invalid"), "type": e.get("type", "invalid")}
            for e in exc.errors()
        ]
        return JSONResponse(status_code=422, content={"detail": jsonable_encoder(detail)})

    @app.exception_handler(Exception)
    async def unexpected_error(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return JSONResponse(status_code=500, content={"detail": "internal error"})

    def analyze(model: OpsLens, items: list, loc: list[str | int]) -> list:
        requests = [AnalysisRequest(i.text, i.title, tuple(i.claims), i.max_sentences) for i in items]
        try:
            with infer_lock:
                results = model.analyze_batch(requests)
        except NoSentencesError as exc:
            return _error(422, [*loc, "text"], str(exc), "no_sentences")
        metrics.articles.inc(len(results))
        return results

    @app.post("/summarize", response_model=SummarizeResponse, responses=ERRORS, tags=["summarize"])
    def summarize(body: SummarizeRequest, model: Model):  # type: ignore[valid-type]
        """Summarise one article and label its stance toward the title and each claim."""
        results = analyze(model, [body], ["body"])
        return results if isinstance(results, JSONResponse) else results[0]

    @app.post("/summarize/batch", response_model=BatchResponse, responses=ERRORS, tags=["summarize"])
    def summarize_batch(body: BatchRequest, model: Model):  # type: ignore[valid-type]
        """Several articles in one call (at most limits.max_batch_items); all or nothing."""
        results = analyze(model, body.items, ["body", "items"])
        return results if isinstance(results, JSONResponse) else BatchResponse(items=results)

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

    @app.get("/info", response_model=InfoResponse, tags=["ops"])
    def info(model: Model) -> InfoResponse:
        """Model card, versions and the limits this server enforces."""
        folder = settings.model_path or SHIPPED_ARTIFACT
        card = folder / CARD
        return InfoResponse(
            service="opslens",
            version=__version__,
            model=model.info.model_dump(),
            model_card=card.read_text(encoding="utf-8") if card.is_file() else "",
            limits=limits,
            libraries={p: version(p) for p in ("torch", "transformers", "fastapi", "pydantic")},
        )

    @app.get("/metrics", tags=["ops"], response_class=PlainTextResponse)
    def prometheus_metrics() -> PlainTextResponse:
        """Prometheus exposition format."""
        return PlainTextResponse(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    app.add_middleware(MetricsMiddleware, metrics=metrics)
    # Outermost: oversized bodies are refused before anything reads them.
    app.add_middleware(BodySizeLimit, max_bytes=limits.max_body_bytes)
    return app
