"""LoRA fine-tuning of SmolLM2-135M-Instruct on (article, reference summary) pairs.

Each example is the generator's own chat prompt (model/prompt.py: v2 quotes the article's
best-scored sentences within the token budget, v1 its first tokens; the instruction with
max_words set to the reference length rounded up) followed by the reference summary and the
end-of-turn token. For v2 the sentences are scored as the service scores them (an artifact's
extractive model), with the reference's greedy-oracle sentences put first, so what the
reference says is in the prompt: the adapter learns to write from what it is given.
The loss covers the summary tokens only. The base stays frozen; only the adapter is trained,
checkpointed and shipped (fp16, a few MB). Checkpoint selection: lowest validation loss per
summary token.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from datasets import Dataset
from torch import nn
from tqdm import tqdm
from transformers import PreTrainedTokenizerBase

from opslens.model.adapter import COMPONENT, load_adapter_state, lora_config, read_adapter
from opslens.model.artifact import component_sha256
from opslens.model.base_model import base_version, load_base
from opslens.model.extractive_encoder import COMPONENT as EXTRACTIVE_ENCODER
from opslens.model.extractive_encoder import ExtractiveEncoder
from opslens.model.faithfulness import ArticleFacts, unsupported_spans
from opslens.model.prompt import PROMPT_VERSION, Source, build_prompt, length_bucket
from opslens.model.text import parse_document, split_sentences
from opslens.training.config import AbstractiveTrainConfig
from opslens.training.data import cached_json, load_splits, rows_key
from opslens.training.loop import Task, fit, start_run, training_record, write_component
from opslens.training.oracle import greedy_oracle

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


def scored_sources(
    articles: Sequence[str],
    summaries: Sequence[str],
    *,
    selector: ExtractiveEncoder | None,
    oracle_sentences: int,
    batch_size: int = 8,
) -> list[list[list]]:
    """[sentences, scores] of each article: its sentences as the service parses them, scored by
    `selector` (None: all 0, so the lead goes first), +1 for the reference's oracle sentences
    (the selector's scores are probabilities, so those rank first). JSON, for the run's cache."""
    parsed = [parse_document(a).sentences for a in tqdm(articles, desc="parse", mininterval=10)]
    scores = [[0.0] * len(s) for s in parsed]
    if selector is not None:
        with torch.inference_mode():
            for lo in tqdm(range(0, len(parsed), batch_size), desc="score", mininterval=10):
                chunk = [[s.normalized for s in sents] for sents in parsed[lo : lo + batch_size]]
                scores[lo : lo + batch_size] = selector.scores(chunk)
    for sents, row, summary in zip(parsed, scores, summaries, strict=True):
        for i in greedy_oracle([s.normalized for s in sents], summary, oracle_sentences):
            row[i] += 1.0
    return [[[s.text for s in sents], row] for sents, row in zip(parsed, scores, strict=True)]


def make_examples(
    tokenizer: PreTrainedTokenizerBase,
    sources: Sequence[Source],
    summaries: Sequence[str],
    *,
    article_tokens: int,
    max_summary_tokens: int,
    supported_only: bool = False,
    lowercase: bool = False,
    version: int = PROMPT_VERSION,
) -> list[Example]:
    end = tokenizer.eos_token_id
    out = []
    for source, summary in zip(sources, summaries, strict=True):
        if lowercase:  # the generator prompts with lower-cased articles too (AbstractiveConfig)
            source, summary = source.lower(), summary.lower()
        text = target_text(summary)
        if not text or not source.text.strip():
            continue
        if supported_only and not reference_is_supported(source.text, text):
            continue
        prompt = build_prompt(
            tokenizer, source, max_words=length_bucket(text), article_tokens=article_tokens, version=version
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


def loss(model: nn.Module, batch: dict[str, torch.Tensor], *, bf16: bool = False) -> torch.Tensor:
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    labels = batch["labels"][:, 1:]
    return nn.functional.cross_entropy(
        logits[:, :-1].float().reshape(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=IGNORE
    )


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


def _sources(cfg: AbstractiveTrainConfig, fields: tuple[str, str], ds: Dataset, split: str) -> list[Source]:
    """The split's articles as the prompt reads them, parsed and scored once per run folder."""
    selector = cfg.selector_artifact
    sha = component_sha256(selector, EXTRACTIVE_ENCODER)[:16] if selector else "lead"
    cache = cfg.run_dir / "cache"
    cache.mkdir(parents=True, exist_ok=True)
    name = f"abs-{split}-{rows_key(ds, fields)}-{sha}-oracle{cfg.oracle_sentences}.json"

    def make() -> list[list[list]]:
        encoder = ExtractiveEncoder.load(selector, backend="torch", threads=cfg.threads) if selector else None
        articles, summaries = ds[cfg.article_field], ds[cfg.summary_field]
        return scored_sources(articles, summaries, selector=encoder, oracle_sentences=cfg.oracle_sentences)

    return [Source(tuple(sents), tuple(scores)) for sents, scores in cached_json(cache / name, make)]


def _prompt_description(cfg: AbstractiveTrainConfig, version: int) -> str:
    if version == 1:
        return "chat template, the article's first tokens"
    scorer = f"the extractive model of {cfg.selector_artifact}" if cfg.selector_artifact else "lead order"
    return (
        f"chat template, the article's sentences ranked by the reference's greedy-oracle sentences "
        f"({cfg.oracle_sentences}) first, then {scorer}, quoted in article order"
    )


def train_abstractive(cfg: AbstractiveTrainConfig, *, resume: bool = False, command: str = "") -> Path:
    from peft import get_peft_model, get_peft_model_state_dict

    started = start_run(cfg)
    fields = (cfg.article_field, cfg.summary_field)
    train_ds, val_ds, data = load_splits(cfg, fields)

    base, tokenizer, meta = load_base(cfg.base_cache)
    init_state, init_sha, model_cfg = None, None, cfg.model
    if cfg.init_adapter is not None:
        model_cfg, init_state, init_sha = read_adapter(cfg.init_adapter, meta)
    model_cfg = model_cfg.model_copy(
        update={"base_package_version": base_version(), "base_sha256": meta["source_sha256"]}
    )
    t0 = time.time()
    train_sources, val_sources = (
        _sources(cfg, fields, train_ds, "train"),
        _sources(cfg, fields, val_ds, "val"),
    )
    budget = {
        "article_tokens": model_cfg.article_tokens,
        "max_summary_tokens": cfg.max_summary_tokens,
        "lowercase": model_cfg.lowercase,
        "version": model_cfg.prompt_version,
    }
    train_items = make_examples(
        tokenizer,
        train_sources,
        train_ds[cfg.summary_field],
        supported_only=cfg.drop_unsupported_references,
        **budget,
    )
    val_items = make_examples(tokenizer, val_sources, val_ds[cfg.summary_field], **budget)
    tokenize_seconds = time.time() - t0
    if not train_items or not val_items:
        raise ValueError("no usable training or validation example (empty articles or summaries)")
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id

    torch.manual_seed(cfg.seed)
    model = get_peft_model(base, lora_config(model_cfg))
    if init_state is not None:
        load_adapter_state(model, init_state)

    def evaluate(m: nn.Module) -> dict[str, float]:
        val = validation_loss(m, val_items, pad_id, cfg.batch_size)
        return {"val_loss": val, "neg_val_loss": -val}

    task = Task(
        model,
        train_items,
        lambda b: collate(b, pad_id),
        lambda m, b: loss(m, b, bf16=cfg.bf16),
        evaluate,
        "neg_val_loss",
        trainable_only=True,
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
                f"to float32, sha256 {model_cfg.base_sha256[:12]}). Prompt v{model_cfg.prompt_version}: "
                f"{_prompt_description(cfg, model_cfg.prompt_version)} within {model_cfg.article_tokens} "
                "tokens, max_words = reference length rounded up to 10. Loss on summary tokens only; "
                "checkpoint with the lowest validation loss per token."
                + ("" if init_sha is None else f" Continued from the adapter of {cfg.init_adapter}.")
            ),
            command=command,
            data=data,
            encode_seconds=tokenize_seconds,
            started=started,
            trainable_parameters=trainable,
            train_examples_used=len(train_items),
            dropped_unsupported_references=cfg.drop_unsupported_references,
            selector_artifact=str(cfg.selector_artifact) if cfg.selector_artifact else None,
            oracle_sentences=cfg.oracle_sentences,
            init_adapter=None if init_sha is None else f"{cfg.init_adapter} (sha256 {init_sha[:12]})",
        ),
    )
