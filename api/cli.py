"""`opslens serve [--host H] [--port P] [--abstractive auto|on|off] [--generator-engine hf]
[--engine ray]`."""

from __future__ import annotations

import argparse
import sys

from opslens.model.options import (
    BACKENDS,
    DEFAULT_ABSTRACTIVE_LOADING,
    DEFAULT_BACKEND,
    DEFAULT_ENGINE,
    DEFAULT_SERVE_ENGINE,
    ENGINES,
    LOADINGS,
    SERVE_ENGINES,
)


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="start the HTTP service with the shipped (or configured) model")
    p.add_argument("--host", help="default: OPSLENS_HOST or 127.0.0.1")
    p.add_argument("--port", type=int, help="default: OPSLENS_PORT or 8000")
    p.add_argument("--model-path", help="artifact folder (default: OPSLENS_MODEL_PATH or the shipped model)")
    p.add_argument("--threads", type=int, help="model threads (default: OPSLENS_THREADS or all cores)")
    p.add_argument(
        "--backend",
        choices=BACKENDS,
        help=f"MiniLM encoders: torch, bf16 or onnx (default: OPSLENS_ENCODER_BACKEND or {DEFAULT_BACKEND})",
    )
    p.add_argument(
        "--abstractive",
        choices=LOADINGS,
        help="when the generator for mode 'abstractive' loads: on the first abstractive request, at "
        f"start-up, or never (default: OPSLENS_ABSTRACTIVE or {DEFAULT_ABSTRACTIVE_LOADING})",
    )
    p.add_argument(
        "--no-abstractive", dest="abstractive", action="store_const", const="off", help="--abstractive off"
    )
    p.add_argument(
        "--generator-engine",
        choices=ENGINES,
        help="abstractive decoding: ort (onnxruntime-genai int8), ct2 (CTranslate2 int8) or hf "
        "(transformers fp32) "
        f"(default: OPSLENS_ABSTRACTIVE__ENGINE or {DEFAULT_ENGINE})",
    )
    p.add_argument(
        "--engine",
        choices=SERVE_ENGINES,
        default=DEFAULT_SERVE_ENGINE,
        help="uvicorn: one process; ray: replicas on Ray Serve",
    )
    p.add_argument("--replicas", type=int, help="Ray: replicas (default: OPSLENS_RAY__REPLICAS or 1)")
    p.add_argument("--max-replicas", type=int, help="Ray: autoscale up to this many (default: fixed)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import logging

    import uvicorn
    from transformers.utils.logging import disable_progress_bar

    from opslens.api.app import create_app, generator_loading
    from opslens.api.logs import logging_config
    from opslens.api.settings import Settings
    from opslens.model.artifact import SHIPPED_ARTIFACT, ArtifactError, verify_artifact
    from opslens.model.base_model import BaseModelError, base_gguf
    from opslens.model.loading import COMPONENTS

    overrides = {
        k: v
        for k, v in {
            "host": args.host,
            "port": args.port,
            "model_path": args.model_path,
            "threads": args.threads,
            "encoder_backend": args.backend,
        }.items()
        if v is not None
    }
    replicas = {"replicas": args.replicas, "max_replicas": args.max_replicas}
    # Nested values merge with OPSLENS_RAY__* variables and are validated like them.
    generator = {"load": args.abstractive, "engine": args.generator_engine}
    settings = Settings(
        **overrides,
        ray={k: v for k, v in replicas.items() if v is not None},
        abstractive={k: v for k, v in generator.items() if v is not None},
    )
    try:
        # Refuse a broken artifact before serving: one clear line, not a lifespan traceback.
        verify_artifact(settings.model_path or SHIPPED_ARTIFACT, COMPONENTS)
        if generator_loading(settings) != "off":
            base_gguf()  # the base model package is installed
    except (ArtifactError, BaseModelError) as exc:
        print(f"opslens serve: error: {exc}", file=sys.stderr)
        return 2
    if args.engine == "ray":
        from opslens.api.ray_serve import run as run_on_ray
        from opslens.ray_extra import RayMissingError

        try:
            run_on_ray(settings)
        except RayMissingError as exc:
            print(f"opslens serve: error: {exc}", file=sys.stderr)
            return 2
        return 0
    # Progress bars are for terminals; the service log is one JSON object per line, so Python
    # warnings (a library's FutureWarning at model load) go through logging too ("py.warnings").
    disable_progress_bar()
    logging.captureWarnings(True)
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_config=logging_config(settings.log_level, settings.log_format),
        log_level=settings.log_level,
        # On SIGTERM uvicorn stops accepting, lets in-flight requests finish, then stops.
        timeout_graceful_shutdown=int(settings.serving.shutdown_timeout_s),
    )
    return 0
