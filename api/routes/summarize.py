"""POST /summarize and /summarize/batch: articles go through the model queue (the batcher),
which groups concurrent requests into one model call.

No `from __future__ import annotations`: the request models are built per app (their limits
come from the settings), and FastAPI must see them as real types in the route signatures.
"""

from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel

from opslens.api.deps import Client, get_metrics, get_settings
from opslens.api.errors import ERRORS, ApiError, Loc, not_ready
from opslens.api.schemas import BatchResponse, SummarizeResponse
from opslens.model.pipeline import AbstractiveUnavailableError, NoSentencesError
from opslens.model.results import Analysis


async def analyze(request: Request, items: Sequence[Any], loc: Loc) -> list[Analysis]:
    """Queue the articles as one unit and wait for their results. The queue's refusals (full,
    timeout, stopping, client gone) become responses in `errors`; bad articles are named here."""
    batcher = request.app.state.batcher
    if batcher is None:
        raise not_ready()
    try:
        results = await batcher.submit(
            [item.analysis_request() for item in items],
            timeout_s=get_settings(request).serving.request_timeout_s,
            is_disconnected=request.is_disconnected,
        )
    except NoSentencesError as exc:
        raise ApiError(422, [*loc, "text"], str(exc), "no_sentences") from exc
    except AbstractiveUnavailableError as exc:
        raise ApiError(422, [*loc, "mode"], str(exc), "mode_unavailable") from exc
    metrics = get_metrics(request)
    for result in results:
        metrics.analysed(result)
    return results


def router(SummarizeRequest: type[BaseModel], BatchRequest: type[BaseModel]) -> APIRouter:
    """The routes for this app's request models."""
    api = APIRouter(tags=["summarize"])

    @api.post("/summarize", response_model=SummarizeResponse, responses=ERRORS)
    async def summarize(body: SummarizeRequest, request: Request, _: Client):  # type: ignore[valid-type]
        """Summarise one article and label its stance toward the title and each claim."""
        return (await analyze(request, [body], ["body"]))[0]

    @api.post("/summarize/batch", response_model=BatchResponse, responses=ERRORS)
    async def summarize_batch(body: BatchRequest, request: Request, _: Client):  # type: ignore[valid-type]
        """Several articles in one call (at most limits.max_batch_items); all or nothing."""
        return BatchResponse(items=await analyze(request, body.items, ["body", "items"]))  # type: ignore[attr-defined]

    return api
