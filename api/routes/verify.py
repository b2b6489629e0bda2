"""POST /verify and /verify/batch: a summary (say, one your own LLM wrote) and claims checked
against the source article. They go through the same model queue as /summarize, so they share
its grouping, limits and refusals.

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
from opslens.api.schemas import VerifyBatchResponse, VerifyResponse
from opslens.model.errors import VerifierUnavailableError
from opslens.model.results import Verification


async def verify(request: Request, items: Sequence[Any], loc: Loc) -> list[Verification]:
    """The items' verifications, through the model queue (the verifier is loaded first, outside
    it, if it loads on demand)."""
    metrics = get_metrics(request)
    waited = 0.0
    if (model := request.app.state.model) is not None:
        load = partial(load_on_demand, generator=False, verifier=True)
        waited = await anyio.to_thread.run_sync(load, model, metrics, loc)
    try:
        results = await run_queued(request, [item.verify_request() for item in items], loc)
    except VerifierUnavailableError as exc:
        # The server's artifact has no verifier: no retry will help, unlike a model still loading.
        raise ApiError(503, [], str(exc), "verifier_unavailable") from exc
    except ValueError as exc:
        # What validation cannot see (e.g. a summary with no sentence); the message names the field.
        raise ApiError(422, list(loc), str(exc), "unverifiable") from exc
    for result in results:
        result.timings_ms.load_ms = round(waited * 1000, 2)
        metrics.verified(result)
    return results


def router(VerifyRequest: type[BaseModel], VerifyBatchRequest: type[BaseModel]) -> APIRouter:
    """The routes for this app's request models."""
    api = APIRouter(tags=["verify"])

    @api.post("/verify", response_model=VerifyResponse, responses=ERRORS)
    async def verify_one(body: VerifyRequest, request: Request, _: Client):  # type: ignore[valid-type]
        """Check a summary sentence by sentence, and/or claims one by one, against the article:
        each gets a verdict (supported / not_found / contradicted) with calibrated probabilities,
        the article sentences that decided it (offsets into `text`) and the numbers, dates and
        names the article lacks; a summary also gets a consistency score and flag."""
        return (await verify(request, [body], ["body"]))[0]

    @api.post("/verify/batch", response_model=VerifyBatchResponse, responses=ERRORS)
    async def verify_batch(body: VerifyBatchRequest, request: Request, _: Client):  # type: ignore[valid-type]
        """Several articles to check in one call (at most limits.max_batch_items); all or nothing."""
        items = body.items  # type: ignore[attr-defined]
        return VerifyBatchResponse(items=await verify(request, items, ["body", "items"]))

    return api
