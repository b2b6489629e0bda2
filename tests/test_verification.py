"""`OpsLens.verify`: statements with offsets into the summary, evidence with offsets into the
text, span checks, the consistency score and threshold, and the refusals. Fast tests use a tiny
random verifier (its verdicts mean nothing); the probes on the shipped model are in
test_verifier_probes.py."""

from __future__ import annotations

import math

import pytest
from test_verifier import WordEncoder, tiny_net
from transformers import AutoTokenizer

from opslens.model.encoder import encoder_path
from opslens.model.errors import NoSentencesError, VerifierUnavailableError
from opslens.model.pipeline import OpsLens, VerifyRequest
from opslens.model.results import ModelInfo
from opslens.model.verifier import ClaimVerifier

TEXT = (
    "Kyiv, March 3.\n\n"
    "Russian forces suffered heavy losses around Bakhmut in recent weeks, officials said.  "
    "The weather in the region was cold and wet for most of February.\n\n"
    "Ukraine said its troops held their positions near Vuhledar on Sunday. "
    "Officials in Kyiv gave no casualty figures for the fighting."
)
SUMMARY = "Russian forces lost men near Bakhmut.  Ukraine held Vuhledar with 4,000 troops."


@pytest.fixture(scope="module")
def lens() -> OpsLens:
    tok = AutoTokenizer.from_pretrained(encoder_path(), local_files_only=True)
    tok.model_max_length = 1 << 30
    encoder = WordEncoder()
    verifier = ClaimVerifier(tiny_net(), tok, encoder, batch_size=4)
    info = ModelInfo(name="test", version="0", encoder="words", verifier="tiny")
    return OpsLens(encoder, None, None, info, verifier=verifier)  # type: ignore[arg-type]


def test_statements_and_evidence_carry_offsets(lens: OpsLens) -> None:
    out = lens.verify(TEXT, summary=SUMMARY, claims=["  Ukraine gave casualty figures. "])
    assert [s.text for s in out.summary] == [SUMMARY[s.start : s.end] for s in out.summary]
    assert len(out.summary) == 2 and len(out.claims) == 1
    claim = out.claims[0]
    assert claim.text == "Ukraine gave casualty figures." and (claim.start, claim.end) == (0, len(claim.text))
    for st in out.summary + out.claims:
        assert set(st.probabilities) == {"supported", "not_found", "contradicted"}
        assert math.isclose(sum(st.probabilities.values()), 1.0, abs_tol=1e-3)
        assert st.verdict == max(st.probabilities, key=st.probabilities.__getitem__)
        assert st.evidence and all(TEXT[e.start : e.end] == e.text for e in st.evidence)
        assert [e.index for e in st.evidence] == sorted(e.index for e in st.evidence)
    # The span check: 4,000 is not in the article; Bakhmut and Vuhledar are.
    [span] = out.summary[1].unsupported
    assert (span.kind, span.text, span.sentence) == ("number", "4,000", 1)
    assert SUMMARY[span.start : span.end] == "4,000"
    assert out.summary[0].unsupported == [] and claim.unsupported == []
    assert out.score == min(s.probabilities["supported"] for s in out.summary)
    assert out.consistent == (out.score >= out.threshold)
    assert out.threshold == lens.verifier.config.consistency_threshold
    assert out.model.verifier == "tiny" and out.timings_ms.total_ms >= out.timings_ms.verify_ms


def test_claims_alone_have_no_score(lens: OpsLens) -> None:
    out = lens.verify(TEXT, claims=["Russia lost 300 tanks.", "It rained in Bakhmut."])
    assert out.summary == [] and out.score is None and out.consistent is None
    assert [s.text for s in out.claims] == ["Russia lost 300 tanks.", "It rained in Bakhmut."]
    assert [(u.text, u.sentence) for u in out.claims[0].unsupported] == [("300", 0)]


def test_batch_matches_single(lens: OpsLens) -> None:
    items = [
        VerifyRequest(text=TEXT, summary=SUMMARY),
        VerifyRequest(text=TEXT, claims=("Kyiv gave figures.",)),
    ]
    batch = lens.verify_batch(items)
    assert [b.summary for b in batch[:1]] == [lens.verify(TEXT, summary=SUMMARY).summary]
    assert batch[1].claims[0].verdict == lens.verify(TEXT, claims=["Kyiv gave figures."]).claims[0].verdict


def test_refusals(lens: OpsLens) -> None:
    with pytest.raises(ValueError, match="summary, claims"):
        lens.verify(TEXT)
    with pytest.raises(ValueError, match="summary"):
        lens.verify(TEXT, summary="   ")
    with pytest.raises(ValueError, match=r"claims\[1\]"):
        lens.verify(TEXT, claims=["A claim.", " "])
    with pytest.raises(NoSentencesError):
        lens.verify("Heading\n\n12 34 56", claims=["A claim here."])
    with pytest.raises(ValueError, match="item 1"):
        lens.verify_batch([VerifyRequest(text=TEXT, summary=SUMMARY), VerifyRequest(text=TEXT)])
    bare = OpsLens(lens.encoder, None, None, lens.info)  # type: ignore[arg-type]
    with pytest.raises(VerifierUnavailableError):
        bare.verify(TEXT, summary=SUMMARY)
