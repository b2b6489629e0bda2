"""Logging: JSON lines (or plain text) carrying the request ID, and one access line per request.

Article text never reaches the logs: the access line has the route, status, duration, sizes
and the request ID, nothing from the body.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from pythonjsonlogger.core import RESERVED_ATTRS

from opslens.api.observe import Outcome

access_log = logging.getLogger("opslens.access")

# A request ID a client may send: short, printable, no spaces (it goes into logs and headers).
REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")


def valid_request_id(value: str) -> bool:
    return REQUEST_ID.fullmatch(value) is not None


def logging_config(level: str = "info", fmt: str = "json") -> dict[str, Any]:
    """A `logging.config.dictConfig` for the service and uvicorn (pass as uvicorn's log_config)."""
    formatter: dict[str, Any] = (
        {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s %(correlation_id)s",
            "datefmt": "%Y-%m-%dT%H:%M:%S%z",
            "rename_fields": {
                "asctime": "time",
                "levelname": "level",
                "name": "logger",
                "correlation_id": "request_id",
            },
            # uvicorn adds an ANSI-coloured copy of each message; one copy is enough.
            "reserved_attrs": [*RESERVED_ATTRS, "color_message"],
        }
        if fmt == "json"
        else {"format": "%(asctime)s %(levelname)s %(name)s [%(correlation_id)s] %(message)s"}
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            "request_id": {
                "()": "asgi_correlation_id.CorrelationIdFilter",
                "default_value": "-",
            }
        },
        "formatters": {"default": formatter},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "default",
                "filters": ["request_id"],
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"handlers": ["stderr"], "level": "WARNING"},
        "loggers": {
            "uvicorn": {"handlers": ["stderr"], "level": level.upper(), "propagate": False},
            "uvicorn.error": {"level": level.upper()},
            # Our own access line carries the request ID; uvicorn's would duplicate it without.
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
            "opslens": {"handlers": ["stderr"], "level": level.upper(), "propagate": False},
            # transformers writes its warnings (a model's load report, over several lines) through
            # a plain handler of its own; configuring its logger here replaces that handler, so
            # they become log records like the rest.
            "transformers": {"handlers": ["stderr"], "level": "WARNING", "propagate": False},
        },
    }


def log_access(outcome: Outcome) -> None:
    """Observer for `RequestObserver`: one access line per HTTP request."""
    access_log.info(
        "%s %s %d",
        outcome.method,
        outcome.path,
        outcome.status,
        extra={
            "method": outcome.method,
            "path": outcome.path,
            "route": outcome.route,
            "status": outcome.status,
            "duration_ms": round(outcome.seconds * 1000, 2),
            "response_bytes": outcome.response_bytes,
            "client": outcome.client,
        },
    )
