"""Typed training configs. A run is described by a JSON file; CLI flags override fields."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from opslens.model.adapter import AbstractiveConfig
from opslens.model.extractive import ExtractiveConfig
from opslens.model.extractive_encoder import ExtractiveEncoderConfig
from opslens.model.options import DEFAULT_MAX_SENTENCES
from opslens.model.stance import StanceConfig
from opslens.model.verifier import VerifierConfig


class TrainConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    train_file: Path
    validation_file: Path
    run_dir: Path  # checkpoints, logs and the embedding cache
    output_dir: Path  # the artifact folder the trained component is written into
    artifact_name: str = "opslens-v1"
    artifact_version: str = "1.0.0"
    seed: int = 13
    epochs: int = 10
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 0.01
    warmup_ratio: float = 0.05
    checkpoint_every: int = 200  # optimizer steps
    eval_every: int = 500  # optimizer steps; also at the end of each epoch
    log_every: int = 50  # optimizer steps between train-loss log lines
    max_train_examples: int | None = None
    max_steps: int | None = None  # stop after this many optimizer steps (the schedule decays to 0 there)
    max_validation_examples: int | None = None
    encode_batch_size: int = 64
    threads: int | None = None
    # What the run writes: the checkpoint with the best validation metric, the weights at the
    # end of the schedule (its learning rate decays to 0 there), validated once more, or the mean
    # of the weights at the last `average_last` evaluations (checkpoint averaging), validated too.
    keep: Literal["best", "last", "average"] = "best"
    average_last: int = Field(default=3, ge=2)


class ExtractiveTrainConfig(TrainConfig):
    article_field: str = "article"
    summary_field: str = "summary"
    oracle_sentences: int = 3
    summary_sentences: int = DEFAULT_MAX_SENTENCES  # sentences selected when scoring validation ROUGE
    max_article_sentences: int = 128  # training only; inference reads whole articles
    model: ExtractiveConfig = ExtractiveConfig()


class ExtractiveEncoderTrainConfig(TrainConfig):
    """train_file / validation_file: (article, reference summary) pairs, labelled by the greedy
    oracle. `selection_file`: articles whose summaries are selections of their own sentences (BBC
    News Summary), its rows of split "train" labelled by which sentences the summary holds."""

    article_field: str = "article"
    summary_field: str = "summary"
    selection_file: Path | None = None
    split_field: str = "split"
    selection_repeat: int = 1  # times each selection article is seen per epoch
    oracle_sentences: int = 3
    summary_sentences: int = DEFAULT_MAX_SENTENCES
    # Training reads each article's first sentences up to this many tokens (BertSumExt read
    # 512); inference reads whole articles in as many windows as they take.
    max_train_tokens: int = 512
    eval_batch_size: int = 16
    bf16: bool = False  # autocast the training steps (CPUs with AVX512-BF16/AMX: ~1.4x faster)
    # Continue from this artifact's extractive encoder (its shape and weights replace `model`'s);
    # its validation score is the one a checkpoint must beat to ship.
    init_artifact: Path | None = None
    model: ExtractiveEncoderConfig = ExtractiveEncoderConfig()


class StanceTrainConfig(TrainConfig):
    headline_field: str = "headline"
    body_field: str = "body"
    label_field: str = "stance"
    # FNC-1 is 73% unrelated, 2% disagree: weight the loss by inverse class frequency^power.
    class_weight_power: float = 0.5
    class_weighting: Literal["frequency", "none"] = "frequency"
    # "story": pool the train and validation files and hold out whole stories (see
    # training.data.story_split); "file": use the validation file as given.
    validation_split: Literal["story", "file"] = "story"
    story_validation_fraction: float = 0.1
    model: StanceConfig = StanceConfig()


class AbstractiveTrainConfig(TrainConfig):
    article_field: str = "article"
    summary_field: str = "summary"
    max_summary_tokens: int = 128  # reference tokens kept as the target
    # Skip training pairs whose reference states a number, date or name the article lacks.
    drop_unsupported_references: bool = False
    # v2 prompts quote the best-scored sentences: scored by this artifact's extractive model
    # (None: the lead), with the reference's greedy-oracle sentences (this many) put first.
    selector_artifact: Path | None = None
    oracle_sentences: int = 3
    bf16: bool = False  # autocast the training steps (CPUs with AVX512-BF16/AMX)
    base_cache: Path | None = None  # where the float base is prepared (default: ~/.cache/opslens)
    # Continue from this artifact's abstractive adapter (its LoRA shape and prompt replace
    # `model`'s), so a run on new pairs adds to what an earlier run learned.
    init_adapter: Path | None = None
    model: AbstractiveConfig = AbstractiveConfig()


class VerifierTrainConfig(TrainConfig):
    """train_file / validation_file are FNC-1's (stance pairs; bodies for synthetic claims)."""

    description: str = ""  # what the config is for, and the arithmetic behind its sizes
    nli_file: Path | None = None  # premise/hypothesis/label pairs (verdict head)
    article_files: list[Path] = []  # more training articles for synthetic claims (rows split "train")
    article_field: str = "article"
    split_field: str = "split"  # rows "validation" give validation articles, other values are unused
    headline_field: str = "headline"
    body_field: str = "body"
    label_field: str = "stance"
    pairs_file: Path | None = None  # the built, tokenised pairs (default run_dir/pairs.npz)
    nli_validation_fraction: float = 0.05  # held out by premise, so no premise is in both
    validation_split: Literal["story", "file"] = "story"  # FNC-1, as for the stance head
    story_validation_fraction: float = 0.1
    unrelated_per_related: float = 0.3  # FNC-1 unrelated pairs kept as not_found examples
    synthetic_supported: int = 2  # per article: the sentence itself, a light paraphrase
    synthetic_contradicted: int = 2  # per article: names, numbers, negation, antonym edits
    synthetic_not_found: int = 1  # per article: a sentence of another article
    # Reference summaries (training/verifier_summaries.py): files of article + summary rows.
    summary_field: str = "summary"
    summary_train_file: Path | None = None
    summary_validation_file: Path | None = None
    summary_articles: int | None = None  # sampled from the train file
    summary_validation_articles: int | None = None
    summary_article_sentences: int = 20  # the article is its first sentences; support is judged on them
    summary_min_support: float = 0.9  # share of a highlight's content words its article must use
    summary_contradicted: int = 2  # per article: highlights given a name, number, negation or antonym edit
    summary_not_found: int = 1  # per article: a highlight of another article
    casing_files: list[Path] = []  # cased articles whose spelling gives lower-cased summary data capitals
    # Which kinds of pairs the builder makes: a fine-tune of a shipped verifier may build only
    # the new kind and train on the earlier run's pairs file beside it (extra_pairs_files).
    parts: list[Literal["nli", "fnc1", "articles", "summaries"]] = ["nli", "fnc1", "articles", "summaries"]
    extra_pairs_files: list[Path] = []
    init_artifact: Path | None = None  # start from this artifact's verifier (its config and weights)
    max_train_per_source: int | None = None  # cap each source's training pairs, so a small new one counts
    train_per_source: dict[str, int] = {}  # other caps for named sources ("fnc1:related": the stance head's)
    max_validation_per_source: int | None = None
    class_weight_power: float = 0.5  # stance: FNC-1 has 10x more discuss than disagree
    stance_loss_weight: float = 1.0
    device: Literal["auto", "cpu", "cuda"] = "auto"
    bf16: bool = False  # autocast on cuda
    eval_batch_size: int = 128
    time_budget_seconds: float | None = None  # fewer epochs (or examples) when a probe says so
    model: VerifierConfig = VerifierConfig()


def load_config(cls: type[TrainConfig], path: Path | None, overrides: dict) -> TrainConfig:
    data = json.loads(Path(path).read_text(encoding="utf-8")) if path else {}
    data.update({k: v for k, v in overrides.items() if v is not None})
    return cls.model_validate(data)
