"""Train the extractive sentence scorer on (article, reference summary) pairs.

Labels: greedy ROUGE oracle sentences. Loss: binary cross-entropy per sentence.
Checkpoint selection: mean of validation ROUGE-1/2/Lsum of the selected summaries.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import torch
from torch import nn
from tqdm import tqdm

from opslens.eval.rouge import ROUGE_TYPES, rouge_per_example
from opslens.model.encoder import SentenceEncoder
from opslens.model.extractive import ExtractiveScorer, pad_documents, select_sentences
from opslens.model.text import words
from opslens.training import distributed
from opslens.training.config import ExtractiveTrainConfig
from opslens.training.data import load_splits, rows_key
from opslens.training.features import encode_articles
from opslens.training.loop import Task, fit, start_run, training_record, write_component
from opslens.training.oracle import greedy_oracle


def _oracle_labels(sentences: list[list[str]], summaries: list[str], k: int, cache: Path) -> list[list[int]]:
    if cache.is_file():
        return json.loads(cache.read_text(encoding="utf-8"))
    labels = [
        greedy_oracle(s, ref, k)
        for s, ref in tqdm(list(zip(sentences, summaries, strict=True)), desc="oracle labels", mininterval=10)
    ]
    cache.write_text(json.dumps(labels), encoding="utf-8")
    return labels


def _collate(items: list[tuple[torch.Tensor, torch.Tensor]]) -> dict[str, torch.Tensor]:
    sentences, mask = pad_documents([vecs for vecs, _ in items])
    targets = torch.zeros(mask.shape)
    for i, (_, y) in enumerate(items):
        targets[i, : len(y)] = y
    return {"sentences": sentences, "mask": mask, "targets": targets}


def _loss(model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    logits = model(batch["sentences"], batch["mask"])
    mask = batch["mask"]
    return nn.functional.binary_cross_entropy_with_logits(logits[mask], batch["targets"][mask])


def train_extractive(cfg: ExtractiveTrainConfig, *, resume: bool = False, command: str = "") -> Path:
    started = start_run(cfg)
    fields = (cfg.article_field, cfg.summary_field)
    train_ds, val_ds, data = load_splits(cfg, fields)

    encoder = SentenceEncoder(batch_size=cfg.encode_batch_size)
    cache = cfg.run_dir / "cache"
    t_key = f"extractive-train-{rows_key(train_ds, fields)}-{cfg.max_article_sentences}"
    v_key = f"extractive-val-{rows_key(val_ds, fields)}"
    t0 = time.time()
    with distributed.main_first():
        train_enc = encode_articles(
            encoder, train_ds[cfg.article_field], cache, t_key, max_sentences=cfg.max_article_sentences
        )
        val_enc = encode_articles(encoder, val_ds[cfg.article_field], cache, v_key)
        encode_seconds = time.time() - t0
        labels = _oracle_labels(
            train_enc.sentences,
            train_ds[cfg.summary_field],
            cfg.oracle_sentences,
            cache / f"{t_key}-oracle{cfg.oracle_sentences}.json",
        )

    items = []
    for vecs, picked in zip(train_enc.vectors, labels, strict=True):
        if len(vecs) and picked:  # an article without sentences or oracle teaches nothing
            y = torch.zeros(len(vecs))
            y[picked] = 1.0
            items.append((vecs, y))
    val_tokens = [[words(s) for s in sents] for sents in val_enc.sentences]
    val_refs = list(val_ds[cfg.summary_field])

    def evaluate(model: nn.Module) -> dict[str, float]:
        preds = []
        for lo in range(0, len(val_enc.vectors), 64):
            docs = [
                v if len(v) else torch.zeros(1, cfg.model.input_dim) for v in val_enc.vectors[lo : lo + 64]
            ]
            padded, mask = pad_documents(docs)
            scores = torch.sigmoid(model(padded, mask))
            for j, doc_scores in enumerate(scores):
                i = lo + j
                n = len(val_enc.sentences[i])
                chosen = select_sentences(doc_scores[:n].tolist(), val_tokens[i], cfg.summary_sentences)
                preds.append("\n".join(val_enc.sentences[i][k] for k in chosen))
        per = rouge_per_example(preds, val_refs)
        metrics = {k: sum(p[k] for p in per) / len(per) for k in ROUGE_TYPES}
        metrics["rouge_mean"] = sum(metrics[k] for k in ROUGE_TYPES) / len(ROUGE_TYPES)
        return metrics

    torch.manual_seed(cfg.seed)
    model = ExtractiveScorer(cfg.model)
    result = fit(Task(model, items, _collate, _loss, evaluate, "rouge_mean"), cfg, resume=resume)
    model.load_state_dict(result.best_state)

    return write_component(
        cfg,
        "extractive",
        model.state_dict(),
        cfg.model,
        training_record(
            cfg,
            result,
            description=(
                "BertSumExt-style scorer: frozen MiniLM sentence vectors -> position embedding -> "
                f"{cfg.model.layers}-layer inter-sentence Transformer -> logit per sentence. Trained "
                f"with BCE on greedy ROUGE-1+2 oracle labels (up to {cfg.oracle_sentences} sentences). "
                f"Selection: top {cfg.summary_sentences} with trigram blocking, in article order."
            ),
            command=command,
            data=data,
            encode_seconds=encode_seconds,
            started=started,
            train_articles_used=len(items),
        ),
        window_tokens=encoder.window_tokens,
    )
