"""Serving replicas on Ray Serve: the same FastAPI app as `opslens serve`, one copy per replica.

Each replica builds the app from `create_app` when it starts, so each loads its own model
(the app's lifespan) and runs its own request queue; Serve's proxy spreads
requests over the replicas and, with `max_replicas` set, adds or removes replicas by load.

    opslens serve --engine ray --replicas 2 [--max-replicas 4]
    serve run opslens.api.ray_serve:build replicas=2 max_replicas=4   # Ray's own CLI

Ray is an optional extra: `pip install 'opslens[ray]'`.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from opslens.api.app import create_app
from opslens.api.settings import Settings
from opslens.ray_extra import require_ray

APP_NAME = "opslens"


def deployment(settings: Settings) -> Any:
    """The bound Serve application (a `ray.serve.Application`) for these settings."""
    serve = require_ray("serve").serve
    opts = settings.ray

    def build_app() -> FastAPI:  # runs inside each replica
        return create_app(settings)

    scaling: dict[str, Any] = {"num_replicas": opts.replicas}
    if opts.max_replicas is not None:
        scaling = {
            "autoscaling_config": {
                "min_replicas": opts.replicas,
                "initial_replicas": opts.replicas,
                "max_replicas": max(opts.max_replicas, opts.replicas),
                "target_ongoing_requests": opts.target_ongoing_requests,
            }
        }
    ingress = serve.ingress(build_app)()
    return serve.deployment(
        ingress,
        name=APP_NAME,
        max_ongoing_requests=opts.max_ongoing_requests,
        # One CPU per torch thread, so Ray places no more replicas on a node than it has cores.
        ray_actor_options={"num_cpus": settings.threads or 1},
        **scaling,
    ).bind()


def build(args: dict[str, str]) -> Any:
    """Application builder for `serve run opslens.api.ray_serve:build replicas=2 ...`:
    the other settings come from OPSLENS_* variables, as for `opslens serve`."""
    return deployment(Settings(ray=args))


def run(settings: Settings) -> None:
    """Start (or join) Ray, serve on settings.host:port and block until interrupted."""
    ray = require_ray("serve")
    serve = ray.serve
    if not ray.is_initialized():
        ray.init(include_dashboard=False)
    serve.start(http_options={"host": settings.host, "port": settings.port})
    serve.run(deployment(settings), name=APP_NAME, route_prefix="/", blocking=True)
