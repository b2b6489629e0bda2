"""How refusals become responses. Every error body has one shape, `{"detail": [{loc, msg, type}]}`
(`ErrorResponse` in the OpenAPI schema), built by `error_body`; routes and dependencies raise
`ApiError`, and the handlers here turn it and the model queue's refusals into responses."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from opslens.api.batcher import ClientGoneError, QueueFullError, RequestTimeoutError, ShuttingDownError
from opslens.api.schemas import ErrorResponse
from opslens.api.security import RateLimitedError

log = logging.getLogger("opslens.api")

Loc = Sequence[str | int]
Problem = tuple[Loc, str, str]
"""(loc, msg, type): where the problem is, what it is in words, and a stable name for it."""

ERRORS: dict[int | str, dict[str, Any]] = {
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
"""The refusals of the model routes, as OpenAPI `responses`."""


def error_body(*problems: Problem) -> dict[str, list[dict[str, Any]]]:
    """The body of every refusal: `{"detail": [{"loc": [...], "msg": ..., "type": ...}, ...]}`."""
    return {"detail": [{"loc": list(loc), "msg": msg, "type": kind} for loc, msg, kind in problems]}


class ApiError(Exception):
    """A refusal raised by a route or a dependency, answered with `error_body`."""

    def __init__(
        self, status: int, loc: Loc, msg: str, kind: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(msg)
        self.status = status
        self.problem: Problem = (loc, msg, kind)
        self.headers = headers

    def response(self) -> JSONResponse:
        return JSONResponse(status_code=self.status, content=error_body(self.problem), headers=self.headers)


def not_ready() -> ApiError:
    return ApiError(503, [], "model not loaded yet", "not_ready", {"Retry-After": "5"})


def add_exception_handlers(app: FastAPI) -> None:
    """Register the handlers; refusals are counted in `app.state.metrics` by reason."""

    def refused(request: Request, reason: str) -> None:
        request.app.state.metrics.refused.labels(reason).inc()

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        # Never echo the input back: it may be a 100k-character article or binary junk.
        body = error_body(
            *((e.get("loc", []), e.get("msg", "invalid"), e.get("type", "invalid")) for e in exc.errors())
        )
        return JSONResponse(status_code=422, content=jsonable_encoder(body))

    @app.exception_handler(ApiError)
    async def api_error(_: Request, exc: ApiError) -> JSONResponse:
        return exc.response()

    @app.exception_handler(RateLimitedError)
    async def rate_limited(request: Request, exc: RateLimitedError) -> JSONResponse:
        refused(request, "rate_limited")
        headers = {"Retry-After": str(exc.retry_after_s)}
        return ApiError(429, ["header"], str(exc), "rate_limited", headers).response()

    @app.exception_handler(QueueFullError)
    async def queue_full(request: Request, exc: QueueFullError) -> JSONResponse:
        refused(request, "queue_full")
        limit = f"serving.max_queued_articles={request.app.state.settings.serving.max_queued_articles}"
        headers = {"Retry-After": str(exc.retry_after_s)}
        return ApiError(429, [], f"{exc} ({limit})", "queue_full", headers).response()

    @app.exception_handler(RequestTimeoutError)
    async def timed_out(request: Request, exc: RequestTimeoutError) -> JSONResponse:
        refused(request, "timeout")
        return ApiError(504, [], f"{exc} (serving.request_timeout_s)", "timeout").response()

    @app.exception_handler(ShuttingDownError)
    async def shutting_down(request: Request, exc: ShuttingDownError) -> JSONResponse:
        refused(request, "shutting_down")
        headers = {"Retry-After": "5", "Connection": "close"}
        return ApiError(503, [], str(exc), "shutting_down", headers).response()

    @app.exception_handler(ClientGoneError)
    async def client_gone(request: Request, _: ClientGoneError) -> Response:
        refused(request, "client_gone")
        # Nobody reads this; 499 (nginx's "client closed request") marks it in logs and metrics.
        return Response(status_code=499)

    @app.exception_handler(Exception)
    async def unexpected_error(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return JSONResponse(status_code=500, content={"detail": "internal error"})
