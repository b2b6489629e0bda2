"""How the verifier reads a claim from its scores: which reading of it to trust, and when a name
contrast overturns it. Pure functions of verdict distributions (ordered as VERDICTS), so each
rule is tested on numbers and chosen on validation data (training/verifier_threshold.py)."""

from __future__ import annotations

from collections.abc import Sequence

import torch

VERDICTS = ("supported", "not_found", "contradicted")  # the NLI labels in the guard's words


def best_supported(candidates: Sequence[torch.Tensor]) -> int:
    """Of the verdict distributions for one claim (its whole window first, then each window
    sentence alone), the index of the one to read it from: the sentence that alone reads it as
    supported with the highest P(supported), when that beats the window's; else the window. The
    cross-encoder reads a claim against several sentences less surely than against the one that
    states it (a verbatim sentence of the article: supported 0.86 alone, 0.49 in its window);
    a sentence that does not support the claim says nothing the window does not (validation:
    3-way accuracy 78.8% against 76.2% when any sentence with a higher P(supported) won)."""
    sup = VERDICTS.index("supported")
    options = [0, *(k for k in range(1, len(candidates)) if int(candidates[k].argmax()) == sup)]
    return max(options, key=lambda k: float(candidates[k][sup]))


def contrasted(claim: torch.Tensor, variants: torch.Tensor, margin: float) -> torch.Tensor | None:
    """The claim's verdict distribution when a variant with another name is supported by at least
    `margin` more than the claim itself: the best variant's, supported and contradicted swapped
    (what the article says of another name, it contradicts of this one); else None."""
    sup = VERDICTS.index("supported")
    best = variants[int(variants[:, sup].argmax())]
    if float(best[sup] - claim[sup]) < margin:
        return None
    return contradicting(best)


def contradicting(probs: torch.Tensor) -> torch.Tensor:
    """`probs` with supported and contradicted swapped: how a claim reads when what supports it
    is said of other names (the name contrast's best variant, the `misnamed` rule's sentence)."""
    sup, con = VERDICTS.index("supported"), VERDICTS.index("contradicted")
    flipped = probs.clone()
    flipped[sup], flipped[con] = probs[con], probs[sup]
    return flipped
