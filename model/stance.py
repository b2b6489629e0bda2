"""Stance classifier: (claim, article) -> agree / disagree / discuss / unrelated.

The claim vector attends over the article's sentence vectors; the attention weights pick
the evidence sentence, and the attended summary plus claim/article similarity statistics
and lexical cues feed a small classifier. Logits are divided by a temperature fitted on
validation data, so the probabilities are calibrated.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch
from pydantic import BaseModel
from torch import nn

from opslens.model.labels import STANCE_LABELS, STANCE_READINGS
from opslens.model.lexical import (
    PAIR_FEATURES,
    SENTENCE_FEATURES,
    pair_features,
    sentence_features,
)
from opslens.model.name_variants import restating
from opslens.model.results import Evidence, Stance
from opslens.model.text import Sentence

if TYPE_CHECKING:
    from opslens.model.verifier import ClaimCheck, ClaimVerifier


class StanceConfig(BaseModel):
    input_dim: int = 384
    hidden: int = 256
    dropout: float = 0.2
    labels: tuple[str, ...] = STANCE_LABELS
    temperature: float = 1.0  # set by calibration after training


class StanceClassifier(nn.Module):
    def __init__(self, config: StanceConfig) -> None:
        super().__init__()
        self.config = config
        d, h = config.input_dim, config.hidden
        self.sentence = nn.Sequential(
            nn.Linear(2 * d + 1 + SENTENCE_FEATURES, h), nn.GELU(), nn.Dropout(config.dropout)
        )
        self.attend = nn.Sequential(nn.Linear(h, h // 2), nn.Tanh(), nn.Linear(h // 2, 1))
        self.classify = nn.Sequential(
            nn.Linear(2 * h + 2 * d + 3 + PAIR_FEATURES, h),
            nn.GELU(),
            nn.Dropout(config.dropout),
            nn.Linear(h, len(config.labels)),
        )

    def forward(
        self,
        claim: torch.Tensor,  # [B, D], unit vectors
        sentences: torch.Tensor,  # [B, N, D], unit vectors
        sentence_lex: torch.Tensor,  # [B, N, SENTENCE_FEATURES]
        pair_lex: torch.Tensor,  # [B, PAIR_FEATURES]
        mask: torch.Tensor,  # [B, N], True = real sentence
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns uncalibrated logits [B, L] and attention weights [B, N]."""
        c = claim[:, None, :].expand_as(sentences)
        cos = (c * sentences).sum(-1, keepdim=True)
        # Only claim-sentence interactions, never a sentence vector on its own: that would let the
        # head memorise which story a body belongs to instead of how it treats the claim.
        h = self.sentence(torch.cat([c * sentences, (c - sentences).abs(), cos, sentence_lex], -1))
        scores = self.attend(h).squeeze(-1).masked_fill(~mask, float("-inf"))
        weights = scores.softmax(-1)
        attended = (weights[..., None] * h).sum(1)
        peak = h.masked_fill(~mask[..., None], float("-inf")).amax(1)

        cos = cos.squeeze(-1)
        n = mask.sum(1).clamp(min=1)
        top3 = cos.masked_fill(~mask, -2.0).topk(min(3, cos.shape[1]), dim=1).values
        top3 = top3.clamp(min=-1.0).mean(1)
        stats = torch.stack([cos.masked_fill(~mask, -1.0).amax(1), (cos * mask).sum(1) / n, top3], -1)
        doc = nn.functional.normalize((sentences * mask[..., None]).sum(1), dim=-1)
        features = torch.cat([attended, peak, claim * doc, (claim - doc).abs(), stats, pair_lex], -1)
        return self.classify(features), weights

    def probabilities(self, logits: torch.Tensor) -> torch.Tensor:
        return (logits / self.config.temperature).softmax(-1)


class StanceInput(BaseModel, arbitrary_types_allowed=True):
    """One (claim, article) pair, unpadded: what `collate` batches."""

    claim: torch.Tensor  # [D]
    sentences: torch.Tensor  # [N, D]
    sentence_lex: torch.Tensor  # [N, SENTENCE_FEATURES]
    pair_lex: torch.Tensor  # [PAIR_FEATURES]


def stance_input(
    claim: str, claim_vec: torch.Tensor, sentences: list[str], sentence_vecs: torch.Tensor
) -> StanceInput:
    return StanceInput(
        claim=claim_vec,
        sentences=sentence_vecs,
        sentence_lex=torch.tensor(sentence_features(claim, sentences), dtype=torch.float32).reshape(
            len(sentences), SENTENCE_FEATURES
        ),
        pair_lex=torch.tensor(pair_features(claim, sentences), dtype=torch.float32),
    )


def collate(items: list[StanceInput]) -> dict[str, torch.Tensor]:
    """Pad to the longest article in the batch; `mask` marks real sentences."""
    n = max(len(it.sentences) for it in items)
    d = items[0].claim.shape[-1]
    sentences = torch.zeros(len(items), n, d)
    sentence_lex = torch.zeros(len(items), n, SENTENCE_FEATURES)
    mask = torch.zeros(len(items), n, dtype=torch.bool)
    for i, it in enumerate(items):
        k = len(it.sentences)
        sentences[i, :k], sentence_lex[i, :k], mask[i, :k] = it.sentences, it.sentence_lex, True
    return {
        "claim": torch.stack([it.claim for it in items]),
        "sentences": sentences,
        "sentence_lex": sentence_lex,
        "pair_lex": torch.stack([it.pair_lex for it in items]),
        "mask": mask,
    }


def claim_stances(
    classifier: StanceClassifier,
    claims: list[str],
    claim_vecs: torch.Tensor,
    sentences: Sequence[Sentence],
    sentence_vecs: torch.Tensor,
) -> list[Stance]:
    """The article's stance toward each claim, with the sentence that weighed most as evidence."""
    if not claims:
        return []
    texts = [s.normalized for s in sentences]
    batch = collate(
        [stance_input(c, v, texts, sentence_vecs) for c, v in zip(claims, claim_vecs, strict=True)]
    )
    logits, weights = classifier(**batch)
    probs = classifier.probabilities(logits)
    labels = classifier.config.labels
    out = []
    for claim, p, w in zip(claims, probs, weights, strict=True):
        label = labels[int(p.argmax())]
        best = int(w.argmax())
        evidence = None
        if label != "unrelated":
            s = sentences[best]
            evidence = Evidence(
                index=best, text=s.text, start=s.start, end=s.end, weight=round(float(w[best]), 4)
            )
        out.append(
            Stance(
                claim=claim,
                label=label,
                reading=STANCE_READINGS[label],
                probabilities={lab: round(float(x), 4) for lab, x in zip(labels, p, strict=True)},
                evidence=evidence,
            )
        )
    return out


def _restated(claim: str, check: ClaimCheck, sentences: Sequence[Sentence]) -> bool:
    """Whether a window sentence restates the claim (`name_variants.restating`) and the verdict
    reads it supported, with no other names (`misnamed`)."""
    if check.verdict != "supported" or check.misnamed is not None:
        return False
    return (
        restating(" ".join(claim.split()), [sentences[i].normalized for i in check.window.indices])
        is not None
    )


def verified_stances(
    verifier: ClaimVerifier,
    stances: Sequence[Stance],
    claim_vecs: torch.Tensor,
    sentences: Sequence[Sentence],
    sentence_vecs: torch.Tensor,
) -> list[Stance]:
    """Stances whose related label comes from the claim verifier: the stance head above keeps
    deciding related vs unrelated (cheap, and good at it), and for a pair it calls related the
    cross-encoder, which reads claim and evidence together, picks agree / disagree / discuss.
    P(unrelated) stays the head's; the related mass is split by the verifier's calibrated
    stance probabilities. An `agree` the verdict head calls contradicted with probability at or
    above the component's `stance_veto`, or that the article states only of other names
    (`misnamed`), becomes `disagree`; with `agree_needs_support`, an
    `agree` whose verdict is not_found becomes `discuss`. The evidence is the verifier's
    best-retrieved window sentence, its weight that sentence's retrieval score."""
    related = [k for k, st in enumerate(stances) if st.label != "unrelated"]
    veto = verifier.config.stance_veto
    if not related:
        return list(stances)
    checks = verifier.verify(
        [" ".join(stances[k].claim.split()) for k in related],
        [s.normalized for s in sentences],
        sentence_vecs,
        attribute=False,  # the verdict's evidence is not needed here: one pass per claim
        claim_vectors=claim_vecs[related],
        # The veto reads the window; the verdict's own reading matters only to agree_needs_support.
        window_only=not verifier.config.agree_needs_support,
    )
    out = list(stances)
    for k, check in zip(related, checks, strict=True):
        stance = stances[k]
        p_unrelated = stance.probabilities.get("unrelated", 0.0)
        probs = {lab: (1 - p_unrelated) * p for lab, p in check.stance_probabilities.items()}
        label = max(probs, key=probs.__getitem__)
        # Each rule moves the label; the new label and the old one trade probabilities.
        moved = label
        if label == "agree" and check.misnamed is not None:
            moved = "disagree"  # the article says it of other names: it disputes the claim
        elif label == "agree" and veto is not None and check.window_probabilities["contradicted"] >= veto:
            moved = "disagree"  # the verdict head reads the claim as contradicted
        elif label == "agree" and verifier.config.agree_needs_support and check.verdict == "not_found":
            # No sentence supports it: the article does not assert it, at most reports on it.
            moved = "discuss"
        elif (
            label != "agree" and verifier.config.restated_agree and _restated(stance.claim, check, sentences)
        ):
            moved = "agree"  # the article says it in the claim's own words: it asserts it
        probs[label], probs[moved] = probs[moved], probs[label]
        label = moved
        probs["unrelated"] = p_unrelated
        evidence = stance.evidence
        if check.evidence:
            best = check.evidence[0]
            s, w = sentences[best], check.window
            score = w.scores[w.indices.index(best)] if best in w.indices else 0.0
            evidence = Evidence(index=best, text=s.text, start=s.start, end=s.end, weight=round(score, 4))
        out[k] = stance.model_copy(
            update={
                "label": label,
                "reading": STANCE_READINGS[label],
                "probabilities": {lab: round(probs[lab], 4) for lab in stance.probabilities},
                "evidence": evidence,
            }
        )
    return out
