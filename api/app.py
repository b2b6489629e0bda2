"""FastAPI app factory: wires the routes (api/routes: summarize, stream, verify, ops), the
exception handlers (api/errors), the middleware and the lifespan that loads the model and
runs the model queue.

The shared objects live on `app.state` (settings, metrics, key guard, stream slots, model,
batcher), where the dependencies in api/deps.py find them.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from asgi_correlation_id import CorrelationIdMiddleware
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from opslens import __version__
from opslens.api.batcher import MicroBatcher, by_type
from opslens.api.body_limit import BodySizeLimit
from opslens.api.deps import StreamSlots
from opslens.api.errors import add_exception_handlers
from opslens.api.logs import log_access, valid_request_id
from opslens.api.metrics import Metrics
from opslens.api.observe import RequestObserver
from opslens.api.page import add_page
from opslens.api.routes import ops, stream, summarize, verify
from opslens.api.schemas import request_models, verify_models
from opslens.api.security import KeyGuard
from opslens.api.settings import Settings
from opslens.model.artifact import SHIPPED_ARTIFACT, read_manifest
from opslens.model.loading import ABSTRACTIVE
from opslens.model.options import Loading
from opslens.model.pipeline import AnalysisRequest, OpsLens
from opslens.model.results import Analysis, Verification
from opslens.model.verification import VerifyRequest

log = logging.getLogger("opslens.api")

WARMUP_TEXT = (
    "The service started and loaded its model. It answers one request before the first client does, "
    "so that the first client waits no longer than the others."
)


def generator_loading(settings: Settings) -> Loading:
    """When to load the generator: as configured, or never when the artifact holds no adapter."""
    if settings.abstractive.load == "off":
        return "off"
    folder = settings.model_path or SHIPPED_ARTIFACT
    if ABSTRACTIVE not in read_manifest(folder).components:
        log.warning("abstractive mode off: artifact %s has no '%s' component", folder, ABSTRACTIVE)
        return "off"
    return settings.abstractive.load


def build_generator_aside(settings: Settings, model: OpsLens) -> subprocess.Popen[bytes] | None:
    """With the generator on demand and not yet built on this machine, build it now in a child
    process (`opslens prepare abstractive`): the first abstractive request then only loads it,
    and the build's 1.9 GB peak never lands in the server. That request waits for the child if
    it is still running; if the child fails, the load in the server builds it or says why."""
    from opslens.model.base_model import default_cache
    from opslens.model.generator import is_built

    on_demand = model.generator_on_demand
    if on_demand is None or on_demand.value is not None:
        return None
    folder = settings.model_path or SHIPPED_ARTIFACT
    cache = default_cache(settings.cache_dir) if settings.cache_dir else None
    if is_built(folder, cache=cache, engine=settings.abstractive.engine):
        return None
    command = [sys.executable, "-m", "opslens.cli", "prepare", "abstractive", "--model-path", str(folder)]
    command += ["--generator-engine", settings.abstractive.engine]
    if settings.cache_dir:
        command += ["--cache-dir", str(settings.cache_dir)]
    log.info("building the generator for on-demand loading in a child process: %s", " ".join(command))
    quiet = {"stdin": subprocess.DEVNULL, "stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    child = subprocess.Popen(command, **quiet)
    on_demand.before_loading(child.wait)
    return child


def load_model(settings: Settings) -> OpsLens:
    """Load the pipeline the settings name and answer one request with it (lazy initialisation,
    kernels and caches, would otherwise cost the first caller a second)."""
    model = OpsLens.load(
        settings.model_path,
        threads=settings.threads,
        max_article_sentences=settings.limits.max_article_sentences,
        max_text_chars=settings.limits.max_text_chars,
        backend=settings.encoder_backend,
        cache_dir=settings.cache_dir,
        abstractive=generator_loading(settings),
        engine=settings.abstractive.engine,
        verifier=settings.verifier,
        extractor=settings.extractor,
    )
    # A title's stance goes through the verifier: not when it loads on demand (auto).
    verifier_waits = model.verifier is None and model.verifier_on_demand is not None
    model.analyze(WARMUP_TEXT, title=None if verifier_waits else "Warm-up", max_sentences=1)
    if model.verifier is not None:
        model.verify(WARMUP_TEXT, summary="The service loaded its model.")
    if model.generator is not None:
        model.analyze(WARMUP_TEXT, mode="abstractive", max_words=10)
    return model


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Load the model unless one was passed in, then run the model queue until shutdown."""
    settings: Settings = app.state.settings
    metrics: Metrics = app.state.metrics
    builder = None
    if app.state.model is None:
        start = time.perf_counter()
        app.state.model = load_model(settings)
        metrics.model_load.set(time.perf_counter() - start)
        log.info("model %s loaded in %.1fs", app.state.model.info.version, time.perf_counter() - start)
        builder = build_generator_aside(settings, app.state.model)
    serving = settings.serving
    model: OpsLens = app.state.model
    # One queue for both kinds of model work; a model call may group summaries and checks.
    batcher: MicroBatcher[AnalysisRequest | VerifyRequest, Analysis | Verification] = MicroBatcher(
        by_type({AnalysisRequest: model.analyze_batch, VerifyRequest: model.verify_batch}),
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
        if builder is not None and builder.poll() is None:
            builder.terminate()  # a half-made build is never used: it is made in a temporary folder


def create_app(settings: Settings | None = None, model: OpsLens | None = None) -> FastAPI:
    """Build the service. Pass `model` to serve an already-loaded pipeline (tests)."""
    settings = settings or Settings()
    metrics = Metrics()
    app = FastAPI(
        title="OpsLens",
        version=__version__,
        description="Short, faithful summaries of briefing articles, FNC-1 stance labels, and a check "
        "of any summary or claim against its source article (POST /verify).",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.metrics = metrics
    app.state.guard = KeyGuard(settings.accepted_keys(), settings.rate_limit)
    app.state.streams = StreamSlots(
        settings.abstractive.max_streams, on_full=lambda: metrics.refused.labels("streams_full").inc()
    )
    app.state.model = model
    app.state.batcher = None

    add_exception_handlers(app)
    # The request models carry this server's limits, so the OpenAPI schema shows them.
    SummarizeRequest, BatchRequest = request_models(
        settings.limits, settings.default_max_sentences, settings.abstractive
    )
    app.include_router(summarize.router(SummarizeRequest, BatchRequest))
    app.include_router(stream.router(SummarizeRequest))
    app.include_router(verify.router(*verify_models(settings.limits)))
    app.include_router(ops.router)
    add_page(app)
    _add_middleware(app, settings, metrics)
    return app


def _add_middleware(app: FastAPI, settings: Settings, metrics: Metrics) -> None:
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
    app.add_middleware(BodySizeLimit, max_bytes=settings.limits.max_body_bytes)
    app.add_middleware(RequestObserver, observers=[metrics.observe, log_access])
    # Outermost, so every response (413s included) carries the request ID and every log line has it.
    app.add_middleware(CorrelationIdMiddleware, header_name="X-Request-ID", validator=valid_request_id)
