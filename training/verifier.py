"""Train the claim verifier: LoRA adapters on all-MiniLM-L6-v2 as a cross-encoder, two heads.

Data: the pairs file training/verifier_data.py builds (built on first use, then reused; a
prepared copy lets a machine without the article tools train). Each example trains one head:
the other head's loss is masked. Both losses are class-weighted against skew (FNC-1 has ten
times more discuss than disagree). Batches group examples of similar length, so a short NLI
pair is not padded to a 256-token window. Checkpoint selection: the mean of the two heads'
validation macro-F1. Afterwards each head gets a temperature fitted on validation logits,
and the calibration error before and after goes into the training record.
"""

from __future__ import annotations

import json
import random
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn
from transformers import AutoTokenizer

from opslens.eval.stance_metrics import calibration, stance_metrics
from opslens.model.cache import file_sha256
from opslens.model.encoder import encoder_path
from opslens.model.lora import base_identity
from opslens.model.verifier import (
    COMPONENT,
    NLI_LABELS,
    STANCES,
    VerifierConfig,
    VerifierNet,
    collate,
    load_verifier_net,
    pair_ids,
)
from opslens.training import distributed
from opslens.training.calibration import fit_temperature
from opslens.training.config import VerifierTrainConfig
from opslens.training.loop import Task, fit, start_run, training_record, write_component
from opslens.training.verifier_pairs import (
    TokenPairs,
    concat_pairs,
    load_pairs,
    save_pairs,
    tokenize_pairs,
)

BUDGET = "budget.json"  # the time-budget decision, reused by --resume


def _device(cfg: VerifierTrainConfig) -> torch.device:
    if cfg.device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(cfg.device)


def prepared_pairs(cfg: VerifierTrainConfig, tokenizer) -> tuple[TokenPairs, Path, float]:
    """The pairs file, built first when absent. Returns the pairs, their path, build seconds."""
    path = cfg.pairs_file or cfg.run_dir / "pairs.npz"
    t0 = time.time()
    with distributed.main_first():
        if not path.is_file():
            # The builder needs the article tools (sentence splitter, datasets, the encoder);
            # a prepared pairs file needs none of them, so it is imported only to build one.
            from opslens.model.encoder import SentenceEncoder
            from opslens.training.verifier_data import build_pairs

            encoder = SentenceEncoder(batch_size=cfg.encode_batch_size)
            pairs, record = build_pairs(
                cfg, encoder, lambda texts: [len(t) for t in _tokens(tokenizer, texts)]
            )
            save_pairs(path, tokenize_pairs(pairs, lambda texts: _tokens(tokenizer, texts), record))
    pairs = concat_pairs([load_pairs(path), *(load_pairs(f) for f in cfg.extra_pairs_files)])
    return pairs, path, time.time() - t0


def prepare_pairs_file(cfg: VerifierTrainConfig) -> Path:
    """Build the config's pairs file (if absent) without training: the CPU half of a run whose
    training happens on another machine (training/verifier_bundle.py carries the file there)."""
    pairs, path, seconds = prepared_pairs(cfg, _tokenizer())
    print(json.dumps({"pairs": len(pairs), "counts": pairs.counts(), "seconds": round(seconds, 1)}, indent=1))
    return path


def _tokenizer():
    tokenizer = AutoTokenizer.from_pretrained(encoder_path(), local_files_only=True)
    tokenizer.model_max_length = 1 << 30  # pairs are cut by pair_ids
    return tokenizer


def _tokens(tokenizer, texts: list[str]) -> list[list[int]]:
    return tokenizer(texts, add_special_tokens=False)["input_ids"]


def _sample(
    pairs: TokenPairs,
    idx: list[int],
    per_source: int | None,
    total: int | None,
    seed: int,
    caps: dict[str, int] | None = None,
) -> list[int]:
    """A seeded sample: at most `per_source` examples of each source (`caps` names other caps
    for some sources), then `total` in all."""
    rng = random.Random(seed)
    if per_source is not None or caps:
        by_source: dict[str, list[int]] = {}
        for i in idx:
            by_source.setdefault(pairs.source_of(i), []).append(i)
        limit = {src: (caps or {}).get(src, per_source or len(group)) for src, group in by_source.items()}
        idx = sorted(
            i for src, group in by_source.items() for i in rng.sample(group, min(limit[src], len(group)))
        )
    if total is not None and total < len(idx):
        idx = sorted(rng.sample(idx, total))
    return idx


def length_batches(idx: list[int], lengths: Sequence[int], batch_size: int, seed: int) -> list[list[int]]:
    """Batches of similar length: shuffle, sort within windows of 50 batches, cut. Each
    training step takes one of them, in the loop's seeded order."""
    order = list(idx)
    random.Random(seed).shuffle(order)
    window = 50 * batch_size
    out = []
    for lo in range(0, len(order), window):
        chunk = sorted(order[lo : lo + window], key=lambda i: lengths[i])
        out += [chunk[j : j + batch_size] for j in range(0, len(chunk), batch_size)]
    return out


def class_weights(labels: Sequence[int], n: int, power: float) -> torch.Tensor:
    counts = Counter(labels)
    raw = torch.tensor([(len(labels) / max(counts[c], 1)) ** power for c in range(n)])
    return raw / raw.mean()


class Batches:
    """Turns example indices into model inputs and targets."""

    def __init__(self, pairs: TokenPairs, tokenizer, max_tokens: int) -> None:
        self.pairs, self.max_tokens = pairs, max_tokens
        self.cls, self.sep, self.pad = tokenizer.cls_token_id, tokenizer.sep_token_id, tokenizer.pad_token_id

    def pair(self, i: int) -> tuple[list[int], int]:
        return pair_ids(
            self.pairs.claim_ids(i), self.pairs.evidence_ids(i), self.cls, self.sep, self.max_tokens
        )

    def __call__(self, items: list[list[int]] | list[int]) -> dict[str, torch.Tensor]:
        idx = [i for group in items for i in group] if items and isinstance(items[0], list) else items
        batch = collate([self.pair(i) for i in idx], self.pad)
        batch["verdict"] = torch.from_numpy(self.pairs.verdict[idx].astype("int64"))
        batch["stance"] = torch.from_numpy(self.pairs.stance[idx].astype("int64"))
        return batch


def _masked_ce(logits: torch.Tensor, targets: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    keep = targets >= 0
    if not keep.any():
        return logits.sum() * 0.0  # keeps the graph: every head gets a (zero) gradient
    return nn.functional.cross_entropy(logits[keep].float(), targets[keep], weight=weight)


@torch.no_grad()
def predict(model: nn.Module, batches: Batches, idx: list[int], cfg: VerifierTrainConfig, device) -> tuple:
    """Verdict and stance logits (float32, CPU) for `idx`, in that order."""
    lengths = [len(batches.pairs.claim_ids(i)) + len(batches.pairs.evidence_ids(i)) for i in idx]
    order = sorted(range(len(idx)), key=lengths.__getitem__)
    verdict = torch.zeros(len(idx), len(NLI_LABELS))
    stance = torch.zeros(len(idx), len(STANCES))
    for lo in range(0, len(order), cfg.eval_batch_size):
        pos = order[lo : lo + cfg.eval_batch_size]
        batch = batches([idx[p] for p in pos])
        inputs = {k: batch[k].to(device) for k in ("input_ids", "attention_mask", "token_type_ids")}
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=cfg.bf16 and device.type == "cuda"):
            v, s = model(**inputs)
        verdict[pos], stance[pos] = v.float().cpu(), s.float().cpu()
    return verdict, stance


def head_metrics(
    logits: torch.Tensor, targets: torch.Tensor, labels: Sequence[str], temperature: float = 1.0
) -> dict:
    keep = targets >= 0
    logits, targets = logits[keep], targets[keep]
    if not len(targets):
        return {}
    probs = (logits / temperature).softmax(-1)
    pred = probs.argmax(-1)
    m = stance_metrics([labels[i] for i in targets], [labels[i] for i in pred], labels)
    cal = calibration(probs.max(-1).values.tolist(), (pred == targets).tolist())
    return {
        "macro_f1": m["macro_f1"],
        "accuracy": m["accuracy"],
        "ece": cal["ece"],
        "per_class": m["per_class"],
    }


def _budget(cfg, run_dir: Path, probe, n_batches: int, val_size: int, resume: bool) -> dict:
    """Epochs (and the share of training batches) that fit `time_budget_seconds`, from a probe
    of a few steps. Decided once per run and kept in the run folder, so --resume agrees."""
    path = run_dir / BUDGET
    if resume and path.is_file():
        return json.loads(path.read_text(encoding="utf-8"))
    decision = {"epochs": cfg.epochs, "batches": n_batches}
    if cfg.time_budget_seconds:
        step, eval_example = probe()
        evals_per_epoch = 1 + n_batches // cfg.eval_every
        epoch = n_batches * step + evals_per_epoch * val_size * eval_example
        epochs = int(max(1, min(cfg.epochs, cfg.time_budget_seconds // max(epoch, 1e-9))))
        share = min(1.0, cfg.time_budget_seconds / max(epoch * epochs, 1e-9))
        decision = {
            "epochs": epochs,
            "batches": max(1, int(n_batches * share)),
            "probe_seconds_per_step": round(step, 4),
            "probe_eval_seconds_per_example": round(eval_example, 6),
            "time_budget_seconds": cfg.time_budget_seconds,
        }
    run_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(decision) + "\n", encoding="utf-8")
    return decision


def _notes(pairs: TokenPairs, idx: dict[str, list[int]], by_source: dict[str, float]) -> list[str]:
    notes = []
    for split, chosen in idx.items():
        counts: dict[str, Counter] = {}
        for i in chosen:
            label = NLI_LABELS[pairs.verdict[i]] if pairs.verdict[i] >= 0 else STANCES[pairs.stance[i]]
            counts.setdefault(pairs.source_of(i), Counter())[label] += 1
        parts = [
            f"{s} {sum(c.values())} ({', '.join(f'{k} {v}' for k, v in sorted(c.items()))})"
            for s, c in sorted(counts.items())
        ]
        notes.append(f"{split} pairs ({len(chosen)}): " + "; ".join(parts) + ".")
    notes.append(
        "Validation accuracy by source, calibrated: "
        + ", ".join(f"{s} {v:.1f}" for s, v in sorted(by_source.items()))
        + "."
    )
    return notes


def _description(m: VerifierConfig, start: Path | None = None) -> str:
    begun = ""
    if start is not None:
        manifest = json.loads((start / "manifest.json").read_text(encoding="utf-8"))
        begun = f" Fine-tuned from the verifier of {manifest['name']} {manifest['version']} ({start})."
    return (
        f"Cross-encoder over '[CLS] claim [SEP] evidence window [SEP]' ({m.max_tokens} tokens; window = "
        f"the top {m.evidence_sentences} article sentences by encoder cosine + {m.lexical_weight} x "
        f"content-word overlap, in article order): LoRA r={m.lora_r} (alpha {m.lora_alpha}) on every "
        f"linear layer of {m.base} from PyPI {m.base_package}=={m.base_package_version} (base not copied; "
        f"sha256 {m.base_sha256[:12]}), mean pooling, two heads: NLI verdict (entailment / neutral / "
        "contradiction = supported / not_found / contradicted) and FNC-1 stance for related pairs "
        "(agree / disagree / discuss), each with a temperature fitted on validation. Checkpoint: the "
        "best mean validation macro-F1 of the two heads." + begun
    )


def train_verifier(cfg: VerifierTrainConfig, *, resume: bool = False, command: str = "") -> Path:
    started = start_run(cfg)
    device = _device(cfg)
    torch.backends.cuda.matmul.allow_tf32 = True
    tokenizer = _tokenizer()
    pairs, pairs_path, build_seconds = prepared_pairs(cfg, tokenizer)
    train_idx = _sample(
        pairs,
        pairs.indices("train"),
        cfg.max_train_per_source,
        cfg.max_train_examples,
        cfg.seed,
        cfg.train_per_source,
    )
    val_idx = _sample(
        pairs,
        pairs.indices("validation"),
        cfg.max_validation_per_source,
        cfg.max_validation_examples,
        cfg.seed,
    )
    base_version, base_sha = base_identity()
    # A fine-tune starts from the artifact's verifier: its shape, its weights; calibration and
    # thresholds are fitted again afterwards.
    start = load_verifier_net(cfg.init_artifact) if cfg.init_artifact else None
    model_cfg = (start.config if start else cfg.model).model_copy(
        update={"base_package_version": base_version, "base_sha256": base_sha}
    )
    batches = Batches(pairs, tokenizer, model_cfg.max_tokens)
    text_len = (pairs.text_offsets[1:] - pairs.text_offsets[:-1]).tolist()
    lengths = {
        i: text_len[pairs.claim[i]]
        + sum(text_len[t] for t in pairs.evidence[pairs.evidence_offsets[i] : pairs.evidence_offsets[i + 1]])
        for i in train_idx
    }
    train_batches = length_batches(train_idx, lengths, cfg.batch_size, cfg.seed)
    power = cfg.class_weight_power
    verdict_w = class_weights([int(pairs.verdict[i]) for i in train_idx if pairs.verdict[i] >= 0], 3, power)
    stance_w = class_weights([int(pairs.stance[i]) for i in train_idx if pairs.stance[i] >= 0], 3, power)
    verdict_w, stance_w = verdict_w.to(device), stance_w.to(device)
    autocast = {
        "device_type": device.type,
        "dtype": torch.bfloat16,
        "enabled": cfg.bf16 and device.type == "cuda",
    }

    torch.manual_seed(cfg.seed)
    net = (start or VerifierNet(model_cfg)).to(device)

    def loss(model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        inputs = {
            k: batch[k].to(device, non_blocking=True)
            for k in ("input_ids", "attention_mask", "token_type_ids")
        }
        with torch.autocast(**autocast):
            v, s = model(**inputs)
        stance = _masked_ce(s, batch["stance"].to(device), stance_w)
        return _masked_ce(v, batch["verdict"].to(device), verdict_w) + cfg.stance_loss_weight * stance

    val_verdict = torch.from_numpy(pairs.verdict[val_idx].astype("int64"))
    val_stance = torch.from_numpy(pairs.stance[val_idx].astype("int64"))

    def evaluate(model: nn.Module) -> dict[str, float]:
        v, s = predict(model, batches, val_idx, cfg, device)
        mv, ms = head_metrics(v, val_verdict, NLI_LABELS), head_metrics(s, val_stance, STANCES)
        out = {f"verdict_{k}": mv[k] for k in ("macro_f1", "accuracy")} if mv else {}
        if ms:
            out |= {f"stance_{k}": ms[k] for k in ("macro_f1", "accuracy")}
            out["stance_f1_disagree"] = ms["per_class"]["disagree"]["f1"]
        heads = [out[k] for k in ("verdict_macro_f1", "stance_macro_f1") if k in out]
        return out | {"score": sum(heads) / max(len(heads), 1)}

    def probe() -> tuple[float, float]:
        """Seconds per training step and per validation example, measured on a few batches."""
        sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
        net.train()
        timed = train_batches[:8]
        warm = min(3, len(timed) - 1)  # the first steps pay for kernel selection and allocation
        t0 = time.perf_counter()
        for n, group in enumerate(timed):
            if n == warm:
                sync()
                t0 = time.perf_counter()
            loss(net, batches(group)).backward()
        sync()
        step = (time.perf_counter() - t0) / max(len(timed) - warm, 1)
        net.zero_grad(set_to_none=True)
        net.eval()
        sample = random.Random(cfg.seed).sample(val_idx, min(len(val_idx), 4 * cfg.eval_batch_size))
        t0 = time.perf_counter()
        predict(net, batches, sample, cfg, device)
        sync()
        return step, (time.perf_counter() - t0) / max(len(sample), 1)

    decision = _budget(cfg, cfg.run_dir, probe, len(train_batches), len(val_idx), resume)
    torch.manual_seed(cfg.seed)  # the probe drew dropout masks
    train_batches = train_batches[: decision["batches"]]  # already shuffled: a prefix is a sample
    fit_cfg = cfg.model_copy(update={"epochs": decision["epochs"], "batch_size": 1})  # one item = one batch
    result = fit(
        Task(net, train_batches, batches, loss, evaluate, "score", trainable_only=True),
        fit_cfg,
        resume=resume,
    )
    net.load_state_dict(result.best_state, strict=False)
    net.eval()

    v, s = predict(net, batches, val_idx, cfg, device)
    temps, calibrated = {}, {}
    for head, logits, targets, labels in (
        ("verdict", v, val_verdict, NLI_LABELS),
        ("stance", s, val_stance, STANCES),
    ):
        keep = targets >= 0
        temps[head] = round(fit_temperature(logits[keep], targets[keep]), 4) if keep.any() else 1.0
        before, after = (
            head_metrics(logits, targets, labels),
            head_metrics(logits, targets, labels, temps[head]),
        )
        calibrated[head] = {"ece_before": before.get("ece"), "ece_after": after.get("ece")} | {
            f"f1_{lab}": round(c["f1"], 2) for lab, c in after.get("per_class", {}).items()
        }
    model_cfg = model_cfg.model_copy(
        update={"verdict_temperature": temps["verdict"], "stance_temperature": temps["stance"]}
    )
    net.config = model_cfg
    by_source: dict[str, float] = {}
    for src in sorted({pairs.source_of(i) for i in val_idx}):
        rows = [n for n, i in enumerate(val_idx) if pairs.source_of(i) == src]
        head, target = (v, val_verdict) if val_verdict[rows[0]] >= 0 else (s, val_stance)
        by_source[src] = 100.0 * float((head[rows].argmax(-1) == target[rows]).float().mean())

    record = training_record(
        cfg.model_copy(update={"epochs": decision["epochs"]}),
        result,
        description=_description(model_cfg, cfg.init_artifact),
        command=command,
        data={
            "train": {"path": str(pairs_path), "sha256": file_sha256(pairs_path), "examples": len(train_idx)},
            "validation": {
                "path": str(pairs_path),
                "sha256": file_sha256(pairs_path),
                "examples": len(val_idx),
            },
            **{
                f"also trained on ({n})": {"path": str(f), "sha256": file_sha256(f)}
                for n, f in enumerate(cfg.extra_pairs_files, 2)
            },
        },
        encode_seconds=build_seconds,
        started=started,
        device=str(device) + (f" ({torch.cuda.get_device_name()})" if device.type == "cuda" else ""),
        bf16=autocast["enabled"],
        schedule=decision,
        sources=pairs.meta,
        trainable_parameters=sum(p.numel() for p in net.parameters() if p.requires_grad),
        verdict_temperature=temps["verdict"],
        stance_temperature=temps["stance"],
        calibration=calibrated,
        validation_by_source={k: round(x, 2) for k, x in by_source.items()},
        notes=_notes(pairs, {"train": train_idx, "validation": val_idx}, by_source),
    )
    state = {k: t.cpu() for k, t in net.trained_state().items()}
    return write_component(cfg, COMPONENT, state, model_cfg, record)
