"""Extractive summarizer with a fine-tuned encoder, after BertSumExt (Liu & Lapata, 2019).

The frozen scorer (extractive.py) sees one vector per sentence, made before anything knew the
article. Here all-MiniLM-L6-v2, with LoRA adapters, reads the article's tokens together: its
sentences are packed whole into windows of `window_tokens`, each as "[CLS] sentence [SEP]" with
alternating segment ids (BertSumExt's interval segments). A sentence's vector is the mean of its
tokens' hidden states, and the inter-sentence Transformer of extractive.py scores the article's
sentences across windows. Every sentence is scored: a long article takes more windows, never a
cut (a sentence longer than a window is read by its first `max_sentence_tokens` tokens).

The tokenizer is uncased, so cased and lower-cased text read alike. Nothing here knows about
HTTP or training.
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
from opslens.model.encoder import encoder_path
from opslens.model.extractive import ExtractiveConfig, ExtractiveScorer, pad_documents
from opslens.model.lora import AdapterConfig, check_base, served_encoder
from opslens.model.options import DEFAULT_BACKEND, Backend

if TYPE_CHECKING:
    from opslens.model.onnx_adapted import OnnxHidden  # imports onnxruntime: the onnx extra only

COMPONENT = "extractive_encoder"


class ExtractiveEncoderConfig(AdapterConfig):
    window_tokens: int = 256
    max_sentence_tokens: int = 128
    context_tokens: int = 0  # of the sentences before a window, read at its start, not scored there
    scorer: ExtractiveConfig = ExtractiveConfig()


@dataclass
class Windows:
    """A batch of articles as encoder windows, and where each sentence lies in them."""

    input_ids: torch.Tensor  # [W, T]
    attention_mask: torch.Tensor
    token_type_ids: torch.Tensor
    pool: torch.Tensor  # [S, W*T]: row s averages sentence s's tokens
    sentences: list[int]  # per article, its number of sentences (S = their sum)


def pack_windows(
    articles: Sequence[Sequence[Sequence[int]]],
    cls_id: int,
    sep_id: int,
    pad_id: int,
    window_tokens: int,
    max_sentence_tokens: int,
    context_tokens: int = 0,
) -> Windows:
    """Pack each article's tokenized sentences, whole and in order, into windows; an article's
    windows are its own (no window mixes two articles). Every window after an article's first
    opens with up to `context_tokens` of the sentences before it, read but not scored there: the
    encoder learns that a window's first sentences are an article's lead, and without this
    context the first sentences of every later window would look like one."""
    windows: list[tuple[list[int], list[int]]] = []
    spans: list[tuple[int, int, int]] = []  # per sentence: window, start, end
    budget = min(max_sentence_tokens, window_tokens - 2)
    for article in articles:
        pieces = [[cls_id, *sentence[:budget], sep_id] for sentence in article]
        i = 0  # the first sentence the next window scores
        while i < len(pieces):
            first = i  # the first sentence it reads
            while first > 0 and sum(map(len, pieces[first - 1 : i])) <= context_tokens:
                first -= 1
            if sum(map(len, pieces[first : i + 1])) > window_tokens:
                first = i  # no room for context beside a long sentence
            ids: list[int] = []
            types: list[int] = []
            scored = 0
            for k in range(first, len(pieces)):
                if k >= i:
                    if scored and len(ids) + len(pieces[k]) > window_tokens:
                        break
                    spans.append((len(windows), len(ids), len(ids) + len(pieces[k])))
                    scored += 1
                types += [(k + 1) % 2] * len(pieces[k])
                ids += pieces[k]
            windows.append((ids, types))
            i += scored
    width = max(len(ids) for ids, _ in windows)
    input_ids = torch.full((len(windows), width), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((len(windows), width), dtype=torch.long)
    token_type_ids = torch.zeros((len(windows), width), dtype=torch.long)
    for w, (ids, types) in enumerate(windows):
        input_ids[w, : len(ids)] = torch.tensor(ids)
        attention_mask[w, : len(ids)] = 1
        token_type_ids[w, : len(ids)] = torch.tensor(types)
    pool = torch.zeros((len(spans), len(windows) * width))
    for s, (w, lo, hi) in enumerate(spans):
        pool[s, w * width + lo : w * width + hi] = 1.0 / (hi - lo)
    return Windows(input_ids, attention_mask, token_type_ids, pool, [len(a) for a in articles])


class ExtractiveEncoderNet(nn.Module):
    """The adapted (training) or merged (inference) encoder, then the inter-sentence scorer."""

    def __init__(self, config: ExtractiveEncoderConfig, encoder: nn.Module | OnnxHidden) -> None:
        super().__init__()
        self.config = config
        self.encoder = encoder
        self.scorer = ExtractiveScorer(config.scorer)

    def forward(self, windows: Windows) -> torch.Tensor:
        """Sentence logits [B, N] (-inf past each article's last sentence)."""
        hidden = self.encoder(
            input_ids=windows.input_ids,
            attention_mask=windows.attention_mask,
            token_type_ids=windows.token_type_ids,
        ).last_hidden_state
        vectors = windows.pool @ hidden.reshape(-1, hidden.shape[-1])
        padded, mask = pad_documents(list(torch.split(vectors, windows.sentences)))
        return self.scorer(padded, mask)


def read_component(folder: Path) -> tuple[dict[str, torch.Tensor], ExtractiveEncoderConfig]:
    """An artifact's extractive encoder weights (checked, fp16) and config; refused when it was
    trained on other base weights than the installed ones."""
    state, config = load_component_state(folder, COMPONENT, ExtractiveEncoderConfig)
    check_base("extractive encoder", config.base_sha256, config.base_package)
    return state, config


def tokenizer() -> PreTrainedTokenizerBase:
    return AutoTokenizer.from_pretrained(encoder_path(), local_files_only=True)


class ExtractiveEncoder:
    """The served model: sentence scores for whole articles."""

    def __init__(self, net: ExtractiveEncoderNet, tok: PreTrainedTokenizerBase) -> None:
        self.net = net.eval()
        self.tok = tok

    @classmethod
    def load(
        cls,
        folder: Path,
        *,
        backend: Backend = DEFAULT_BACKEND,
        cache_dir: Path | None = None,
        threads: int | None = None,
    ) -> ExtractiveEncoder:
        """From an artifact folder: the adapters merged into the installed base (no peft); with
        the onnx backend, an int8 ONNX Runtime copy of that (built and cached on first use)."""
        state, config = read_component(folder)
        encoder = served_encoder(
            folder,
            COMPONENT,
            state,
            config.lora_r,
            config.lora_alpha,
            backend=backend,
            cache_dir=cache_dir,
            threads=threads,
        )
        net = ExtractiveEncoderNet(config, encoder)
        scorer = {k.removeprefix("scorer."): v.float() for k, v in state.items() if k.startswith("scorer.")}
        try:
            net.scorer.load_state_dict(scorer)
        except RuntimeError as exc:
            raise ArtifactError(f"extractive encoder weights do not fit its config: {exc}") from exc
        return cls(net, tokenizer())

    def windows(self, articles: Sequence[Sequence[str]]) -> Windows:
        return article_windows(self.tok, articles, self.net.config)

    @torch.inference_mode()
    def scores(self, articles: Sequence[Sequence[str]]) -> list[list[float]]:
        """P(summary-worthy) of every sentence of each article (articles without sentences: [])."""
        todo = [i for i, a in enumerate(articles) if a]
        out: list[list[float]] = [[] for _ in articles]
        if not todo:
            return out
        probs = torch.sigmoid(self.net(self.windows([articles[i] for i in todo])))
        for row, i in zip(probs, todo, strict=True):
            out[i] = row[: len(articles[i])].tolist()
        return out


def article_windows(
    tok: PreTrainedTokenizerBase, articles: Sequence[Sequence[str]], config: ExtractiveEncoderConfig
) -> Windows:
    """Tokenize articles' sentences (one call for all) and pack them into windows."""
    flat = [s for a in articles for s in a]
    ids = tok(flat, add_special_tokens=False)["input_ids"] if flat else []
    per_article, pos = [], 0
    for a in articles:
        per_article.append(ids[pos : pos + len(a)])
        pos += len(a)
    return pack_windows(
        per_article,
        tok.cls_token_id,
        tok.sep_token_id,
        tok.pad_token_id,
        config.window_tokens,
        config.max_sentence_tokens,
        config.context_tokens,
    )
