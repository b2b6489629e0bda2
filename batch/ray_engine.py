"""The Ray Data batch engine: the same per-line work as the local engine, spread over a pool
of worker actors that each load the model once.

Ray is an optional extra; this module imports it only when a run starts.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from opslens.batch.records import Columns, Record, analyze_lines, decode_line
from opslens.ray_extra import require_ray

if TYPE_CHECKING:
    import numpy as np

READ_CHUNK_BYTES = 4 << 20


class Analyzer:
    """A Ray Data worker: loads the model once, then analyzes batches of raw lines."""

    def __init__(self, model_path: str | None, threads: int, columns: Columns, max_sentences: int) -> None:
        from opslens.model.pipeline import OpsLens

        self.model = OpsLens.load(model_path, threads=threads)
        self.columns = columns
        self.max_sentences = max_sentences

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, list[str]]:
        records = analyze_lines(self.model, [str(x) for x in batch["raw"]], self.columns, self.max_sentences)
        # One JSON string per record: Arrow cannot hold the records' mixed shapes as columns.
        return {"record": [json.dumps(r, ensure_ascii=False) for r in records]}


def line_blocks(read: Callable[[int], bytes], chunk_bytes: int = READ_CHUNK_BYTES) -> Iterator[list[str]]:
    """The lines of a byte stream, a chunk's worth at a time, split on "\\n" only."""
    rest = b""
    while chunk := read(chunk_bytes):
        *complete, rest = (rest + chunk).split(b"\n")
        if complete:
            yield [decode_line(r) for r in complete]
    if rest:  # a last line without its newline
        yield [decode_line(rest)]


def _lines_datasource(path: Path, skip_bytes: int) -> Any:
    """Ray's read_text splits on every Unicode line break (U+2028 too, legal inside JSON
    strings) and reads a whole file into one block; JSONL lines end at "\\n" only, so read
    them as the local engine does, a few MiB at a time, from byte `skip_bytes` on."""
    import pyarrow as pa
    from ray.data.datasource import FileBasedDatasource

    class JsonLines(FileBasedDatasource):
        def _read_stream(self, f: pa.NativeFile, path: str) -> Iterator[pa.Table]:
            # Read past the lines a resumed run already has (a stream need not be seekable).
            left = skip_bytes
            while left > 0 and (got := len(f.read(min(left, READ_CHUNK_BYTES)))):
                left -= got
            for lines in line_blocks(f.read):
                yield pa.table({"raw": lines})

    return JsonLines(str(path.resolve()))


def analyze_file_ray(
    path: Path,
    columns: Columns,
    max_sentences: int,
    batch_size: int,
    *,
    workers: int,
    threads: int,
    model_path: str | None = None,
    address: str | None = None,
    skip_bytes: int = 0,
) -> Iterator[list[Record]]:
    """Records for the file's lines from byte `skip_bytes` on, in input order, computed by
    `workers` Ray actors; one list per batch.

    Joins the running Ray instance if there is one (or `address`, or RAY_ADDRESS), otherwise
    starts a local one and stops it at the end."""
    ray = require_ray("data")
    started_here = not ray.is_initialized()
    if started_here:
        ray.init(address=address, log_to_driver=False, include_dashboard=False)
    try:
        ctx = ray.data.DataContext.get_current()
        ctx.execution_options.preserve_order = True  # output line i answers input line i
        ctx.enable_progress_bars = False  # the writer reports progress
        # The read is light I/O and asks for no CPU: with one CPU per worker and as many
        # workers as cores, a read task wanting a CPU would wait for ever behind the actors.
        lines = ray.data.read_datasource(_lines_datasource(path, skip_bytes), num_cpus=0)
        ds = lines.map_batches(
            Analyzer,
            fn_constructor_kwargs={
                "model_path": model_path,
                "threads": threads,
                "columns": columns,
                "max_sentences": max_sentences,
            },
            batch_size=batch_size,
            compute=ray.data.ActorPoolStrategy(size=workers),
            num_cpus=threads,
        )
        for batch in ds.iter_batches(batch_size=batch_size, batch_format="numpy"):
            yield [json.loads(r) for r in batch["record"]]
    finally:
        if started_here:
            ray.shutdown()
