"""Claim verifier: a cross-encoder over "[CLS] claim [SEP] evidence window [SEP]".

The sentence encoder embeds a claim and a sentence apart, so no claim token ever attends to
an evidence token, and "Russian forces suffered losses" looks like "Ukrainian forces suffered
losses". Here the same all-MiniLM-L6-v2 weights read both at once: LoRA adapters on every
linear layer of its six blocks (the base stays frozen and is never copied into the artifact)
and two heads on the mean-pooled tokens:

- verdict (NLI): entailment / neutral / contradiction, reported as supported / not_found /
  contradicted;
- stance (FNC-1, for pairs already known to be related): agree / disagree / discuss.

Each head's logits are divided by its own temperature, fitted on validation data. The
sentence(s) that decided a verdict are found by scoring the claim against each window
sentence alone. Nothing here knows about HTTP or training.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import nn
from transformers import AutoTokenizer, PreTrainedTokenizerBase

from opslens.model.artifact import ArtifactError, load_component_state
from opslens.model.batching import similar_length_batches
from opslens.model.encoder import Encoder, encoder_path, mean_pool
from opslens.model.evidence import (
    DEFAULT_LEXICAL_WEIGHT,
    DEFAULT_MAX_TOKENS,
    DEFAULT_SENTENCES,
    SPECIAL_TOKENS,
    EvidenceWindow,
    claim_budget,
    select_window,
)
from opslens.model.lora import AdapterConfig, adapted, check_base, load_base, served_encoder
from opslens.model.name_variants import favoured, name_variants, named_claim, stated, stating, traded
from opslens.model.options import DEFAULT_BACKEND, Backend
from opslens.model.readings import VERDICTS, best_supported, contradicting, contrasted

if TYPE_CHECKING:
    from opslens.model.onnx_adapted import OnnxHidden  # imports onnxruntime: the onnx extra only

COMPONENT = "verifier"
NLI_LABELS = ("entailment", "neutral", "contradiction")
STANCES = ("agree", "disagree", "discuss")


# The `misnamed` rule reads this many name variants of a claim (lexical, so cheap; the name
# contrast scores at most 8 with the cross-encoder).
MISNAMED_LIMIT = 64


class VerifierConfig(AdapterConfig):
    head_dropout: float = 0.1
    max_tokens: int = DEFAULT_MAX_TOKENS  # claim + evidence + 3 special tokens
    evidence_sentences: int = DEFAULT_SENTENCES
    lexical_weight: float = DEFAULT_LEXICAL_WEIGHT
    verdicts: tuple[str, ...] = VERDICTS
    stances: tuple[str, ...] = STANCES
    verdict_temperature: float = 1.0  # set by calibration after training
    stance_temperature: float = 1.0
    # Summary consistency: consistent when the lowest P(supported) over its sentences reaches this.
    # Chosen on the verifier's validation pairs (training/verifier_threshold.py), never on eval data.
    consistency_threshold: float = 0.5
    # Stance: an `agree` whose P(contradicted) reaches this becomes `disagree` (the stance head saw
    # FNC-1 headlines only and agrees with most negations; the verdict head sees them). None: off.
    # Chosen on the verifier's validation pairs (training/verifier_threshold.py).
    stance_veto: float | None = None
    # The verdict comes from the best-supported of the window and each window sentence alone
    # (`best_supported`); False: from the window only (the shipped artifact: see the README).
    sentence_support: bool = False
    # Stance: an `agree` whose verdict is not_found becomes `discuss` (the article does not assert
    # what nothing in it supports). Chosen on validation (training/verifier_threshold.py).
    agree_needs_support: bool = False
    # Name contrast: a claim read as supported is scored again with each of its names swapped or
    # replaced (model/name_variants.py) against the evidence that supported it; when a variant's
    # P(supported) exceeds the claim's by this much, the article says it of another name and the
    # claim is read as contradicted (`contrasted`). None: off. Chosen on validation.
    name_contrast: float | None = None
    # The contrast's variants keep each name's role and actor (model/name_variants.py), and a
    # claim that one evidence sentence states as an extract would is not contrasted. False: the
    # variants of 1.6.0, any name for any other.
    contrast_roles: bool = False
    # The contrast reads only the variants its evidence favours as much as the claim by their words
    # (`name_variants.favoured`: as many shared word pairs in one sentence): each read variant costs
    # a cross-encoder row of the whole window, and the others rarely read better (on validation the
    # screen kept 55% of the variants for 0.08 points of balanced accuracy).
    contrast_screen: bool = False
    # Misnamed: a claim that would pass, which no window sentence states but one states of other
    # names (a name of the claim replaced by another of the window, roles kept, or two of its names
    # trading places: model/name_variants.py; "states" as `stated` reads an extract), is read as
    # contradicted. The cross-encoder reads "A beat B" and "B beat A" alike, and often a whole
    # sentence with one name replaced; the words do not. Lexical, so it runs in every reading, the
    # stance's too.
    misnamed: bool = False
    # Stance: a claim that a window sentence restates in its own words (each an extract of the
    # other, same negations: `name_variants.restating`) and the verdict reads supported is
    # agreed with: the article asserts it. The stance head calls some of the article's own
    # sentences discuss or disagree.
    restated_agree: bool = False


def pair_ids(
    claim: Sequence[int], evidence: Sequence[int], cls_id: int, sep_id: int, max_tokens: int
) -> tuple[list[int], int]:
    """Token ids of one pair and the length of its first segment ([CLS] claim [SEP]). The claim
    is cut to half the window, then the evidence to what is left: training and inference both
    build pairs here, from per-text token lists, so they see the same cuts."""
    claim = list(claim[: claim_budget(max_tokens)])
    room = max_tokens - SPECIAL_TOKENS - len(claim)
    return [cls_id, *claim, sep_id, *evidence[:room], sep_id], len(claim) + 2


def collate(pairs: Sequence[tuple[list[int], int]], pad_id: int) -> dict[str, torch.Tensor]:
    """Right-padded ids, attention mask and segment ids (0 = claim, 1 = evidence)."""
    width = max(len(ids) for ids, _ in pairs)
    input_ids = torch.full((len(pairs), width), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((len(pairs), width), dtype=torch.long)
    token_type_ids = torch.zeros((len(pairs), width), dtype=torch.long)
    for i, (ids, first) in enumerate(pairs):
        input_ids[i, : len(ids)] = torch.tensor(ids)
        attention_mask[i, : len(ids)] = 1
        token_type_ids[i, first : len(ids)] = 1
    return {"input_ids": input_ids, "attention_mask": attention_mask, "token_type_ids": token_type_ids}


class VerifierNet(nn.Module):
    """Base encoder with LoRA adapters, mean pooling, and the verdict and stance heads."""

    def __init__(self, config: VerifierConfig, base: nn.Module | None = None) -> None:
        super().__init__()
        self.config = config
        base = base if base is not None else load_base()
        self.encoder = adapted(base, config.lora_r, config.lora_alpha, config.lora_dropout)
        hidden = base.config.hidden_size
        self.dropout = nn.Dropout(config.head_dropout)
        self.verdict_head = nn.Linear(hidden, len(config.verdicts))
        self.stance_head = nn.Linear(hidden, len(config.stances))

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Uncalibrated verdict logits [B, 3] and stance logits [B, 3]."""
        hidden = self.encoder(
            input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
        ).last_hidden_state
        pooled = self.dropout(mean_pool(hidden, attention_mask))
        return self.verdict_head(pooled), self.stance_head(pooled)

    def trained_state(self) -> dict[str, torch.Tensor]:
        """What the artifact keeps: the adapters and the heads, not the frozen base."""
        names = {n for n, p in self.named_parameters() if p.requires_grad}
        return {k: v for k, v in self.state_dict().items() if k in names}

    def load_trained_state(self, state: dict[str, torch.Tensor]) -> None:
        expected = {n for n, p in self.named_parameters() if p.requires_grad}
        if set(state) != expected:
            missing, extra = sorted(expected - set(state)), sorted(set(state) - expected)
            raise ArtifactError(
                f"verifier weights do not fit its config: missing {missing[:3]}, extra {extra[:3]}"
            )
        try:
            self.load_state_dict({k: v.float() for k, v in state.items()}, strict=False)
        except RuntimeError as exc:  # same names, other shapes (another LoRA rank)
            raise ArtifactError(f"verifier weights do not fit its config: {exc}") from exc


def _trained_state(folder: Path) -> tuple[dict[str, torch.Tensor], VerifierConfig]:
    """The component's weights and config, checked against the installed base."""
    state, config = load_component_state(folder, COMPONENT, VerifierConfig)
    check_base("verifier", config.base_sha256, config.base_package)
    return state, config


def load_verifier_net(folder: Path) -> VerifierNet:
    """The trained network from an artifact folder (with its adapters, to train on)."""
    state, config = _trained_state(folder)
    net = VerifierNet(config)
    net.load_trained_state(state)
    return net.eval()


class MergedVerifierNet(nn.Module):
    """For inference: the base encoder with the adapters folded into its weights, and the heads.
    Built without peft, whose import alone holds ~140 MB of a server's memory."""

    def __init__(
        self, config: VerifierConfig, encoder: nn.Module | OnnxHidden, heads: dict[str, torch.Tensor]
    ) -> None:
        super().__init__()
        self.config = config
        self.encoder = encoder
        hidden = heads["verdict_head.weight"].shape[1]
        self.verdict_head = nn.Linear(hidden, len(config.verdicts))
        self.stance_head = nn.Linear(hidden, len(config.stances))
        try:
            self.load_state_dict({k: v.float() for k, v in heads.items()}, strict=False)
        except RuntimeError as exc:
            raise ArtifactError(f"verifier heads do not fit its config: {exc}") from exc


def load_merged_verifier(
    folder: Path,
    *,
    backend: Backend = DEFAULT_BACKEND,
    cache_dir: Path | None = None,
    threads: int | None = None,
) -> MergedVerifierNet:
    """The trained verifier from an artifact folder, its adapters merged, ready to infer; with the
    onnx backend, an int8 ONNX Runtime copy of the merged encoder (built and cached on first use)."""
    state, config = _trained_state(folder)
    r, alpha = config.lora_r, config.lora_alpha
    base = served_encoder(
        folder, COMPONENT, state, r, alpha, backend=backend, cache_dir=cache_dir, threads=threads
    )
    heads = {k: v for k, v in state.items() if k.split(".")[0] in ("verdict_head", "stance_head")}
    return MergedVerifierNet(config, base, heads).eval()


@dataclass(frozen=True, slots=True)
class ClaimCheck:
    """One claim against one article. Probabilities are calibrated; `stance` is meaningful only
    for a claim the article is about (relatedness is decided elsewhere)."""

    verdict: str
    probabilities: dict[str, float]
    stance: str
    stance_probabilities: dict[str, float]
    window: EvidenceWindow
    evidence: tuple[int, ...]  # the article sentence(s) that decided the verdict, ascending
    # The window's own verdict distribution (= probabilities unless sentence_support): the stance
    # veto reads this, as it was chosen on it.
    window_probabilities: dict[str, float]
    misnamed: int | None = None  # the sentence that says it of other names (VerifierConfig.misnamed)


class ClaimVerifier:
    """Verifies claims against an article's sentences, many claims in one batched call."""

    def __init__(
        self,
        net: VerifierNet | MergedVerifierNet,
        tokenizer: PreTrainedTokenizerBase,
        encoder: Encoder,
        *,
        batch_size: int = 32,
        merge: bool = True,
    ) -> None:
        self.config = net.config
        # Folding the adapters into the base weights makes inference a plain MiniLM pass.
        self.model = net.encoder.merge_and_unload() if merge else net.encoder
        self.net = net.eval()
        self.tokenizer = tokenizer
        self.encoder = encoder
        self.batch_size = batch_size

    @classmethod
    def load(
        cls,
        folder: Path,
        encoder: Encoder,
        *,
        backend: Backend = DEFAULT_BACKEND,
        cache_dir: Path | None = None,
        threads: int | None = None,
        **kwargs,
    ) -> ClaimVerifier:
        net = load_merged_verifier(folder, backend=backend, cache_dir=cache_dir, threads=threads)
        tokenizer = AutoTokenizer.from_pretrained(encoder_path(), local_files_only=True)
        tokenizer.model_max_length = 1 << 30  # pairs are cut in pair_ids, not by the tokenizer
        return cls(net, tokenizer, encoder, merge=False, **kwargs)

    def tokens(self, texts: Sequence[str]) -> list[list[int]]:
        return self.tokenizer(list(texts), add_special_tokens=False)["input_ids"] if texts else []

    @torch.inference_mode()
    def probabilities(
        self, pairs: Sequence[tuple[Sequence[int], Sequence[int]]]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Calibrated verdict and stance probabilities [N, 3] for (claim ids, evidence ids) pairs."""
        tok = self.tokenizer
        built = [pair_ids(c, e, tok.cls_token_id, tok.sep_token_id, self.config.max_tokens) for c, e in pairs]
        verdict = torch.zeros(len(built), len(self.config.verdicts))
        stance = torch.zeros(len(built), len(self.config.stances))
        for idx in similar_length_batches([len(ids) for ids, _ in built], self.batch_size):
            batch = collate([built[i] for i in idx], tok.pad_token_id)
            hidden = self.model(**batch).last_hidden_state
            pooled = mean_pool(hidden, batch["attention_mask"])
            verdict[idx] = (self.net.verdict_head(pooled) / self.config.verdict_temperature).softmax(-1)
            stance[idx] = (self.net.stance_head(pooled) / self.config.stance_temperature).softmax(-1)
        return verdict, stance

    def verify(
        self,
        claims: Sequence[str],
        sentences: Sequence[str],
        sentence_vectors: torch.Tensor | None = None,
        *,
        attribute: bool = True,
        claim_vectors: torch.Tensor | None = None,
        window_only: bool = False,
    ) -> list[ClaimCheck]:
        """Check each claim against its evidence window from `sentences` (pass the article's
        sentence vectors when it is already encoded). With `attribute`, the claim is also scored
        against each window sentence alone, and the sentence(s) most sure of the verdict are
        its evidence; otherwise, and for not_found, the best-retrieved sentence is. Pass
        `claim_vectors` when the claims are already encoded. `window_only`: every verdict is the
        window's (no best-supported reading, no name contrast; the lexical `misnamed` rule still
        applies), for callers that read no more."""
        if not claims:
            return []
        cfg = self.config
        vectors = self.encoder.encode(list(sentences)) if sentence_vectors is None else sentence_vectors
        if claim_vectors is None:
            claim_vectors = self.encoder.encode(list(claims))
        toks = self.tokens([*claims, *sentences])
        claim_toks, sent_toks = toks[: len(claims)], toks[len(claims) :]
        lengths = [len(t) for t in sent_toks]
        windows = [
            select_window(
                claim,
                claim_vectors[j],
                sentences,
                vectors,
                lengths,
                len(claim_toks[j]),
                k=cfg.evidence_sentences,
                max_tokens=cfg.max_tokens,
                lexical_weight=cfg.lexical_weight,
            )
            for j, claim in enumerate(claims)
        ]
        pairs = [(claim_toks[j], [t for i in w.indices for t in sent_toks[i]]) for j, w in enumerate(windows)]
        # window_only: the caller reads only the window's verdict and the stance (the stance
        # veto), so the best-supported reading and the name contrast are not computed.
        support = cfg.sentence_support and not window_only
        margin = None if window_only else cfg.name_contrast
        alone = attribute or support
        singles = [(j, i) for j, w in enumerate(windows) for i in w.indices] if alone else []
        verdict, stance = self.probabilities(pairs + [(claim_toks[j], sent_toks[i]) for j, i in singles])
        by_claim: list[list[tuple[int, int]]] = [[] for _ in claims]  # (row in verdict, sentence)
        for n, (j, i) in enumerate(singles):
            by_claim[j].append((len(pairs) + n, i))
        # Each claim's reading: the window's, or (sentence_support) the best-supported of it and
        # its sentences alone, with the sentences that reading saw.
        readings: list[tuple[torch.Tensor, tuple[int, ...]]] = []
        for j, window in enumerate(windows):
            options = [(verdict[j], window.indices)]
            if support:
                options += [(verdict[row], (i,)) for row, i in by_claim[j]]
            readings.append(options[best_supported([p for p, _ in options])])
        if margin is not None:
            readings = self._name_contrast(claims, sentences, sent_toks, readings, margin)
        misnamed: list[int | None] = [None] * len(claims)
        if cfg.misnamed:
            readings, misnamed = self._misnamed(claims, sentences, windows, readings)
        out = []
        for j, window in enumerate(windows):
            probs, seen = readings[j]
            label = int(probs.argmax())
            evidence = (window.best,) if window.best is not None else ()
            mine = [(i, float(verdict[row, label])) for row, i in by_claim[j] if i in seen]
            if mine and cfg.verdicts[label] != "not_found":
                top = max(p for _, p in mine)
                evidence = tuple(sorted(i for i, p in mine if p == top or p >= 0.5))
            if misnamed[j] is not None:
                evidence = (misnamed[j],)
            out.append(
                ClaimCheck(
                    verdict=cfg.verdicts[label],
                    probabilities=dict(zip(cfg.verdicts, probs.tolist(), strict=True)),
                    stance=cfg.stances[int(stance[j].argmax())],
                    stance_probabilities=dict(zip(cfg.stances, stance[j].tolist(), strict=True)),
                    window=window,
                    evidence=evidence,
                    window_probabilities=dict(zip(cfg.verdicts, verdict[j].tolist(), strict=True)),
                    misnamed=misnamed[j],
                )
            )
        return out

    def _name_contrast(
        self,
        claims: Sequence[str],
        sentences: Sequence[str],
        sentence_tokens: Sequence[Sequence[int]],
        readings: list[tuple[torch.Tensor, tuple[int, ...]]],
        margin: float,
    ) -> list[tuple[torch.Tensor, tuple[int, ...]]]:
        """Readings with every claim that would pass (supported, or P(supported) at the consistency
        threshold) scored again as its name variants against the sentences that supported it,
        unless (`contrast_roles`) one of them states it as an extract would."""
        roles = self.config.contrast_roles
        jobs: list[tuple[int, str, list[int]]] = []  # (claim, variant, evidence ids as already tokenised)
        for j, (probs, seen) in enumerate(readings):
            said = [sentences[i] for i in seen]
            if self._passing(probs) and not (roles and stated(claims[j], said)):
                evidence = [t for i in seen for t in sentence_tokens[i]]
                variants = name_variants(claims[j], " ".join(said), roles=roles)
                if self.config.contrast_screen:
                    variants = favoured(claims[j], variants, said)
                jobs += [(j, v, evidence) for v in variants]
        if not jobs:
            return readings
        toks = self.tokens([v for _, v, _ in jobs])
        scored, _ = self.probabilities([(toks[k], e) for k, (_, _, e) in enumerate(jobs)])
        out = list(readings)
        for j in dict.fromkeys(j for j, _, _ in jobs):
            rows = [k for k, (jj, _, _) in enumerate(jobs) if jj == j]
            flipped = contrasted(readings[j][0], scored[rows], margin)
            if flipped is not None:
                out[j] = (flipped, readings[j][1])
        return out

    def _passing(self, probs: torch.Tensor) -> bool:
        """Whether a reading would pass: supported, or P(supported) at the consistency threshold."""
        sup = self.config.verdicts.index("supported")
        return int(probs.argmax()) == sup or float(probs[sup]) >= self.config.consistency_threshold

    def _misnamed(
        self,
        claims: Sequence[str],
        sentences: Sequence[str],
        windows: Sequence[EvidenceWindow],
        readings: list[tuple[torch.Tensor, tuple[int, ...]]],
    ) -> tuple[list[tuple[torch.Tensor, tuple[int, ...]]], list[int | None]]:
        """Readings with every passing claim that its window states only of other names read as
        contradicted (`readings.contradicting`, as the contrast reads its variant), from the sentence
        that states it so; and, per claim, that sentence (None where the rule did not apply)."""
        out = list(readings)
        at: list[int | None] = [None] * len(claims)
        for j, (probs, _) in enumerate(readings):
            if not self._passing(probs):
                continue
            window = [sentences[i] for i in windows[j].indices]
            claim = named_claim(claims[j], window)
            if claim is None or stated(claim, window):
                continue
            variants = [*traded(claim), *name_variants(claim, " ".join(window), MISNAMED_LIMIT, roles=True)]
            for variant in dict.fromkeys(variants):
                if (n := stating(variant, window)) is not None:
                    at[j] = windows[j].indices[n]
                    out[j] = (contradicting(probs), (at[j],))
                    break
        return out, at
