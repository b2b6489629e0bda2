"""The bf16 backend (torch weights under bfloat16 autocast) against the float32 reference.

bfloat16 keeps 8 bits of mantissa, so outputs move a little; measured on the example article:
sentence-vector cosines to float32 >= 0.9999, the verifier's probabilities within 0.001.
The bounds below leave room for other CPUs' kernels.
"""

from __future__ import annotations

import pytest
import torch

from opslens.eval.loadgen import EXAMPLE_SUMMARY
from opslens.model.bf16 import Bf16Autocast
from opslens.model.encoder import load_encoder
from opslens.model.text import parse_document

MIN_COSINE = 0.99
MAX_PROBABILITY_SHIFT = 0.03


def test_bf16_sentence_vectors_stay_close_to_float32(example_text: str) -> None:
    sentences = [s.normalized for s in parse_document(example_text).sentences]
    reference, fast = load_encoder("torch"), load_encoder("bf16")
    assert fast.backend == "bf16" and isinstance(fast.model, Bf16Autocast)
    a, b = reference.encode(sentences), fast.encode(sentences)
    assert b.dtype == torch.float32 and not torch.equal(a, b)  # it did run in bfloat16
    assert float((a * b).sum(-1).min()) >= MIN_COSINE


@pytest.mark.slow
def test_bf16_verifier_reads_the_example_summary_as_float32_does(torch_model, example_text: str) -> None:
    from opslens.model.pipeline import OpsLens

    fast = OpsLens.load(backend="bf16")
    assert isinstance(fast._loaded_verifier().model, Bf16Autocast)
    want = torch_model.verify(example_text, summary=EXAMPLE_SUMMARY).summary
    got = fast.verify(example_text, summary=EXAMPLE_SUMMARY).summary
    assert [s.verdict for s in got] == [s.verdict for s in want]
    for g, w in zip(got, want, strict=True):
        assert (
            max(abs(g.probabilities[k] - w.probabilities[k]) for k in w.probabilities)
            <= MAX_PROBABILITY_SHIFT
        )
