"""POST /summarize and /summarize/batch: articles go through the model queue (the batcher),
which groups concurrent requests into one model call.

No `from __future__ import annotations`: the request models are built per app (their limits
come from the settings), and FastAPI must see them as real types in the route signatures.
"""

from collections.abc import Sequence
from functools import partial
from typing import Any

import anyio
from fastapi import APIRouter, Request
from pydantic import BaseModel

from opslens.api.deps import Client, get_metrics, load_on_demand, run_queued
from opslens.api.errors import ERRORS, ApiError, Loc
from opslens.api.schemas import BatchResponse, SummarizeResponse
from opslens.model.errors import VerifierUnavailableError
from opslens.model.pipeline import AbstractiveUnavailableError
from opslens.model.results import Analysis


async def analyze(request: Request, items: Sequence[Any], loc: Loc) -> list[Analysis]:
    """The articles' analyses, through the model queue; abstractive mode without a generator
    is named here (the other refusals in `run_queued`). A generator loaded on demand is loaded
    first, outside the queue, and the results say how long this request waited for it."""
    metrics = get_metrics(request)
    waited = 0.0
    if (model := request.app.state.model) is not None:
        abstractive = any(item.mode == "abstractive" for item in items)
        # The verifier reads titles and claims, and guards generated summaries. (A web page's own
        # title, format html, is found in the queue: the verifier then loads there.)
        verifier = abstractive or any(item.title or item.claims for item in items)
        load = partial(load_on_demand, generator=abstractive, verifier=verifier)
        waited = await anyio.to_thread.run_sync(load, model, metrics, loc)
    try:
        results = await run_queued(request, [item.analysis_request() for item in items], loc)
    except AbstractiveUnavailableError as exc:
        raise ApiError(422, [*loc, "mode"], str(exc), "mode_unavailable") from exc
    except VerifierUnavailableError as exc:  # loaded on demand, and the load failed
        raise ApiError(503, [], str(exc), "verifier_unavailable") from exc
    for result in results:
        result.timings_ms.load_ms = round(waited * 1000, 2)
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
