"""Fine-tune the extractive encoder (model/extractive_encoder.py) end to end: LoRA adapters on
all-MiniLM-L6-v2 plus the inter-sentence scorer, binary cross-entropy per sentence.

Labels: the greedy ROUGE oracle for (article, abstract) pairs (CNN/DailyMail); for articles whose
summary is a selection of their own sentences (BBC News Summary), the sentences it selected.
Checkpoint selection: mean validation ROUGE-1/2/Lsum of the served selection (top sentences,
trigram blocking), on whole validation articles, averaged over the validation sets given.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn
from tqdm import tqdm

from opslens.corpus import describe, load_table
from opslens.eval.rouge import ROUGE_TYPES, rouge_per_example
from opslens.eval.summarization import reference_lines
from opslens.model.artifact import ArtifactError, component_sha256
from opslens.model.extractive import select_sentences
from opslens.model.extractive_encoder import (
    COMPONENT,
    ExtractiveEncoderConfig,
    ExtractiveEncoderNet,
    Windows,
    article_windows,
    pack_windows,
    read_component,
    tokenizer,
)
from opslens.model.lora import adapted, base_identity, load_base
from opslens.model.text import parse_document, words
from opslens.training.config import ExtractiveEncoderTrainConfig
from opslens.training.data import cached_json, load_splits, rows_key
from opslens.training.loop import Task, fit, start_run, training_record, write_component
from opslens.training.oracle import greedy_oracle

Item = tuple[list[list[int]], list[float]]  # an article's sentence token ids (capped), its labels


def _sentences(texts: Sequence[str]) -> list[list[str]]:
    """Articles split by the service's own parser."""
    return [
        [s.normalized for s in parse_document(t).sentences] for t in tqdm(texts, desc="parse", mininterval=10)
    ]


def _selected(sentences: Sequence[str], summary: str) -> list[int]:
    """The sentences an extractive summary holds (its sentences are glued, so test containment)."""
    flat = " ".join(summary.split())
    return [i for i, s in enumerate(sentences) if len(s) > 20 and s in flat]


def _items(tok, sentences: list[list[str]], labels: list[list[int]], max_tokens: int) -> list[Item]:
    """Each article's first sentences within `max_tokens` (2 per sentence for its markers) and
    their 0/1 labels; articles left without a positive sentence teach nothing and are skipped."""
    items = []
    for sents, picked in zip(tqdm(sentences, desc="tokenize", mininterval=10), labels, strict=True):
        ids = tok(sents, add_special_tokens=False)["input_ids"] if sents else []
        kept, used = [], 0
        for sentence in ids:
            if kept and used + len(sentence) + 2 > max_tokens:
                break
            kept.append(sentence[: max_tokens - 2])
            used += len(kept[-1]) + 2
        y = [1.0 if i in picked else 0.0 for i in range(len(kept))]
        if any(y):
            items.append((kept, y))
    return items


def train_extractive_encoder(
    cfg: ExtractiveEncoderTrainConfig, *, resume: bool = False, command: str = ""
) -> Path:
    started = start_run(cfg)
    fields = (cfg.article_field, cfg.summary_field)
    train_ds, val_ds, data = load_splits(cfg, fields)
    cache = cfg.run_dir / "cache"
    cache.mkdir(parents=True, exist_ok=True)
    tok = tokenizer()
    t0 = time.time()

    key = f"extenc-train-{rows_key(train_ds, fields)}"
    train_sents = cached_json(
        cache / f"{key}-sentences.json", lambda: _sentences(train_ds[cfg.article_field])
    )
    labels = cached_json(
        cache / f"{key}-oracle{cfg.oracle_sentences}.json",
        lambda: [
            greedy_oracle(s, ref, cfg.oracle_sentences)
            for s, ref in zip(
                tqdm(train_sents, desc="oracle", mininterval=10), train_ds[cfg.summary_field], strict=True
            )
        ],
    )
    items = cached_json(
        cache / f"{key}-{cfg.max_train_tokens}.json",
        lambda: _items(tok, train_sents, labels, cfg.max_train_tokens),
    )
    validations = {"": (val_ds[cfg.article_field], val_ds[cfg.summary_field])}
    if cfg.selection_file:
        sel = load_table(cfg.selection_file, (*fields, cfg.split_field))
        sel_train = sel.filter(lambda r: r[cfg.split_field] == "train")
        sel_val = sel.filter(lambda r: r[cfg.split_field] == "validation")
        skey = f"extenc-selection-{rows_key(sel_train, fields)}"
        sel_sents = cached_json(
            cache / f"{skey}-sentences.json", lambda: _sentences(sel_train[cfg.article_field])
        )
        sel_labels = [
            _selected(s, ref) for s, ref in zip(sel_sents, sel_train[cfg.summary_field], strict=True)
        ]
        sel_items = cached_json(
            cache / f"{skey}-{cfg.max_train_tokens}.json",
            lambda: _items(tok, sel_sents, sel_labels, cfg.max_train_tokens),
        )
        items += sel_items * cfg.selection_repeat
        limit = cfg.max_validation_examples or len(sel_val)
        sel_val = sel_val.select(range(min(limit, len(sel_val))))
        validations["selection_"] = (sel_val[cfg.article_field], sel_val[cfg.summary_field])
        data["selection"] = {**describe(cfg.selection_file, sel_train), "validation_examples": len(sel_val)}
    val_sets = {
        prefix: (_sentences(articles), [reference_lines(r) for r in refs])
        for prefix, (articles, refs) in validations.items()
    }
    prepare_seconds = time.time() - t0

    def evaluate(model: nn.Module) -> dict[str, float]:
        metrics: dict[str, float] = {}
        for prefix, (sents, refs) in val_sets.items():
            preds = []
            for lo in range(0, len(sents), cfg.eval_batch_size):
                chunk = [s or ["."] for s in sents[lo : lo + cfg.eval_batch_size]]
                probs = torch.sigmoid(model(article_windows(tok, chunk, cfg.model)))
                for article, row in zip(chunk, probs, strict=True):
                    chosen = select_sentences(
                        row[: len(article)].tolist(), [words(s) for s in article], cfg.summary_sentences
                    )
                    preds.append("\n".join(article[k] for k in chosen))
            per = rouge_per_example(preds, refs)
            for k in ROUGE_TYPES:
                metrics[prefix + k] = sum(p[k] for p in per) / len(per)
            metrics[prefix + "rouge_mean"] = sum(metrics[prefix + k] for k in ROUGE_TYPES) / len(ROUGE_TYPES)
        metrics["score"] = sum(metrics[p + "rouge_mean"] for p in val_sets) / len(val_sets)
        return metrics

    def collate(batch: list[Item]) -> dict:
        windows = pack_windows(
            [sents for sents, _ in batch],
            tok.cls_token_id,
            tok.sep_token_id,
            tok.pad_token_id,
            cfg.model.window_tokens,
            cfg.model.max_sentence_tokens,
            cfg.model.context_tokens,
        )
        n = max(len(y) for _, y in batch)
        targets = torch.zeros(len(batch), n)
        for i, (_, y) in enumerate(batch):
            targets[i, : len(y)] = torch.tensor(y)
        return {"windows": windows, "targets": targets}

    def loss(model: nn.Module, batch: dict) -> torch.Tensor:
        windows: Windows = batch["windows"]
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=cfg.bf16):
            logits = model(windows).float()
        mask = torch.isfinite(logits)
        return nn.functional.binary_cross_entropy_with_logits(logits[mask], batch["targets"][mask])

    torch.manual_seed(cfg.seed)
    base_version, base_sha = base_identity()
    start, init_sha = _start(cfg.init_artifact)
    config = (start[1] if start else cfg.model).model_copy(
        update={"base_package_version": base_version, "base_sha256": base_sha}
    )
    m = config
    model = ExtractiveEncoderNet(config, adapted(load_base(), m.lora_r, m.lora_alpha, m.lora_dropout))
    if start:
        _load_trained(model, start[0])
    task = Task(
        model, items, collate, loss, evaluate, "score", trainable_only=True, evaluate_start=bool(start)
    )
    result = fit(task, cfg, resume=resume)
    return write_component(
        cfg,
        COMPONENT,
        result.best_state,
        config,
        training_record(
            cfg,
            result,
            description=(
                "BertSumExt-style extractive model: all-MiniLM-L6-v2 with LoRA adapters "
                f"(r={m.lora_r}) reads whole articles in {m.window_tokens}-token windows of "
                "'[CLS] sentence [SEP]' with interval segments; mean-pooled sentence vectors -> "
                f"{m.scorer.layers}-layer inter-sentence Transformer -> logit per sentence. BCE on greedy "
                f"ROUGE oracle labels (up to {cfg.oracle_sentences} sentences) and on the sentences of "
                "extractive reference summaries. Selection: top sentences with trigram blocking."
            ),
            command=command,
            data=data,
            encode_seconds=prepare_seconds,
            started=started,
            train_articles_used=len(items),
            max_train_tokens=cfg.max_train_tokens,
            init_artifact=None if init_sha is None else f"{cfg.init_artifact} (sha256 {init_sha[:12]})",
        ),
    )


def _start(
    artifact: Path | None,
) -> tuple[tuple[dict[str, torch.Tensor], ExtractiveEncoderConfig] | None, str | None]:
    """The extractive encoder a run continues from (its weights and config) and its sha256."""
    if artifact is None:
        return None, None
    return read_component(artifact), component_sha256(artifact, COMPONENT)


def _load_trained(model: ExtractiveEncoderNet, state: dict[str, torch.Tensor]) -> None:
    """Put stored (fp16) adapter and scorer weights into a training model as float32: every
    trainable parameter must get one, and nothing else."""
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    missing = trainable - state.keys()
    unexpected = state.keys() - trainable
    if missing or unexpected:
        raise ArtifactError(
            f"{COMPONENT} weights do not fit the training model: missing {sorted(missing)[:3]}, "
            f"unexpected {sorted(unexpected)[:3]}"
        )
    model.load_state_dict({k: v.float() for k, v in state.items()}, strict=False)
