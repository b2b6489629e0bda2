"""The fast CPU encoder backend: all-MiniLM-L6-v2 as a dynamically int8-quantised ONNX graph.

The graph is not shipped. `prepare()` builds it from the installed torch weights (export, then
`onnxruntime.quantization.quantize_dynamic`) into a cache folder, beside a JSON record of its
sha256 and of the versions and recipe it was built from. Loading checks both: a stale record
(other versions or recipe) rebuilds; a file whose hash differs from its record is refused.
Mean pooling is part of the graph, so only [batch, 384] floats leave ONNX Runtime.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import torch

from opslens.model.cache import default_cache_dir, file_sha256
from opslens.model.encoder import ENCODER_NAME, ENCODER_PACKAGE, Encoder, encoder_path, mean_pool
from opslens.model.options import Backend

log = logging.getLogger("opslens.encoder")

MODEL_FILE = "all-MiniLM-L6-v2.int8.onnx"
RECORD_FILE = "all-MiniLM-L6-v2.int8.json"
# What decides the bytes of the built file; a change here rebuilds every cache.
RECIPE: dict[str, Any] = {
    "format": 1,
    "exporter": "torch.onnx.export (TorchScript)",
    "opset": 17,
    "output": "mean-pooled last hidden state",
    # Per-channel int8 weights on MatMul only: measured on held-out news sentences, cosine to the
    # torch vectors is 0.992 mean (0.975 worst) against 0.957 (0.86) for the per-tensor default.
    "quantization": {"kind": "dynamic", "weight_type": "QInt8", "op_types": ["MatMul"], "per_channel": True},
}
# Blockwise int8 (ONNX Runtime's MatMulNBits with int8 compute, accuracy_level 4): weights get one
# scale per block of `block_size` input values, and so do the activations, quantised on the fly,
# where dynamic quantisation gives a whole activation matrix one scale. Closer to float32, slower
# than the dynamic kind; used where a component's layers need it (onnx_adapted.BLOCKWISE_LAYERS).
BLOCKWISE: dict[str, int] = {"bits": 8, "block_size": 128, "accuracy_level": 4}
BUILT_WITH = (ENCODER_PACKAGE.replace("_", "-"), "torch", "transformers", "onnx", "onnxruntime")


class EncoderCacheError(RuntimeError):
    """The cached ONNX encoder is unusable (corrupt or changed file)."""


def build_inputs() -> dict[str, Any]:
    """Everything the built file depends on; compared with the record on every load."""
    return {
        "encoder": ENCODER_NAME,
        "versions": {p: version(p) for p in BUILT_WITH},
        "recipe": RECIPE,
    }


class _Pooled(torch.nn.Module):
    """The encoder plus mean pooling, as one graph with two int64 inputs."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        hidden = self.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        return mean_pool(hidden, attention_mask)


def cpu_session(path: Path) -> ort.InferenceSession:
    """An ONNX Runtime CPU session for one of the encoders' int8 graphs, one thread per run
    (`RowRunner` runs rows side by side instead)."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    # One graph runs at a time per caller; extra inter-op threads would only compete for the cores.
    options.inter_op_num_threads = 1
    # One thread leaves no pool to spin; kept off should that change: idle threads spinning between
    # runs took the cores the request's own Python and torch work needed (served /verify of the
    # example on 2-thread sessions, 2 cores: p50 326-346 -> 300-306 ms).
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


@functools.cache
def _workers(n: int) -> ThreadPoolExecutor:
    # Shared by every graph with the same budget, so concurrent calls never run more rows at once
    # than there are threads to run them.
    return ThreadPoolExecutor(n, thread_name_prefix="opslens-onnx")


class RowRunner:
    """An int8 graph that runs every row of a right-padded batch alone, on its own tokens, up to
    `threads` rows at a time (each on one thread; default: torch's thread count).

    Alone: dynamic int8 quantization scales a matrix product's activations by the largest value in
    the whole input tensor, so in a batch one text's vectors would depend on the others beside it:
    on the example article a swapped-name sentence read contradicted alone and supported beside a
    true sentence, and requests micro-batched together would change each other's verdicts. One row
    per run makes every output a function of its own text; without padding it costs no more.

    Side by side: a row of a few dozen tokens gains little from splitting each matrix product over
    two cores (the example's 28 sentences: 97 ms on a 2-thread session, 108 on one thread), while
    two rows at once on one thread each take both cores (57-66 ms); the verifier's 23 rows of the
    example /verify: 375-384 ms -> 306-322. Every row is computed on one thread whatever runs beside
    it, so the outputs do not depend on the scheduling. Longest rows go first, so that the workers
    finish together."""

    def __init__(self, path: Path, threads: int | None = None) -> None:
        self.session = cpu_session(path)
        self.threads = threads or torch.get_num_threads()

    def run(self, output: str, feed: dict[str, Any]) -> list[Any]:
        """`output` of each row, in the batch's order."""
        lengths = feed["attention_mask"].sum(axis=1).tolist()
        rows = [
            {name: np.ascontiguousarray(value[i : i + 1, :n]) for name, value in feed.items()}
            for i, n in enumerate(lengths)
        ]

        def one(i: int) -> Any:
            return self.session.run([output], rows[i])[0]

        if self.threads == 1 or len(rows) == 1:
            return [one(i) for i in range(len(rows))]
        order = sorted(range(len(rows)), key=lambda i: -lengths[i])
        outs = dict(zip(order, _workers(self.threads).map(one, order), strict=True))
        return [outs[i] for i in range(len(rows))]


def _export_fp32(dest: Path) -> None:
    from transformers import AutoModel

    model = AutoModel.from_pretrained(encoder_path(), local_files_only=True).eval()
    # Any real token ids serve as the example; batch and length are declared dynamic.
    ids = torch.tensor([[101, 2023, 2003, 1037, 6251, 102], [101, 2460, 102, 0, 0, 0]])
    axes = {0: "batch", 1: "tokens"}
    with warnings.catch_warnings(), torch.inference_mode():
        # The TorchScript exporter is deprecated upstream but needs no extra package and handles
        # BERT's dynamic shapes; its warnings are about that and about traced Python branches.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            _Pooled(model).eval(),
            (ids, (ids != 0).long()),
            str(dest),
            input_names=["input_ids", "attention_mask"],
            output_names=["pooled"],
            dynamic_axes={"input_ids": axes, "attention_mask": axes, "pooled": {0: "batch"}},
            opset_version=RECIPE["opset"],
            dynamo=False,
        )


class _QuantiserInfo(logging.Filter):
    """Drops ONNX Runtime's quantiser's below-warning lines logged straight on the root logger."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING or "onnxruntime" not in record.pathname


@contextmanager
def quiet_quantiser() -> Iterator[None]:
    """ONNX Runtime's quantiser, quiet: importing its MatMulNBits module calls
    `logging.basicConfig(level=INFO)`, which would print every library's INFO lines in this
    process from then on, and it reports each node it quantises at INFO (some on the root
    logger). The root logger is left as it was found; the quantiser's own warnings still show."""
    root, ours = logging.getLogger(), logging.getLogger("onnxruntime.quantization")
    level, handlers, our_level = root.level, list(root.handlers), ours.level
    chatter = _QuantiserInfo()
    ours.setLevel(logging.WARNING)
    root.addFilter(chatter)
    try:
        yield
    finally:
        root.removeFilter(chatter)
        for handler in [h for h in root.handlers if h not in handlers]:
            root.removeHandler(handler)
        root.setLevel(level)
        ours.setLevel(our_level)


def quantize(fp32: Path, int8: Path, *, blockwise_layers: tuple[int, ...] = ()) -> None:
    """The recipe's int8 quantisation of an exported fp32 graph. The matrix products of the
    transformer layers in `blockwise_layers` are quantised by blocks instead (`BLOCKWISE`)."""
    with quiet_quantiser():
        _quantize(fp32, int8, blockwise_layers)


def _quantize(fp32: Path, int8: Path, blockwise_layers: tuple[int, ...]) -> None:
    try:  # the quantiser imports the `onnx` package
        import onnx
        from onnxruntime.quantization import QuantType, quantize_dynamic
        from onnxruntime.quantization.matmul_nbits_quantizer import (
            DefaultWeightOnlyQuantConfig,
            MatMulNBitsQuantizer,
        )
    except ImportError as exc:
        raise RuntimeError(f"building an onnx model needs onnx and onnxruntime ({exc})") from exc
    source = fp32
    if blockwise_layers:
        model = onnx.load(str(fp32))
        others = [
            n.name
            for n in model.graph.node
            if n.op_type == "MatMul" and not any(f"/layer.{i}/" in n.name for i in blockwise_layers)
        ]
        b = BLOCKWISE
        config = DefaultWeightOnlyQuantConfig(
            block_size=b["block_size"], is_symmetric=True, accuracy_level=b["accuracy_level"], bits=b["bits"]
        )
        quantizer = MatMulNBitsQuantizer(model, nodes_to_exclude=others, algo_config=config)
        quantizer.process()
        # The dynamic pass below quantises what is left: it reads MatMul nodes, not MatMulNBits.
        source = int8.with_name(f"{int8.stem}.blockwise.onnx")
        quantizer.model.save_model_to_file(str(source), use_external_data_format=False)
    q = RECIPE["quantization"]
    quantize_dynamic(
        source,
        int8,
        weight_type=QuantType[q["weight_type"]],
        op_types_to_quantize=q["op_types"],
        per_channel=q["per_channel"],
    )


def build(cache_dir: Path) -> Path:
    """Export, quantise, hash and record; returns the model path. Atomic: readers never see half a file."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache_dir, prefix=".build-") as tmp:
        fp32, int8 = Path(tmp) / "fp32.onnx", Path(tmp) / "int8.onnx"
        _export_fp32(fp32)
        quantize(fp32, int8)
        record = {
            "file": MODEL_FILE,
            "sha256": file_sha256(int8),
            "bytes": int8.stat().st_size,
            **build_inputs(),
        }
        record_tmp = Path(tmp) / RECORD_FILE
        record_tmp.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        os.replace(int8, cache_dir / MODEL_FILE)
        os.replace(record_tmp, cache_dir / RECORD_FILE)
    log.info("built int8 ONNX encoder in %s", cache_dir)
    return cache_dir / MODEL_FILE


def _record(cache_dir: Path) -> dict[str, Any] | None:
    path = cache_dir / RECORD_FILE
    if not path.is_file() or not (cache_dir / MODEL_FILE).is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise EncoderCacheError(f"{path} is not valid JSON ({exc}); run: opslens prepare --force") from exc


def verify(cache_dir: Path) -> Path:
    """The model path if its sha256 matches its record; EncoderCacheError otherwise."""
    record = _record(cache_dir)
    if record is None:
        raise EncoderCacheError(f"no built ONNX encoder in {cache_dir}; build it: opslens prepare")
    path = cache_dir / MODEL_FILE
    actual = file_sha256(path)
    if actual != record.get("sha256"):
        raise EncoderCacheError(
            f"{path} has sha256 {actual}, but {RECORD_FILE} records {record.get('sha256')}: the file is "
            f"corrupt or was changed. Rebuild it with `opslens prepare --force` (or delete {cache_dir})."
        )
    return path


def _build_in_child(cache_dir: Path) -> Path:
    # Exporting loads the torch weights; built in a child process, they never enter (and never
    # stay in) the memory of the process that serves.
    command = [sys.executable, "-m", "opslens.cli", "prepare", "--force", "--cache-dir", str(cache_dir)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        tail = done.stderr[-3000:]
        raise EncoderCacheError(f"building the ONNX encoder failed ({' '.join(command)}):\n{tail}")
    return verify(cache_dir)


def prepare(cache_dir: Path | None = None, *, force: bool = False, in_child: bool = False) -> Path:
    """Path of a verified int8 encoder: built when missing, stale (other versions or recipe) or forced."""
    cache_dir = cache_dir or default_cache_dir()
    record = _record(cache_dir)
    current = build_inputs()
    stale = record is not None and {k: record.get(k) for k in current} != current
    if record is not None and not stale and not force:
        return verify(cache_dir)
    if stale:
        log.info("cached ONNX encoder was built from other versions or recipe; rebuilding")
    return _build_in_child(cache_dir) if in_child else build(cache_dir)


class OnnxSentenceEncoder(Encoder):
    """Same windows, pooling and normalisation as the torch encoder; ONNX Runtime runs the network."""

    backend: Backend = "onnx"

    def __init__(
        self,
        *,
        window_tokens: int = 256,
        batch_size: int = 64,
        threads: int | None = None,
        cache_dir: Path | None = None,
    ) -> None:
        super().__init__(None, window_tokens=window_tokens, batch_size=batch_size)
        self.model_path = prepare(cache_dir, in_child=True)
        self.rows = RowRunner(self.model_path, threads)

    def _pool(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        feed = {"input_ids": input_ids.numpy(), "attention_mask": attention_mask.numpy()}
        return torch.from_numpy(np.concatenate(self.rows.run("pooled", feed)))
