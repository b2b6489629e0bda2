"""`OpsLens.verify`: statements with offsets into the summary, evidence with offsets into the
text, span checks, the consistency score and threshold, and the refusals. Fast tests use a tiny
random verifier (its verdicts mean nothing); the probes on the shipped model are in
test_verifier_probes.py."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch
from test_verifier import WordEncoder, tiny_net
from transformers import AutoTokenizer

from opslens.model.encoder import encoder_path
from opslens.model.errors import NoSentencesError, VerifierUnavailableError
from opslens.model.evidence import EvidenceWindow
from opslens.model.pipeline import OpsLens, VerifyRequest
from opslens.model.results import ModelInfo, Stance
from opslens.model.stance import verified_stances
from opslens.model.text import Sentence
from opslens.model.verifier import ClaimCheck, ClaimVerifier, VerifierConfig

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


class StanceStandIn:
    """A verifier whose stance head always says agree, and whose verdict is contradicted for
    claims holding 'not'."""

    def __init__(self, veto: float | None) -> None:
        self.config = VerifierConfig(stance_veto=veto)
        self.asked: list[str] = []

    def verify(
        self, claims, sentences, vectors, *, attribute, claim_vectors, window_only
    ) -> list[ClaimCheck]:
        self.asked += claims
        # The stance reads the window's verdict only, unless agree_needs_support reads the verdict.
        assert window_only == (not self.config.agree_needs_support)
        out = []
        for claim in claims:
            contra = 0.95 if " not " in f" {claim} " else 0.05
            verdict = {"supported": 1 - contra - 0.01, "not_found": 0.01, "contradicted": contra}
            stance = {"agree": 0.6, "disagree": 0.3, "discuss": 0.1}
            window = EvidenceWindow((1, 2), (0.4, 0.9))
            out.append(ClaimCheck("x", verdict, "agree", stance, window, (2,), verdict))
        return out


def _head(claim: str, label: str, p_unrelated: float) -> Stance:
    rest = (1 - p_unrelated) / 3
    probs = {"agree": rest, "disagree": rest, "discuss": rest, "unrelated": p_unrelated}
    return Stance(claim=claim, label=label, reading="", probabilities=probs, evidence=None)


@pytest.mark.parametrize("veto", [None, 0.9])
def test_verified_stances_relabel_related_pairs_only(veto: float | None) -> None:
    sents = [Sentence(text=t, start=i * 10, end=i * 10 + len(t)) for i, t in enumerate(["a b", "c d", "e f"])]
    stances = [_head("It rained.", "discuss", 0.2), _head("Off topic.", "unrelated", 0.7)]
    stances.append(_head("It did not rain.", "discuss", 0.2))
    verifier = StanceStandIn(veto)
    out = verified_stances(verifier, stances, torch.zeros(3, 4), sents, torch.zeros(3, 4))  # type: ignore[arg-type]
    assert verifier.asked == ["It rained.", "It did not rain."]  # the unrelated pair is not sent
    assert out[1] == stances[1]
    assert out[0].label == "agree" and out[0].probabilities["agree"] == pytest.approx(0.8 * 0.6, abs=1e-4)
    assert out[0].evidence is not None and (out[0].evidence.index, out[0].evidence.weight) == (2, 0.9)
    assert out[2].label == ("agree" if veto is None else "disagree")
    for st in out:
        assert sum(st.probabilities.values()) == pytest.approx(1.0, abs=1e-3)
        assert (
            st.probabilities["unrelated"]
            == next(s for s in stances if s.claim == st.claim).probabilities["unrelated"]
        )


def test_an_agree_nothing_supports_becomes_discuss_when_the_artifact_says_so() -> None:
    class Unsupported(StanceStandIn):
        def verify(self, claims, sentences, vectors, **kwargs) -> list[ClaimCheck]:
            checks = super().verify(claims, sentences, vectors, **kwargs)
            return [dataclasses.replace(c, verdict="not_found") for c in checks]

    sents = [Sentence(text=t, start=i * 10, end=i * 10 + len(t)) for i, t in enumerate(["a b", "c d", "e f"])]
    stances = [_head("Ukraine has retaken Bakhmut.", "discuss", 0.2)]
    for rule, label in ((False, "agree"), (True, "discuss")):
        verifier = Unsupported(None)
        verifier.config = VerifierConfig(agree_needs_support=rule)
        [out] = verified_stances(verifier, stances, torch.zeros(1, 4), sents, torch.zeros(3, 4))  # type: ignore[arg-type]
        assert out.label == label
        assert out.probabilities[label] == pytest.approx(0.8 * 0.6, abs=1e-4)
        assert sum(out.probabilities.values()) == pytest.approx(1.0, abs=1e-3)


def test_a_claim_the_window_restates_is_agreed_with_when_the_artifact_says_so() -> None:
    class Discussing(StanceStandIn):
        """Stance head says discuss; verdict supported unless the claim holds 'not'."""

        def verify(self, claims, sentences, vectors, **kwargs) -> list[ClaimCheck]:
            checks = super().verify(claims, sentences, vectors, **kwargs)
            stance = {"agree": 0.2, "disagree": 0.1, "discuss": 0.7}
            return [
                dataclasses.replace(
                    c,
                    stance_probabilities=stance,
                    verdict="contradicted" if " not " in f" {q} " else "supported",
                )
                for q, c in zip(claims, checks, strict=True)
            ]

    said = "Russian forces have suffered massive losses around Bakhmut, Kyiv says."
    texts = ["The weather was cold.", said, "Talks went on."]
    sents = [Sentence(text=t, start=i * 100, end=i * 100 + len(t)) for i, t in enumerate(texts)]
    stances = [
        _head(said, "discuss", 0.2),  # the window's sentence, word for word
        _head(
            "Russian forces have suffered massive losses around Bakhmut.", "discuss", 0.2
        ),  # less: who says
        _head("Russian forces have not suffered massive losses around Bakhmut, Kyiv says.", "discuss", 0.2),
    ]
    for rule in (False, True):
        verifier = Discussing(None)
        verifier.config = VerifierConfig(restated_agree=rule)
        out = verified_stances(verifier, stances, torch.zeros(3, 4), sents, torch.zeros(3, 4))  # type: ignore[arg-type]
        assert [st.label for st in out] == ["agree" if rule else "discuss", "discuss", "discuss"]
        assert out[0].probabilities["agree"] == pytest.approx(0.8 * (0.7 if rule else 0.2), abs=1e-4)
        assert sum(out[0].probabilities.values()) == pytest.approx(1.0, abs=1e-3)
