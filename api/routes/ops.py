"""Operations: liveness, readiness, the model card and limits, Prometheus metrics."""

from importlib.metadata import version

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from opslens import __version__
from opslens.api.deps import AppMetrics, AppSettings, Client, Guard, Model
from opslens.api.errors import ERRORS
from opslens.api.schemas import ErrorResponse, InfoResponse
from opslens.model.artifact import CARD, SHIPPED_ARTIFACT

router = APIRouter(tags=["ops"])


@router.get("/health")
def health() -> dict[str, str]:
    """Liveness: the process answers."""
    return {"status": "ok"}


@router.get("/ready", responses={503: {"model": ErrorResponse}})
def ready(request: Request) -> JSONResponse:
    """Readiness: the model is loaded and requests will be served."""
    if request.app.state.model is None:
        return JSONResponse(status_code=503, content={"detail": "model not loaded"})
    return JSONResponse({"status": "ready", "model": request.app.state.model.info.model_dump()})


@router.get("/info", response_model=InfoResponse, responses={401: ERRORS[401]})
def info(model: Model, _: Client, settings: AppSettings, guard: Guard) -> InfoResponse:
    """Model card, versions and the limits this server enforces."""
    card = (settings.model_path or SHIPPED_ARTIFACT) / CARD
    return InfoResponse(
        service="opslens",
        version=__version__,
        model=model.info.model_dump(),
        model_card=card.read_text(encoding="utf-8") if card.is_file() else "",
        limits=settings.limits,
        serving=settings.serving,
        abstractive=settings.abstractive,
        language_policy=settings.language_policy,
        auth={"api_keys": guard.enabled, "rate_limit": settings.rate_limit},
        libraries={p: version(p) for p in ("torch", "transformers", "fastapi", "pydantic", "py3langid")},
    )


@router.get("/metrics", response_class=PlainTextResponse)
def prometheus_metrics(metrics: AppMetrics) -> PlainTextResponse:
    """Prometheus exposition format."""
    return PlainTextResponse(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)
