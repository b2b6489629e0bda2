"""`opslens serve --host H --port P`."""

from __future__ import annotations

import argparse
import sys


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="start the HTTP service with the shipped (or configured) model")
    p.add_argument("--host", help="default: OPSLENS_HOST or 127.0.0.1")
    p.add_argument("--port", type=int, help="default: OPSLENS_PORT or 8000")
    p.add_argument("--model-path", help="artifact folder (default: OPSLENS_MODEL_PATH or the shipped model)")
    p.add_argument("--threads", type=int, help="torch threads (default: OPSLENS_THREADS or torch's)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import uvicorn
    from opslens.api.app import create_app
    from opslens.api.settings import Settings
    from opslens.model.artifact import SHIPPED_ARTIFACT, ArtifactError, verify_artifact
    from opslens.model.pipeline import COMPONENTS

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
    settings = Settings(**overrides)
    try:
        # Refuse a broken artifact before serving: one clear line, not a lifespan traceback.
        verify_artifact(settings.model_path or SHIPPED_ARTIFACT, COMPONENTS)
    except ArtifactError as exc:
        print(f"opslens serve: error: {exc}", file=sys.stderr)
        return 2
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level=settings.log_level)
    return 0
