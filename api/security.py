"""Optional API keys (bearer token or X-API-Key) and an optional per-key rate limit.

With no keys configured every route is open. With keys, a wrong or missing key gets the same
401 whatever was wrong, and keys are compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import time

from fastapi import HTTPException
from fastapi.security import APIKeyHeader, HTTPBearer
from limits import parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

bearer = HTTPBearer(auto_error=False, description="API key as a bearer token.")
api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="API key.")

UNAUTHORIZED = HTTPException(
    status_code=401,
    detail="missing or invalid API key (send it as 'Authorization: Bearer KEY' or 'X-API-Key: KEY')",
    headers={"WWW-Authenticate": "Bearer"},
)


class RateLimitedError(Exception):
    def __init__(self, retry_after_s: int, limit: str) -> None:
        super().__init__(f"rate limit of {limit} per API key exceeded; retry in {retry_after_s} s")
        self.retry_after_s = retry_after_s


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8")).digest()


class KeyGuard:
    """Checks a request's key; `check` returns an opaque client id for the rate limiter."""

    def __init__(self, keys: list[str], rate_limit: str | None = None) -> None:
        # Comparing fixed-length digests keeps the comparison time independent of key length.
        self._digests = [_digest(k) for k in keys]
        self._limit = parse(rate_limit) if rate_limit else None
        self._limit_text = rate_limit or ""
        self._limiter = MovingWindowRateLimiter(MemoryStorage()) if self._limit else None

    @property
    def enabled(self) -> bool:
        return bool(self._digests)

    def check(self, presented: str | None) -> str:
        given = _digest(presented or "")
        # Compare against every key, without stopping early, so timing says nothing.
        matches = [hmac.compare_digest(given, d) for d in self._digests]
        if presented is None or not any(matches):
            raise UNAUTHORIZED
        return f"key{matches.index(True)}"

    def take(self, client: str) -> None:
        """Count one request against the client's rate limit (RateLimitedError past it)."""
        if self._limiter is None or self._limit is None:
            return
        if not self._limiter.hit(self._limit, client):
            reset, _ = self._limiter.get_window_stats(self._limit, client)
            raise RateLimitedError(max(1, math.ceil(reset - time.time())), self._limit_text)
