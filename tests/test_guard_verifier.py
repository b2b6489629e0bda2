"""The faithfulness guard with the claim verifier: every generated sentence gets a verdict, and
the policies treat a contradicted or not-found sentence like one holding an unsupported span.
Fast tests use a stand-in verifier with known verdicts; the slow ones the shipped model on the
example article, where the span checks pass (every name is in the article) and only the
verifier can catch the error."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from opslens.model.evidence import EvidenceWindow
from opslens.model.faithfulness import check
from opslens.model.text import parse_document
from opslens.model.verifier import VERDICTS, ClaimCheck, VerifierConfig

ARTICLE = (
    "Russian forces have suffered massive losses in recent weeks around Bakhmut and Vuhledar. "
    "Ukrainian military drone footage appeared to show that Russia lost nearly 30 armored vehicles. "
    "Zelenskiy said in a video address on February 19 that the situation is very difficult."
)
TRUE = "Russian forces have suffered massive losses around Bakhmut."
SWAPPED = "Ukrainian forces have suffered massive losses around Bakhmut."
UNKNOWN = "Zelenskiy said the situation is very difficult."  # the stand-in calls it not_found


class StandIn:
    """A verifier with scripted verdicts: 'Ukrainian forces' contradicts, 'Zelenskiy' is not found."""

    config = VerifierConfig()

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def verify(self, claims: Sequence[str], sentences: Sequence[str], *_, **__) -> list[ClaimCheck]:
        self.calls.append(list(claims))
        out = []
        for claim in claims:
            verdict = (
                "contradicted"
                if "Ukrainian forces" in claim
                else "not_found"
                if "Zelenskiy" in claim
                else "supported"
            )
            probs = {v: (0.8 if v == verdict else 0.1) for v in VERDICTS}
            window = EvidenceWindow((0,), (1.0,))
            out.append(ClaimCheck(verdict, probs, "agree", {"agree": 1.0}, window, (0,), probs))
        return out


@pytest.mark.parametrize(
    ("policy", "action", "summary"),
    [
        ("flag", "flagged", f"{TRUE} {SWAPPED} {UNKNOWN}"),
        ("drop_sentence", "dropped_sentences", TRUE),
        ("fallback", "fallback", "EXTRACTIVE"),
    ],
)
def test_rejected_verdicts_count_as_unsupported(policy: str, action: str, summary: str) -> None:
    verifier = StandIn()
    result = check(
        parse_document(ARTICLE),
        f"{TRUE} {SWAPPED} {UNKNOWN}",
        policy=policy,
        fallback_summary="EXTRACTIVE",
        verifier=verifier,  # type: ignore[arg-type]
    )
    assert verifier.calls == [[TRUE, SWAPPED, UNKNOWN]]
    assert result.unsupported == []  # every span is in the article: only the verifier objects
    assert [(s.verdict, s.verdict_probability) for s in result.sentences] == [
        ("supported", 0.8),
        ("contradicted", 0.8),
        ("not_found", 0.8),
    ]
    assert result.action == action and result.summary == summary and not result.faithful
    assert "verifier" in result.detail
    if policy == "drop_sentence":
        assert [s.kept for s in result.sentences] == [True, False, False]


def test_without_a_verifier_verdicts_are_null_and_nothing_changes() -> None:
    result = check(parse_document(ARTICLE), f"{TRUE} {SWAPPED}", policy="drop_sentence")
    assert [s.verdict for s in result.sentences] == [None, None]
    assert result.action == "none" and result.faithful


def test_all_rejected_falls_back_under_drop_sentence() -> None:
    result = check(
        parse_document(ARTICLE),
        SWAPPED,
        policy="drop_sentence",
        fallback_summary="EXTRACTIVE",
        verifier=StandIn(),
    )  # type: ignore[arg-type]
    assert result.action == "fallback" and result.summary == "EXTRACTIVE"


@pytest.mark.slow
@pytest.mark.parametrize(
    "wrong",
    [
        # A name replaced by another of the sentence's: the article has Russian forces suffering the
        # losses. With the whole sentence the claim and its "Russian" variant score alike, so the
        # name contrast does not fire (it does on the shorter claim in test_verify_api.py); since
        # 1.7.1 the `misnamed` rule does: the article states the sentence only of Russian forces.
        "Ukrainian forces have suffered massive losses in recent weeks around Bakhmut and Vuhledar, "
        "a town that is close to the dividing line between the eastern and the southern theaters of "
        "the war.",
        # Negated.
        "Russian forces have not suffered massive losses in recent weeks around Bakhmut and Vuhledar, "
        "a town that is close to the dividing line between the eastern and the southern theaters of the war.",
    ],
)
def test_shipped_verifier_drops_a_swapped_or_negated_sentence(model, example_text: str, wrong: str) -> None:
    doc = parse_document(example_text)
    right = next(s.normalized for s in doc.sentences if s.text.startswith("Russian forces have suffered"))
    result = check(
        doc, f"{right} {wrong}", policy="drop_sentence", encoder=model.encoder, verifier=model.verifier
    )
    assert result.unsupported == [], "the span checks cannot see this error"
    assert result.sentences[0].verdict == "supported"
    assert result.sentences[1].verdict in ("contradicted", "not_found")
    assert result.action == "dropped_sentences" and result.summary == right
