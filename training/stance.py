"""Train the stance classifier on FNC-1-style (headline, body, stance) rows.

Loss: cross-entropy weighted against FNC-1's skew. Checkpoint selection: validation FNC
score. Afterwards a temperature is fitted on validation logits (calibration), and the
expected calibration error before/after is recorded in the model card.
"""

from __future__ import annotations

import time
from collections import Counter
from itertools import pairwise
from pathlib import Path

import datasets
import torch
from torch import nn
from tqdm import tqdm

from opslens.corpus import describe, load_table
from opslens.eval.stance_metrics import stance_metrics
from opslens.model.encoder import SentenceEncoder
from opslens.model.stance import StanceClassifier, StanceInput, collate, stance_input
from opslens.training import distributed
from opslens.training.calibration import fit_temperature
from opslens.training.config import StanceTrainConfig
from opslens.training.data import rows_key, story_split
from opslens.training.features import encode_articles
from opslens.training.loop import Task, fit, start_run, training_record, write_component

Item = tuple[StanceInput, int]


def _pairs(cfg: StanceTrainConfig, ds, encoder: SentenceEncoder, cache: Path, key: str) -> list[Item]:
    """Encode each distinct body and headline once, then build one input per row."""
    labels = cfg.model.labels
    bodies = sorted(set(ds[cfg.body_field]))
    heads = sorted(set(ds[cfg.headline_field]))
    body_enc = encode_articles(encoder, bodies, cache, f"{key}-bodies")
    head_enc = encode_articles(encoder, heads, cache, f"{key}-headlines", split_sentences=False)
    body_at = {b: i for i, b in enumerate(bodies)}
    head_at = {h: i for i, h in enumerate(heads)}
    items: list[Item] = []
    empty = torch.zeros(1, cfg.model.input_dim)
    for row in tqdm(ds, desc=f"features {key}", mininterval=10):
        b, h = body_at[row[cfg.body_field]], head_at[row[cfg.headline_field]]
        sents, vecs = body_enc.sentences[b], body_enc.vectors[b]
        if not sents:  # a body with no readable sentence still gets a (blank) input
            sents, vecs = [""], empty
        label = row[cfg.label_field]
        if label not in labels:
            raise ValueError(f"unknown stance label {label!r} in {key}; expected one of {labels}")
        items.append(
            (stance_input(row[cfg.headline_field], head_enc.vectors[h][0], sents, vecs), labels.index(label))
        )
    return items


def _batch(items: list[Item]) -> dict[str, torch.Tensor]:
    batch = collate([x for x, _ in items])
    batch["targets"] = torch.tensor([y for _, y in items])
    return batch


def _logits(model: StanceClassifier, items: list[Item]) -> torch.Tensor:
    out = []
    for lo in range(0, len(items), 256):
        batch = _batch(items[lo : lo + 256])
        batch.pop("targets")
        out.append(model(**batch)[0])
    return torch.cat(out)


def _ece(probs: torch.Tensor, targets: torch.Tensor, bins: int = 15) -> float:
    conf, pred = probs.max(-1)
    correct = (pred == targets).float()
    edges = torch.linspace(0, 1, bins + 1)
    ece = 0.0
    for lo, hi in pairwise(edges):
        sel = (conf > lo) & (conf <= hi)
        if sel.any():
            ece += sel.float().mean().item() * abs(conf[sel].mean().item() - correct[sel].mean().item())
    return 100 * ece


def train_stance(cfg: StanceTrainConfig, *, resume: bool = False, command: str = "") -> Path:
    started = start_run(cfg)
    fields = (cfg.headline_field, cfg.body_field, cfg.label_field)
    train_ds = load_table(cfg.train_file, fields, cfg.max_train_examples, sample_seed=cfg.seed)
    val_ds = load_table(cfg.validation_file, fields, cfg.max_validation_examples, sample_seed=cfg.seed)
    data = {"train": describe(cfg.train_file, train_ds), "validation": describe(cfg.validation_file, val_ds)}
    split = "validation file as given"
    if cfg.validation_split == "story":
        pooled = datasets.concatenate_datasets([train_ds, val_ds])
        train_ds, val_ds = story_split(pooled, *fields, cfg.story_validation_fraction, cfg.seed)
        split = (
            f"files pooled, {cfg.story_validation_fraction:.0%} of stories held out (seed {cfg.seed}): "
            f"{len(train_ds)} train / {len(val_ds)} validation rows"
        )
    train_key = f"stance-train-{rows_key(train_ds, fields)}"
    val_key = f"stance-val-{rows_key(val_ds, fields)}"

    encoder = SentenceEncoder(batch_size=cfg.encode_batch_size)
    cache = cfg.run_dir / "cache"
    t0 = time.time()
    with distributed.main_first():
        train_items = _pairs(cfg, train_ds, encoder, cache, train_key)
        val_items = _pairs(cfg, val_ds, encoder, cache, val_key)
    encode_seconds = time.time() - t0

    labels = cfg.model.labels
    counts = Counter(y for _, y in train_items)
    if cfg.class_weighting == "frequency":
        raw = torch.tensor(
            [(len(train_items) / max(counts[i], 1)) ** cfg.class_weight_power for i in range(len(labels))]
        )
        weights = raw / raw.mean()
    else:
        weights = torch.ones(len(labels))
    val_targets = torch.tensor([y for _, y in val_items])

    def loss(model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        targets = batch.pop("targets")
        logits, _ = model(**batch)
        return nn.functional.cross_entropy(logits, targets, weight=weights)

    def evaluate(model: nn.Module) -> dict[str, float]:
        pred = _logits(model, val_items).argmax(-1)
        m = stance_metrics([labels[i] for i in val_targets], [labels[i] for i in pred], labels)
        return {k: m[k] for k in ("fnc_score", "macro_f1", "accuracy")} | {
            f"f1_{lab}": m["per_class"][lab]["f1"] for lab in labels
        }

    torch.manual_seed(cfg.seed)
    model = StanceClassifier(cfg.model)
    result = fit(Task(model, train_items, _batch, loss, evaluate, "fnc_score"), cfg, resume=resume)
    model.load_state_dict(result.best_state)
    model.eval()

    with torch.no_grad():
        val_logits = _logits(model, val_items)
    temperature = fit_temperature(val_logits, val_targets)
    ece_before = _ece(val_logits.softmax(-1), val_targets)
    ece_after = _ece((val_logits / temperature).softmax(-1), val_targets)
    model.config = cfg.model.model_copy(update={"temperature": round(temperature, 4)})

    return write_component(
        cfg,
        "stance",
        model.state_dict(),
        model.config,
        training_record(
            cfg,
            result,
            description=(
                "Claim-to-sentence attention over frozen MiniLM sentence vectors, plus "
                "claim/article similarity statistics and lexical cues (overlap, refuting and "
                "hedging words) -> MLP -> agree/disagree/discuss/unrelated. The encoder is frozen; "
                "only this head is trained. Evidence = the sentence with the highest attention."
            ),
            command=command,
            data=data,
            validation_split=split,
            encode_seconds=encode_seconds,
            started=started,
            class_weights={lab: round(float(w), 3) for lab, w in zip(labels, weights, strict=True)},
            temperature=round(temperature, 4),
            ece_validation_before=round(ece_before, 2),
            ece_validation_after=round(ece_after, 2),
        ),
        window_tokens=encoder.window_tokens,
    )
