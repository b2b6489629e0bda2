"""LoRA fine-tuning of SmolLM2-135M-Instruct on (article, reference summary) pairs.

Each example is the generator's own chat prompt (model/prompt.py: the article cut to the token
budget, the instruction with max_words set to the reference length rounded up) followed by the
reference summary and the end-of-turn token. The loss covers the summary tokens only. The base
stays frozen; only the adapter is trained, checkpointed and shipped (fp16, a few MB).
Checkpoint selection: lowest validation loss per summary token.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from transformers import PreTrainedTokenizerBase

from opslens.model.adapter import COMPONENT, lora_config
from opslens.model.base_model import base_version, load_base
from opslens.model.faithfulness import ArticleFacts, unsupported_spans
from opslens.model.prompt import build_prompt, length_bucket
from opslens.model.text import split_sentences
from opslens.training.config import AbstractiveTrainConfig
from opslens.training.data import load_splits
from opslens.training.loop import Task, fit, start_run, training_record, write_component

IGNORE = -100  # label value the loss skips


@dataclass(frozen=True, slots=True)
class Example:
    prompt: list[int]
    target: list[int]


def target_text(summary: str) -> str:
    """Reference highlights (one per line) as running text, each ending a sentence."""
    lines = [" ".join(line.split()) for line in summary.splitlines() if line.strip()]
    return " ".join(line if line[-1] in ".!?\"'" else line + "." for line in lines)


def reference_is_supported(article: str, reference: str) -> bool:
    """True when the faithfulness guard finds nothing in `reference` that `article` lacks.
    About 15% of CNN/DailyMail highlights carry a number or date the article does not have
    (measured on the 300 held-out articles); training on them teaches the model to invent."""
    return not unsupported_spans(reference, split_sentences(reference), ArticleFacts.of(article))


def make_examples(
    tokenizer: PreTrainedTokenizerBase,
    articles: list[str],
    summaries: list[str],
    *,
    article_tokens: int,
    max_summary_tokens: int,
    supported_only: bool = False,
    lowercase: bool = False,
) -> list[Example]:
    end = tokenizer.eos_token_id
    out = []
    for article, summary in zip(articles, summaries, strict=True):
        if lowercase:  # the generator prompts with lower-cased articles too (AbstractiveConfig)
            article, summary = article.lower(), summary.lower()
        text = target_text(summary)
        if not text or not article.strip():
            continue
        if supported_only and not reference_is_supported(article, text):
            continue
        prompt = build_prompt(
            tokenizer, article, max_words=length_bucket(text), article_tokens=article_tokens
        )
        target = tokenizer(text, add_special_tokens=False)["input_ids"][:max_summary_tokens]
        out.append(Example(prompt.input_ids, [*target, end]))
    return out


def collate(items: list[Example], pad_id: int) -> dict[str, torch.Tensor]:
    """Right-padded ids; labels are the target tokens only (prompt and padding ignored)."""
    width = max(len(e.prompt) + len(e.target) for e in items)
    ids = torch.full((len(items), width), pad_id)
    labels = torch.full((len(items), width), IGNORE)
    mask = torch.zeros((len(items), width), dtype=torch.long)
    for i, e in enumerate(items):
        seq = e.prompt + e.target
        ids[i, : len(seq)] = torch.tensor(seq)
        labels[i, len(e.prompt) : len(seq)] = torch.tensor(e.target)
        mask[i, : len(seq)] = 1
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}


def loss(model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    return model(**batch).loss


def validation_loss(model: nn.Module, items: list[Example], pad_id: int, batch_size: int) -> float:
    """Mean loss per target token (not per batch, so batch composition does not matter)."""
    total, tokens = 0.0, 0
    for lo in range(0, len(items), batch_size):
        batch = collate(items[lo : lo + batch_size], pad_id)
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        labels = batch["labels"][:, 1:]
        total += float(
            nn.functional.cross_entropy(
                logits[:, :-1].reshape(-1, logits.shape[-1]),
                labels.reshape(-1),
                ignore_index=IGNORE,
                reduction="sum",
            )
        )
        tokens += int((labels != IGNORE).sum())
    return total / max(tokens, 1)


def train_abstractive(cfg: AbstractiveTrainConfig, *, resume: bool = False, command: str = "") -> Path:
    from peft import get_peft_model, get_peft_model_state_dict

    started = start_run(cfg)
    fields = (cfg.article_field, cfg.summary_field)
    train_ds, val_ds, data = load_splits(cfg, fields)

    base, tokenizer, meta = load_base(cfg.base_cache)
    model_cfg = cfg.model.model_copy(
        update={"base_package_version": base_version(), "base_sha256": meta["source_sha256"]}
    )
    t0 = time.time()
    budget = {
        "article_tokens": model_cfg.article_tokens,
        "max_summary_tokens": cfg.max_summary_tokens,
        "lowercase": model_cfg.lowercase,
    }
    train_items = make_examples(
        tokenizer,
        train_ds[cfg.article_field],
        train_ds[cfg.summary_field],
        supported_only=cfg.drop_unsupported_references,
        **budget,
    )
    val_items = make_examples(tokenizer, val_ds[cfg.article_field], val_ds[cfg.summary_field], **budget)
    tokenize_seconds = time.time() - t0
    if not train_items or not val_items:
        raise ValueError("no usable training or validation example (empty articles or summaries)")
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id

    torch.manual_seed(cfg.seed)
    model = get_peft_model(base, lora_config(model_cfg))

    def evaluate(m: nn.Module) -> dict[str, float]:
        val = validation_loss(m, val_items, pad_id, cfg.batch_size)
        return {"val_loss": val, "neg_val_loss": -val}

    task = Task(
        model, train_items, lambda b: collate(b, pad_id), loss, evaluate, "neg_val_loss", trainable_only=True
    )
    result = fit(task, cfg, resume=resume)
    model.load_state_dict(result.best_state, strict=False)

    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return write_component(
        cfg,
        COMPONENT,
        get_peft_model_state_dict(model),
        model_cfg,
        training_record(
            cfg,
            result,
            description=(
                f"LoRA adapter (r={model_cfg.lora_r}, alpha={model_cfg.lora_alpha}) on {model_cfg.base} "
                f"from PyPI {model_cfg.base_package}=={model_cfg.base_package_version} (GGUF dequantized "
                f"to float32, sha256 {model_cfg.base_sha256[:12]}). Prompt: chat template, article cut to "
                f"{model_cfg.article_tokens} tokens, max_words = reference length rounded up to 10. "
                "Loss on summary tokens only; checkpoint with the lowest validation loss per token."
            ),
            command=command,
            data=data,
            encode_seconds=tokenize_seconds,
            started=started,
            trainable_parameters=trainable,
            train_examples_used=len(train_items),
            dropped_unsupported_references=cfg.drop_unsupported_references,
        ),
    )
