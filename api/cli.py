"""`opslens serve --host H --port P [--engine ray --replicas N]`."""

from __future__ import annotations

import argparse
import sys


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="start the HTTP service with the shipped (or configured) model")
    p.add_argument("--host", help="default: OPSLENS_HOST or 127.0.0.1")
    p.add_argument("--port", type=int, help="default: OPSLENS_PORT or 8000")
    p.add_argument("--model-path", help="artifact folder (default: OPSLENS_MODEL_PATH or the shipped model)")
    p.add_argument("--threads", type=int, help="torch threads (default: OPSLENS_THREADS or torch's)")
    p.add_argument(
        "--engine", choices=["uvicorn", "ray"], default="uvicorn", help="ray: replicas on Ray Serve"
    )
    p.add_argument("--replicas", type=int, help="Ray: replicas (default: OPSLENS_RAY__REPLICAS or 1)")
    p.add_argument("--max-replicas", type=int, help="Ray: autoscale up to this many (default: fixed)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import uvicorn
    from opslens.api.app import create_app
    from opslens.api.settings import Settings

    overrides = {
        k: v
        for k, v in {
            "host": args.host,
            "port": args.port,
            "model_path": args.model_path,
            "threads": args.threads,
        }.items()
        if v is not None
    }
    replicas = {"replicas": args.replicas, "max_replicas": args.max_replicas}
    # Nested values merge with OPSLENS_RAY__* variables and are validated like them.
    settings = Settings(**overrides, ray={k: v for k, v in replicas.items() if v is not None})
    if args.engine == "ray":
        from opslens.api.ray_serve import run as run_on_ray
        from opslens.ray_extra import RayMissingError

        try:
            run_on_ray(settings)
        except RayMissingError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        return 0
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level=settings.log_level)
    return 0
