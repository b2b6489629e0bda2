"""What `OpsLens.load` assembles from an artifact folder: the sentence encoder, the extractive
models (the fine-tuned encoder when the artifact has one; the frozen-vector scorer), the stance
head, and the optional models (the generator, the claim verifier), each loaded now or on its
first use (`Loading` "auto", model/on_demand.py) or not at all."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from opslens.model.artifact import SHIPPED_ARTIFACT, load_component, read_component_meta, verify_artifact
from opslens.model.base_model import BASE_NAME
from opslens.model.encoder import ENCODER_NAME, Encoder, load_encoder
from opslens.model.errors import AbstractiveUnavailableError
from opslens.model.extractive import ExtractiveConfig, ExtractiveScorer
from opslens.model.extractive_encoder import COMPONENT as EXTRACTIVE_ENCODER
from opslens.model.extractive_encoder import ExtractiveEncoder
from opslens.model.on_demand import OnDemand
from opslens.model.options import (
    DEFAULT_BACKEND,
    DEFAULT_ENGINE,
    DEFAULT_EXTRACTOR,
    ENGINE_NAMES,
    Backend,
    Engine,
    Extractor,
    Loading,
)
from opslens.model.results import ModelInfo
from opslens.model.stance import StanceClassifier, StanceConfig
from opslens.model.verification import describe
from opslens.model.verifier import COMPONENT as VERIFIER
from opslens.model.verifier import ClaimVerifier, VerifierConfig

if TYPE_CHECKING:
    from opslens.model.generator import Generator

COMPONENTS = ("extractive", "stance")  # what an artifact must hold to serve
ABSTRACTIVE = "abstractive"  # optional component: the generator's LoRA adapter
EXTRACTIVE_NAMES: dict[Extractor, str] = {
    "finetuned": "fine-tuned encoder (LoRA) + inter-sentence Transformer",
    "frozen": "frozen sentence vectors + inter-sentence Transformer",
}


@dataclass(frozen=True, kw_only=True)
class Parts:
    encoder: Encoder
    scorer: ExtractiveScorer
    extractor: ExtractiveEncoder | None  # the fine-tuned extractive model, when served
    stance: StanceClassifier
    info: ModelInfo
    generator: Generator | None
    generator_on_demand: OnDemand[Generator] | None
    verifier: ClaimVerifier | None
    verifier_on_demand: OnDemand[ClaimVerifier] | None


def load_parts(
    path: Path | str | None = None,
    *,
    threads: int | None = None,
    backend: Backend = DEFAULT_BACKEND,
    cache_dir: Path | None = None,
    abstractive: bool | Loading = False,
    engine: Engine = DEFAULT_ENGINE,
    zero_shot: bool = False,
    verifier: bool | Loading = True,
    extractor: Extractor = DEFAULT_EXTRACTOR,
) -> Parts:
    """The parts of the pipeline in `path` (default: the shipped artifact); see `OpsLens.load`."""
    if threads:
        torch.set_num_threads(threads)
    folder = Path(path) if path else SHIPPED_ARTIFACT
    manifest = verify_artifact(folder, COMPONENTS)
    scorer, _ = load_component(folder, "extractive", ExtractiveScorer, ExtractiveConfig)
    stance, _ = load_component(folder, "stance", StanceClassifier, StanceConfig)
    finetuned = extractor == "finetuned" and EXTRACTIVE_ENCODER in manifest.components
    extractive_encoder = (
        ExtractiveEncoder.load(folder, backend=backend, cache_dir=cache_dir, threads=threads)
        if finetuned
        else None
    )
    encoder = load_encoder(
        backend,
        window_tokens=int(manifest.encoder.get("window_tokens", 256)),
        threads=threads,
        cache_dir=cache_dir,
    )
    generator, on_demand = None, None
    if (loading := _loading(abstractive)) != "off":
        from opslens.model.base_model import default_cache
        from opslens.model.generator import Generator

        if not zero_shot and ABSTRACTIVE not in manifest.components:
            raise AbstractiveUnavailableError(
                f"artifact {folder} has no '{ABSTRACTIVE}' component (train one with "
                "`opslens train abstractive`), or load the zero-shot base instead"
            )
        on_demand = OnDemand(
            lambda: Generator.load(
                None if zero_shot else folder,
                threads=threads,
                engine=engine,
                cache=default_cache(cache_dir) if cache_dir else None,
            )
        )
        if loading == "on":
            generator, _ = on_demand.get()
    checker, checker_on_demand, checker_config = None, None, None
    if (checking := _loading(verifier)) != "off" and VERIFIER in manifest.components:
        checker_on_demand = OnDemand(
            lambda: ClaimVerifier.load(folder, encoder, backend=backend, cache_dir=cache_dir, threads=threads)
        )
        checker_config = VerifierConfig.model_validate(read_component_meta(folder, VERIFIER)["config"])
        if checking == "on":
            checker, _ = checker_on_demand.get()
    lazy = {"generator": (on_demand, generator), "verifier": (checker_on_demand, checker)}
    info = ModelInfo(
        name=manifest.name,
        version=manifest.version,
        encoder=ENCODER_NAME,
        backend=backend,
        extractive=EXTRACTIVE_NAMES["finetuned" if finetuned else "frozen"],
        generator=_describe(engine, adapter=not zero_shot) if on_demand else None,
        on_demand=[name for name, (load, loaded) in lazy.items() if load is not None and loaded is None],
        verifier=describe(checker_config),
    )
    return Parts(
        encoder=encoder,
        scorer=scorer,
        extractor=extractive_encoder,
        stance=stance,
        info=info,
        generator=generator,
        generator_on_demand=on_demand,
        verifier=checker,
        verifier_on_demand=checker_on_demand,
    )


def _loading(value: bool | Loading) -> Loading:
    """The switches take a bool (True: at start-up) or a Loading."""
    if isinstance(value, bool):
        return "on" if value else "off"
    return value


def _describe(engine: Engine, *, adapter: bool) -> str:
    """The generator as responses name it, known before it is loaded."""
    weights = "LoRA adapter" if adapter else "zero-shot base"
    return f"{BASE_NAME} + {weights} ({ENGINE_NAMES[engine]})"
