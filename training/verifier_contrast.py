"""The verifier's name contrast margin (`VerifierConfig.name_contrast`), chosen on validation claims.

The margin needs claims as text (their names are edited at inference), so it is chosen on the
claims the training generators make from the *validation* articles of one or more verifier
training configs: an article's own sentences and light paraphrases (supported), their name,
number, negation and antonym edits (contradicted), other articles' sentences (not found), and,
when the config has summary files, reference-summary claims and their edits. Every claim goes
through `ClaimVerifier.verify`, as at inference: once as it reads without the contrast, once
with every contrast applied; the margin is then the one on a grid that maximises the balanced
accuracy of supported vs not at the consistency threshold (the larger of equally good ones:
contrast no more than helps).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from opslens.eval.factcheck_metrics import balanced_accuracy
from opslens.model.text import parse_document
from opslens.model.verifier import NLI_LABELS, ClaimVerifier
from opslens.training.config import VerifierTrainConfig, load_config
from opslens.training.verifier_data import file_articles, fnc_claims, synthetic_claims
from opslens.training.verifier_summaries import summary_claims

SUPPORTED = NLI_LABELS.index("entailment")
GRID = (0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5)


@dataclass(frozen=True)
class TextClaim:
    sentences: tuple[str, ...]  # the article
    claim: str
    verdict: int  # index into NLI_LABELS
    source: str


def validation_claims(config: Path) -> list[TextClaim]:
    """The validation-split claims a verifier training config's generators make, as text."""
    cfg = load_config(VerifierTrainConfig, config, {})
    out: list[TextClaim] = []
    articles = fnc_claims(cfg)[1] if "fnc1" in cfg.parts else {}
    if "articles" in cfg.parts:
        for text, art in file_articles(cfg).items():
            articles.setdefault(text, art)
    val = {k: a for k, a in articles.items() if a.split == "validation"}
    for text, art in val.items():  # split as the pairs builder splits them (verifier_data.build_pairs)
        art.sentences = [s.normalized for s in parse_document(text).sentences]
    for c in synthetic_claims(cfg, val):
        out.append(TextClaim(tuple(val[c.article].sentences), c.text, c.verdict, c.source))
    if "summaries" in cfg.parts and cfg.summary_validation_file is not None:
        only_validation = cfg.model_copy(update={"summary_train_file": None})
        for _, _, sentences, claim, verdict, source in summary_claims(only_validation):
            out.append(TextClaim(tuple(sentences), claim, verdict, source))
    return out


@dataclass(frozen=True)
class ContrastReadings:
    plain: np.ndarray  # P(supported) of each claim without the contrast
    contrasted: np.ndarray  # P(supported) once contrasted (= plain where no variant applies)
    gain: np.ndarray  # best variant's P(supported) minus the claim's; -inf where none applies
    positive: np.ndarray  # labelled supported
    sources: np.ndarray


def contrast_readings(verifier: ClaimVerifier, claims: Sequence[TextClaim]) -> ContrastReadings:
    by_article: dict[tuple[str, ...], list[int]] = {}
    for n, c in enumerate(claims):
        by_article.setdefault(c.sentences, []).append(n)
    plain, flipped = np.zeros(len(claims)), np.zeros(len(claims))
    gain = np.full(len(claims), -np.inf)
    original = verifier.config
    off, on = (original.model_copy(update={"name_contrast": m}) for m in (None, -1.0))
    try:
        for sentences, idx in tqdm(by_article.items(), desc="name contrast", mininterval=10):
            texts = [claims[n].claim for n in idx]
            verifier.config = off
            before = verifier.verify(texts, sentences, attribute=False)
            verifier.config = on  # every contrast applied: what each claim reads as if contrasted
            after = verifier.verify(texts, sentences, attribute=False)
            for n, b, a in zip(idx, before, after, strict=True):
                plain[n], flipped[n] = b.probabilities["supported"], a.probabilities["supported"]
                if not np.allclose(list(a.probabilities.values()), list(b.probabilities.values()), atol=1e-6):
                    # contrasted: the best variant's P(supported) is now the claim's P(contradicted)
                    gain[n] = a.probabilities["contradicted"] - b.probabilities["supported"]
    finally:
        verifier.config = original
    return ContrastReadings(
        plain=plain,
        contrasted=np.where(np.isfinite(gain), flipped, plain),
        gain=gain,
        positive=np.array([c.verdict == SUPPORTED for c in claims]),
        sources=np.array([c.source for c in claims]),
    )


def choose_name_contrast(
    readings: ContrastReadings, threshold: float, configs: list[Path], command: str
) -> dict[str, Any]:
    def scores(margin: float | None) -> np.ndarray:
        if margin is None:
            return readings.plain
        return np.where(readings.gain >= margin, readings.contrasted, readings.plain)

    def accuracy(margin: float | None) -> float:
        return balanced_accuracy(readings.positive.astype(int), (scores(margin) >= threshold).astype(int))

    without = accuracy(None)
    best = max([*GRID, None], key=lambda m: (round(accuracy(m), 6), m if m is not None else 2.0))
    if accuracy(best) <= without:
        best = None
    passed = {
        source: round(float((scores(best)[readings.sources == source] >= threshold).mean()), 3)
        for source in sorted(set(readings.sources.tolist()))
    }
    passed_without = {
        source: round(float((readings.plain[readings.sources == source] >= threshold).mean()), 3)
        for source in passed
    }
    return {
        "value": best,
        "balanced_accuracy": round(accuracy(best), 2),
        "balanced_accuracy_without": round(without, 2),
        "by_margin": {str(m): round(accuracy(m), 2) for m in GRID},
        "passed_by_source": passed,
        "passed_by_source_without": passed_without,
        "claims": len(readings.positive),
        "supported": int(readings.positive.sum()),
        "threshold": threshold,
        "configs": [str(c) for c in configs],
        "method": "the margin on a 0.05-0.5 grid that maximises the balanced accuracy of supported vs "
        "not at the consistency threshold over the validation claims the configs' generators make "
        "(the larger of equally good ones; off when none helps)",
        "command": command,
    }
