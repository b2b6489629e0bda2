"""The choices and defaults callers can set, in one place.

The pipeline, the generator, the settings, both CLIs and the eval harness import these
instead of typing the literals again; CLI `choices=` come from `typing.get_args`.
"""

from __future__ import annotations

from typing import Literal, get_args

Mode = Literal["extractive", "abstractive"]
"""Summary kind: sentences picked from the article, or written by the generator."""

Policy = Literal["flag", "drop_sentence", "replace_sentence", "fallback"]
"""What the faithfulness guard does with a generated sentence it cannot support: report it, drop
it, drop it and fill the room with the extractive summary's sentences (quoted from the article),
or serve the extractive summary instead of the whole written one."""

Engine = Literal["ct2", "ort", "hf"]
"""How the generator decodes: CTranslate2 int8, onnxruntime-genai int8, or transformers fp32."""

Backend = Literal["torch", "bf16", "onnx"]
"""How the MiniLM encoders (sentence, extractive, verifier) run: PyTorch float32 (the reference),
PyTorch under bfloat16 autocast (model/bf16.py; for CPUs with native bfloat16), or int8 ONNX."""

ServeEngine = Literal["uvicorn", "ray"]
"""How `opslens serve` runs the app: one uvicorn process, or replicas on Ray Serve."""

BatchEngine = Literal["local", "ray"]
"""How `opslens batch` runs: in this process, or on Ray Data."""

Loading = Literal["auto", "on", "off"]
"""When an optional model (the generator) loads: on its first use, at start-up, or never."""

Extractor = Literal["finetuned", "frozen"]
"""Which extractive model scores sentences: the fine-tuned encoder (when the artifact has one;
model/extractive_encoder.py) or the scorer over frozen sentence vectors (model/extractive.py)."""

Format = Literal["text", "html"]
"""What the article text is: plain text as pasted, or a web page whose main content is extracted
first (model/html.py)."""

MODES: tuple[Mode, ...] = get_args(Mode)
POLICIES: tuple[Policy, ...] = get_args(Policy)
ENGINES: tuple[Engine, ...] = get_args(Engine)
BACKENDS: tuple[Backend, ...] = get_args(Backend)
SERVE_ENGINES: tuple[ServeEngine, ...] = get_args(ServeEngine)
BATCH_ENGINES: tuple[BatchEngine, ...] = get_args(BatchEngine)
LOADINGS: tuple[Loading, ...] = get_args(Loading)
FORMATS: tuple[Format, ...] = get_args(Format)
EXTRACTORS: tuple[Extractor, ...] = get_args(Extractor)

ENGINE_NAMES: dict[Engine, str] = {
    "ct2": "ctranslate2-int8",
    "ort": "onnxruntime-genai-int8",
    "hf": "transformers-fp32",
}
"""How responses and /info name each engine (known before the engine is loaded)."""

DEFAULT_MODE: Mode = "extractive"
# Measured on the held-out 300 (README, Results): served ROUGE-1 0.971 x lead-3 against 0.846 when
# the rejected sentences' room is left empty; served text is verified or the article's own either way.
DEFAULT_POLICY: Policy = "replace_sentence"
DEFAULT_ENGINE: Engine = "ort"
# int8 ONNX Runtime serves by default (the verifier's first layers blockwise): measured side by side
# on 2 cores (README, Results; texts side by side since 553308f), /summarize with a title p50 231 ms
# against torch's 556 and /verify 455 against 874, with torch's held-out figures (ROUGE-1 38.50 vs
# 38.46, FNC 80.71 vs 81.12, factcheck balanced accuracy 65.00 vs 64.98).
DEFAULT_BACKEND: Backend = "onnx"
REFERENCE_BACKEND: Backend = "torch"
"""The float32 weights every other backend is measured against; the artifact's records are its."""
# Most callers never ask for an abstractive summary; the generator costs ~200 MB once loaded.
DEFAULT_ABSTRACTIVE_LOADING: Loading = "auto"
DEFAULT_FORMAT: Format = "text"
DEFAULT_EXTRACTOR: Extractor = "finetuned"
DEFAULT_MAX_SENTENCES = 3
"""Extractive summary length, in sentences."""
DEFAULT_MAX_WORDS = 60
"""Abstractive summary length, in words."""
MIN_WORDS, MAX_WORDS = 10, 200
"""The range of `max_words` a caller may ask for."""
DEFAULT_BATCH_ENGINE: BatchEngine = "local"
DEFAULT_SERVE_ENGINE: ServeEngine = "uvicorn"

Verdict = Literal["supported", "not_found", "contradicted"]
"""What the claim verifier says of a statement against an article (NLI: entailment / neutral /
contradiction, in the guard's words)."""

VERDICTS: tuple[Verdict, ...] = get_args(Verdict)

LanguagePolicy = Literal["warn", "reject"]
"""A text that is not English (the models were trained on English only): answer with a warning,
or refuse it."""

LANGUAGE_POLICIES: tuple[LanguagePolicy, ...] = get_args(LanguagePolicy)
DEFAULT_LANGUAGE_POLICY: LanguagePolicy = "warn"
