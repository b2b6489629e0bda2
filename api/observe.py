"""ASGI middleware that times each HTTP request and hands the outcome to observers
(Prometheus metrics, the access log), so each of them need not wrap the app itself."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send


@dataclass(frozen=True)
class Outcome:
    method: str
    path: str
    route: str  # the route template, e.g. /summarize; "unmatched" for unknown paths
    status: int
    seconds: float
    response_bytes: int
    client: str


Observer = Callable[[Outcome], None]


class RequestObserver:
    def __init__(self, app: ASGIApp, observers: Sequence[Observer]) -> None:
        self.app = app
        self.observers = list(observers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500
        sent = 0
        start = time.perf_counter()

        async def capture(message: Message) -> None:
            nonlocal status, sent
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                sent += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            outcome = Outcome(
                method=scope["method"],
                path=scope["path"],
                route=getattr(scope.get("route"), "path", "unmatched"),
                status=status,
                seconds=time.perf_counter() - start,
                response_bytes=sent,
                client=(scope.get("client") or ("-",))[0],
            )
            for observe in self.observers:
                observe(outcome)
