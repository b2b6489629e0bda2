"""The fine-tuned extractive encoder: windows over whole sentences, every sentence scored, the
served (merged) model equal to the trained (peft) one, training that writes a served component."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from opslens.cli import main
from opslens.model.artifact import SHIPPED_ARTIFACT, ArtifactError, load_component_state
from opslens.model.extractive_encoder import (
    COMPONENT,
    ExtractiveEncoder,
    ExtractiveEncoderConfig,
    ExtractiveEncoderNet,
    pack_windows,
)
from opslens.model.text import parse_document
from opslens.training.extractive_encoder import _selected

CLS, SEP, PAD = 101, 102, 0


def _sentence(n: int, start: int) -> list[int]:
    return list(range(start, start + n))


def test_sentences_are_packed_whole_in_order_and_pooled() -> None:
    articles = [[_sentence(n, 1000 + 10 * i) for i, n in enumerate([5, 7, 3, 6])], [_sentence(4, 2000)]]
    w = pack_windows(articles, CLS, SEP, PAD, window_tokens=16, max_sentence_tokens=12)
    assert w.sentences == [4, 1]
    # With markers the sentences take 7, 9, 5 and 8 tokens: windows [s0 s1] (16), [s2 s3], [article 2].
    assert w.input_ids.shape == (3, 16)
    assert (w.attention_mask.sum(1) <= 16).all()
    width = w.input_ids.shape[1]
    flat = w.input_ids.reshape(-1)
    for s, sentence in enumerate([*articles[0], *articles[1]]):
        row = w.pool[s]
        assert torch.isclose(row.sum(), torch.tensor(1.0))
        tokens = flat[row > 0].tolist()
        assert tokens == [CLS, *sentence, SEP]  # whole, with its markers, in one window
        windows = {int(i) // width for i in torch.nonzero(row).flatten()}
        assert len(windows) == 1
    # The second article starts a window of its own.
    assert w.input_ids[2, :6].tolist() == [CLS, *articles[1][0], SEP]
    # Interval segments: neighbouring sentences get different segment ids.
    seg = [int(w.token_type_ids.reshape(-1)[torch.nonzero(w.pool[s]).flatten()[0]]) for s in range(4)]
    assert seg[0] != seg[1] and seg[1] != seg[2] and seg[2] != seg[3]


def test_later_windows_open_with_context_that_is_read_but_not_scored() -> None:
    article = [_sentence(n, 1000 + 100 * i) for i, n in enumerate([6, 6, 6, 6, 6, 6])]  # 8 tokens each
    w = pack_windows([article], CLS, SEP, PAD, window_tokens=24, max_sentence_tokens=12, context_tokens=8)
    width = w.input_ids.shape[1]
    owner = [int(torch.nonzero(w.pool[s]).flatten()[0]) // width for s in range(len(article))]
    assert owner == [0, 0, 0, 1, 1, 2]  # each sentence scored once, in order
    assert (w.attention_mask.sum(1) <= 24).all()
    # Window 1 opens with sentence 2 (context, read not scored), then scores sentences 3 and 4.
    assert w.input_ids[1, :8].tolist() == [CLS, *article[2], SEP]
    assert w.pool[:, width : width + 8].abs().sum() == 0
    assert w.input_ids[2, :8].tolist() == [CLS, *article[4], SEP]


def test_a_long_sentence_is_read_by_its_first_tokens_and_still_scored() -> None:
    articles = [[_sentence(3, 1000), _sentence(40, 1100), _sentence(2, 1200)]]
    w = pack_windows(articles, CLS, SEP, PAD, window_tokens=16, max_sentence_tokens=12)
    assert w.pool.shape[0] == 3
    flat = w.input_ids.reshape(-1)
    assert flat[w.pool[1] > 0].tolist() == [CLS, *range(1100, 1112), SEP]


def test_selection_labels_are_the_sentences_the_summary_holds() -> None:
    sentences = [
        "Quarterly profits at the firm jumped 76% to $1.13bn.",
        "It was a cold day in the city centre.",
        "The firm is now one of the biggest investors in Google.",
    ]
    glued = sentences[0] + sentences[2]  # BBC News Summary glues its sentences together
    assert _selected(sentences, glued) == [0, 2]


def _peft_net(state: dict[str, torch.Tensor], config: ExtractiveEncoderConfig) -> ExtractiveEncoderNet:
    from opslens.model.lora import adapted, load_base

    net = ExtractiveEncoderNet(config, adapted(load_base(), config.lora_r, config.lora_alpha, 0.0))
    missing = net.load_state_dict({k: v.float() for k, v in state.items()}, strict=False).missing_keys
    assert all(".lora_" not in k and not k.startswith("scorer.") for k in missing)
    return net.eval()


@pytest.mark.slow
def test_shipped_model_serves_the_finetuned_encoder_on_whole_articles(torch_model, example_text: str) -> None:
    assert torch_model.extractor is not None and torch_model.info.extractive.startswith("fine-tuned")
    sentences = [s.normalized for s in parse_document(example_text).sentences]
    long_article = sentences * 4  # several windows
    windows = torch_model.extractor.windows([long_article])
    assert windows.input_ids.shape[0] > 2
    scores = torch_model.extractor.scores([long_article, [], sentences])
    assert [len(s) for s in scores] == [len(long_article), 0, len(sentences)]
    # Served with its adapters merged by hand: the same scores as peft's adapted network.
    state, config = load_component_state(SHIPPED_ARTIFACT, COMPONENT, ExtractiveEncoderConfig)
    with torch.no_grad():
        reference = torch.sigmoid(_peft_net(state, config)(torch_model.extractor.windows([sentences])))[0]
    assert torch.allclose(torch.tensor(scores[2]), reference, atol=1e-4)
    # The tokenizer is uncased: a lower-cased copy of the article reads the same.
    lowered = torch_model.extractor.scores([[s.lower() for s in sentences]])[0]
    assert torch.allclose(torch.tensor(lowered), torch.tensor(scores[2]), atol=1e-6)


@pytest.mark.slow
def test_a_changed_weights_file_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "artifact"
    shutil.copytree(SHIPPED_ARTIFACT, folder)
    weights = folder / f"{COMPONENT}.safetensors"
    data = bytearray(weights.read_bytes())
    data[-10] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(ArtifactError, match="checksum mismatch"):
        ExtractiveEncoder.load(folder)


@pytest.mark.slow
def test_training_writes_a_served_component_and_resumes(tmp_path: Path, tiny_data) -> None:
    out = tmp_path / "artifact"
    shutil.copytree(SHIPPED_ARTIFACT, out)
    for suffix in ("json", "safetensors"):
        (out / f"{COMPONENT}.{suffix}").unlink()
    bbc = tmp_path / "bbc.jsonl"
    rows = [
        {"article": a, "summary": " ".join(s.split("\n")), "split": split}
        for (a, s), split in zip(tiny_data.articles, ["train", "validation"] * 10, strict=False)
    ]
    bbc.write_text("".join(json.dumps(r) + "\n" for r in rows))
    config = tmp_path / "config.json"
    config.write_text(
        json.dumps(
            {
                "train_file": str(tiny_data.news),
                "validation_file": str(tiny_data.news),
                "selection_file": str(bbc),
                "run_dir": str(tmp_path / "run"),
                "output_dir": str(out),
                "epochs": 2,
                "batch_size": 2,
                "checkpoint_every": 1,
                "eval_every": 2,
                "max_train_tokens": 64,
                "model": {"window_tokens": 64, "lora_r": 4, "lora_alpha": 8},
            }
        )
    )
    assert main(["train", "extractive-encoder", "--config", str(config)]) == 0
    assert main(["train", "extractive-encoder", "--config", str(config), "--resume"]) == 0
    log = [json.loads(line) for line in (tmp_path / "run" / "train_log.jsonl").read_text().splitlines()]
    resumed = [r for r in log if r["event"] == "resume"]
    assert resumed and resumed[0]["step"] > 0
    meta = json.loads((out / f"{COMPONENT}.json").read_text())
    assert meta["training"]["data"]["selection"]["examples"] >= 1
    assert {"rouge1", "selection_rouge1", "score"} <= set(meta["training"]["metrics"])

    from opslens.model.pipeline import OpsLens

    served = OpsLens.load(out, verifier=False)
    assert served.extractor is not None and served.extractor.net.config.window_tokens == 64
    article = tiny_data.articles[0][0]
    result = served.analyze(article, max_sentences=2)
    assert 1 <= len(result.sentences) <= 2
    frozen = OpsLens.load(out, verifier=False, extractor="frozen")
    assert frozen.extractor is None and frozen.info.extractive.startswith("frozen")


@pytest.mark.slow
def test_training_continues_from_an_artifacts_encoder(tmp_path: Path, tiny_data) -> None:
    """`init_artifact` starts from that artifact's adapters and scorer, in its shape: at lr 0 the
    written weights are the ones it started from, and the start is evaluated before any step
    (a continued run ships a checkpoint only if it beats it)."""
    out = tmp_path / "artifact"
    shutil.copytree(SHIPPED_ARTIFACT, out)
    config = tmp_path / "config.json"
    config.write_text(
        json.dumps(
            {
                "train_file": str(tiny_data.news),
                "validation_file": str(tiny_data.news),
                "init_artifact": str(SHIPPED_ARTIFACT),
                "run_dir": str(tmp_path / "run"),
                "output_dir": str(out),
                "epochs": 1,
                "batch_size": 2,
                "lr": 0.0,
                "eval_every": 2,
                "max_train_tokens": 64,
                "model": {"window_tokens": 64, "lora_r": 4},  # replaced by the artifact's
            }
        )
    )
    assert main(["train", "extractive-encoder", "--config", str(config)]) == 0
    before, shipped = load_component_state(SHIPPED_ARTIFACT, COMPONENT, ExtractiveEncoderConfig)
    after, written = load_component_state(out, COMPONENT, ExtractiveEncoderConfig)
    assert before.keys() == after.keys()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert (written.lora_r, written.window_tokens) == (shipped.lora_r, shipped.window_tokens)
    meta = json.loads((out / f"{COMPONENT}.json").read_text())
    assert meta["training"]["init_artifact"].startswith(str(SHIPPED_ARTIFACT))
    log = [json.loads(line) for line in (tmp_path / "run" / "train_log.jsonl").read_text().splitlines()]
    assert next(r["step"] for r in log if r["event"] == "eval") == 0


@pytest.mark.slow
def test_onnx_backend_serves_an_int8_copy_cached_by_its_weights(
    tmp_path: Path, model, example_text: str
) -> None:
    from opslens.model.artifact import component_sha256
    from opslens.model.onnx_adapted import MODEL_FILE, OnnxHidden
    from opslens.model.onnx_encoder import EncoderCacheError

    fast = ExtractiveEncoder.load(SHIPPED_ARTIFACT, backend="onnx", cache_dir=tmp_path, threads=1)
    assert isinstance(fast.net.encoder, OnnxHidden)
    graph = tmp_path / f"{COMPONENT}-{component_sha256(SHIPPED_ARTIFACT, COMPONENT)[:16]}" / MODEL_FILE
    assert graph.is_file()
    sentences = [s.normalized for s in parse_document(example_text).sentences]
    ref, got = torch.tensor(model.extractor.scores([sentences])[0]), torch.tensor(fast.scores([sentences])[0])
    assert float((ref - got).abs().max()) < 0.03
    assert ref.topk(3).indices.sort().values.tolist() == got.topk(3).indices.sort().values.tolist()
    data = bytearray(graph.read_bytes())
    data[len(data) // 2] ^= 0xFF
    graph.write_bytes(bytes(data))
    with pytest.raises(EncoderCacheError, match="corrupt"):
        ExtractiveEncoder.load(SHIPPED_ARTIFACT, backend="onnx", cache_dir=tmp_path)


@pytest.mark.slow
def test_sentence_vectors_are_computed_only_when_something_reads_them(
    model, example_text: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    encoded: list[int] = []
    encode = model.encoder.encode

    def counting(texts):
        encoded.append(len(texts))
        return encode(texts)

    monkeypatch.setattr(model.encoder, "encode", counting)
    plain = model.analyze(example_text)  # fine-tuned extractor, no title or claims: no vectors
    titled = model.analyze(example_text, title="Russia claims gains near Bakhmut")
    n = len(parse_document(example_text).sentences)
    assert encoded[0] == 0 and n + 1 in encoded[1:]
    assert [s.index for s in plain.sentences] == [s.index for s in titled.sentences]
    assert titled.title_stance is not None
