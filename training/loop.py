"""The one training loop every trainer uses: shuffled mini-batches, AdamW with linear
warm-up/decay, periodic evaluation and checkpoints, `--resume` from the last checkpoint,
metrics logged as JSON lines in the run folder. Also the steps around it that the trainers
share: the run's set-up (`start_run`) and writing the result (`write_component`)."""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from pydantic import BaseModel
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm
from transformers import get_linear_schedule_with_warmup

from opslens.model.artifact import init_artifact, save_component_state
from opslens.model.card import write_card
from opslens.training import distributed
from opslens.training.checkpoint import load_checkpoint, save_checkpoint
from opslens.training.config import TrainConfig

LOG = "train_log.jsonl"


@dataclass
class Task:
    model: nn.Module
    train_items: Sequence[Any]
    collate: Callable[[list[Any]], dict[str, torch.Tensor]]
    loss: Callable[[nn.Module, dict[str, torch.Tensor]], torch.Tensor]
    evaluate: Callable[[nn.Module], dict[str, float]]
    key_metric: str  # higher is better; picks the checkpoint that ships
    # Checkpoint and keep only the parameters being trained (a LoRA adapter on a frozen base).
    trainable_only: bool = False
    # A run that continues a trained model evaluates it first: a checkpoint ships only if it
    # beats where the run started.
    evaluate_start: bool = False


@dataclass
class FitResult:
    best_state: dict[str, torch.Tensor]
    best_metrics: dict[str, float]
    best_step: int | None  # the step the kept weights are from (0: where the run started; None: unknown)
    steps: int
    seconds_per_step: float
    train_seconds: float
    averaged_steps: list[int] | None = None  # keep="average": the evaluations whose weights were averaged


def _log(run_dir: Path, record: dict[str, Any]) -> None:
    if not distributed.is_main():
        return
    with open(run_dir / LOG, "a", encoding="utf-8") as f:
        f.write(json.dumps(record) + "\n")


def trained_state(model: nn.Module, trainable_only: bool) -> dict[str, torch.Tensor]:
    state = model.state_dict()
    if not trainable_only:
        return state
    names = {n for n, p in model.named_parameters() if p.requires_grad}
    return {k: v for k, v in state.items() if k in names}


def start_run(cfg: TrainConfig) -> float:
    """The set-up every trainer starts with (torch's thread count); returns the start time
    that `training_record` reports the run's wall time from."""
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    return time.time()


def fit(task: Task, cfg: TrainConfig, *, resume: bool = False) -> FitResult:
    run_dir = cfg.run_dir
    run_dir.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(cfg.seed)
    model = task.model
    # Under a multi-process launcher each rank computes the loss on its share of every batch
    # and DDP averages the gradients, so all ranks take the same optimizer steps.
    trained = DistributedDataParallel(model) if distributed.world_size() > 1 else model
    batches_per_epoch = (len(task.train_items) + cfg.batch_size - 1) // cfg.batch_size
    total_steps = min(batches_per_epoch * cfg.epochs, cfg.max_steps or batches_per_epoch * cfg.epochs)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    scheduler = get_linear_schedule_with_warmup(optimizer, int(cfg.warmup_ratio * total_steps), total_steps)
    best_step: int | None
    step, best_metric, best_metrics, best_step = 0, float("-inf"), {}, 0
    best_state = copy.deepcopy(trained_state(model, task.trainable_only))
    train_seconds = 0.0
    recent: list[tuple[int, dict[str, torch.Tensor]]] = []  # keep="average": (step, weights) at evaluations

    state = load_checkpoint(run_dir) if resume else None
    if state is not None:
        model.load_state_dict(state["model"], strict=not task.trainable_only)
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        step, best_metric = state["step"], state["best_metric"]
        best_metrics, best_state = state["best_metrics"], state["best_state"]
        best_step = state.get("best_step")  # None from checkpoints written before it was kept
        train_seconds = state["train_seconds"]
        recent = list(state.get("recent", []))  # absent from checkpoints before keep="average"
        # Dropout draws from the global generator: restore it, or the resumed run diverges.
        if "rng" in state:
            torch.set_rng_state(state["rng"])
        _log(run_dir, {"event": "resume", "step": step})
    elif resume:
        _log(run_dir, {"event": "resume_requested_but_no_checkpoint"})

    def checkpoint() -> None:
        if not distributed.is_main():
            return
        save_checkpoint(
            run_dir,
            {
                "model": trained_state(model, task.trainable_only),
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "step": step,
                "best_metric": best_metric,
                "best_metrics": best_metrics,
                "best_step": best_step,
                "best_state": best_state,
                "train_seconds": train_seconds,
                "recent": recent,
                "rng": torch.get_rng_state(),
            },
        )

    last: tuple[int, dict[str, float]] = (-1, {})  # the latest evaluation: step, metrics

    def validate() -> dict[str, float]:
        model.eval()
        with torch.no_grad():
            metrics = task.evaluate(model)
        model.train()
        return metrics

    def evaluate() -> None:
        nonlocal best_metric, best_metrics, best_state, best_step, last, recent
        metrics = validate()
        last = (step, metrics)
        improved = metrics[task.key_metric] > best_metric
        if improved:
            best_metric, best_metrics, best_step = metrics[task.key_metric], metrics, step
            best_state = copy.deepcopy(trained_state(model, task.trainable_only))
        if cfg.keep == "average" and step > 0:  # the starting weights are not the run's to average
            weights = copy.deepcopy(trained_state(model, task.trainable_only))
            recent = [*recent, (step, weights)][-cfg.average_last :]
        _log(run_dir, {"event": "eval", "step": step, "best": improved, **metrics})
        if distributed.is_main():
            tqdm.write(f"step {step}: " + ", ".join(f"{k}={v:.4g}" for k, v in metrics.items()))

    if task.evaluate_start and step == 0:
        evaluate()
    model.train()
    progress = tqdm(
        total=total_steps,
        initial=step,
        desc="train",
        unit="step",
        mininterval=5,
        disable=not distributed.is_main(),
    )
    while step < total_steps:
        epoch, first = divmod(step, batches_per_epoch)
        # The permutation depends on seed and epoch only, so a resumed run sees the same batches.
        order = torch.randperm(
            len(task.train_items), generator=torch.Generator().manual_seed(cfg.seed + epoch)
        )
        for b in range(first, batches_per_epoch):
            if step >= total_steps:
                break
            t0 = time.perf_counter()
            idx = order[b * cfg.batch_size : (b + 1) * cfg.batch_size].tolist()
            loss = task.loss(trained, task.collate([task.train_items[i] for i in distributed.shard(idx)]))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimizer.step()
            scheduler.step()
            step += 1
            train_seconds += time.perf_counter() - t0
            progress.update(1)
            if step % cfg.log_every == 0:
                _log(
                    run_dir,
                    {
                        "event": "train",
                        "step": step,
                        "epoch": epoch,
                        "loss": float(loss.detach()),
                        "lr": scheduler.get_last_lr()[0],
                        "seconds_per_step": round(train_seconds / step, 3),
                    },
                )
                progress.set_postfix(loss=f"{float(loss.detach()):.4f}")
            if step % cfg.eval_every == 0 or b == batches_per_epoch - 1 or step == total_steps:
                evaluate()
            if step % cfg.checkpoint_every == 0 or step == total_steps:
                checkpoint()
    progress.close()
    averaged_steps: list[int] | None = None
    if cfg.keep == "last":
        if last[0] != step:  # a resumed finished run: its last evaluation was in the earlier process
            evaluate()
        best_metrics, best_state, best_step = last[1], trained_state(model, task.trainable_only), step
    elif cfg.keep == "average":
        if not recent:
            raise ValueError(
                'keep="average": no weights from an evaluation after the start to average (lower '
                "eval_every; a checkpoint from a run with another keep has none)"
            )
        averaged_steps = [s for s, _ in recent]
        best_state = average_weights([w for _, w in recent])
        model.load_state_dict(best_state, strict=not task.trainable_only)
        best_metrics, best_step = validate(), step
        _log(run_dir, {"event": "eval_average", "steps": averaged_steps, **best_metrics})
    elif not best_metrics:  # resumed a finished run: evaluate what we have
        evaluate()
    return FitResult(
        best_state=best_state,
        best_step=best_step,
        best_metrics=best_metrics,
        steps=step,
        seconds_per_step=train_seconds / max(step, 1),
        train_seconds=train_seconds,
        averaged_steps=averaged_steps,
    )


def average_weights(states: Sequence[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """The element-wise mean of several weight sets of one model (checkpoint averaging: the
    weights along the end of a decaying schedule, averaged, generalise a little better than any
    one of them). Integer buffers (position ids, counters) are taken from the last."""
    out = {}
    for k, v in states[-1].items():
        if v.is_floating_point():
            out[k] = torch.stack([s[k].float() for s in states]).mean(0).to(v.dtype)
        else:
            out[k] = v.clone()
    return out


def training_record(
    cfg: TrainConfig,
    result: FitResult,
    *,
    description: str,
    command: str,
    data: dict[str, Any],
    encode_seconds: float,
    started: float,
    **extra: Any,
) -> dict[str, Any]:
    """What a component's model card records about the run that made it."""
    return {
        "description": description,
        "command": command,
        "data": data,
        "seed": cfg.seed,
        "epochs": cfg.epochs,
        "batch_size": cfg.batch_size,
        "lr": cfg.lr,
        "steps": result.steps,
        "kept": cfg.keep,
        "kept_step": result.best_step,
        **({"averaged_steps": result.averaged_steps} if result.averaged_steps is not None else {}),
        "seconds_per_step": round(result.seconds_per_step, 4),
        "encode_seconds": round(encode_seconds, 1),
        "wall_seconds": round(time.time() - started, 1),
        "threads": torch.get_num_threads(),
        "processes": distributed.world_size(),
        "torch": torch.__version__,
        **extra,
        "metrics": {k: round(v, 3) for k, v in result.best_metrics.items()},
    }


def write_component(
    cfg: TrainConfig,
    name: str,
    state: dict[str, torch.Tensor],
    config: BaseModel,
    training: dict[str, Any],
    *,
    window_tokens: int = 256,
) -> Path:
    """Rank 0 writes the trained component into the artifact folder (created if new, with the
    encoder's `window_tokens` in its manifest) and re-renders the model card; other ranks, which
    trained the same weights, write nothing. Returns the artifact folder."""
    if distributed.is_main():
        init_artifact(cfg.output_dir, cfg.artifact_name, cfg.artifact_version, window_tokens)
        save_component_state(cfg.output_dir, name, state, config, training)
        write_card(cfg.output_dir)
    return cfg.output_dir
