"""The claim verifier: evidence windows, pair building, the pairs file, the component's round
trip, the transport bundle and the data builder. Fast tests use a tiny random BERT; the ones
that load the real base are marked slow."""

from __future__ import annotations

import gzip
import hashlib
import json
import random
from pathlib import Path

import pytest
import torch
from transformers import AutoTokenizer, BertConfig, BertModel

from opslens.model.artifact import ArtifactError, init_artifact, load_component_state, save_component_state
from opslens.model.encoder import encoder_path
from opslens.model.evidence import EvidenceWindow, select_window
from opslens.model.lora import base_identity
from opslens.model.verifier import (
    COMPONENT,
    ClaimVerifier,
    VerifierConfig,
    VerifierNet,
    collate,
    pair_ids,
)
from opslens.training.config import VerifierTrainConfig
from opslens.training.verifier import class_weights, length_batches
from opslens.training.verifier_pairs import Pair, load_pairs, save_pairs, tokenize_pairs

SENTENCES = [
    "Russian forces suffered heavy losses around Bakhmut.",
    "The weather in the region was cold and wet.",
    "Ukraine said its troops held their positions near Vuhledar.",
    "Officials in Kyiv gave no casualty figures.",
]


def tiny_base(seed: int = 0) -> BertModel:
    torch.manual_seed(seed)
    cfg = BertConfig(
        vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64
    )
    return BertModel(cfg, add_pooling_layer=False).eval()


def tiny_net(config: VerifierConfig | None = None) -> VerifierNet:
    torch.manual_seed(1)
    return VerifierNet(config or VerifierConfig(lora_r=4, lora_alpha=8), base=tiny_base())


class WordEncoder:
    """A stand-in sentence encoder: hashed bag of words, unit length."""

    dim = 64

    def encode(self, texts: list[str]) -> torch.Tensor:
        out = torch.zeros(len(texts), self.dim)
        for i, text in enumerate(texts):
            for word in text.lower().split():
                out[i, int(hashlib.md5(word.strip(".,").encode()).hexdigest(), 16) % self.dim] += 1
        return torch.nn.functional.normalize(out, dim=-1)


@pytest.fixture(scope="module")
def tokenizer():
    tok = AutoTokenizer.from_pretrained(encoder_path(), local_files_only=True)
    tok.model_max_length = 1 << 30
    return tok


def window(claim: str, lengths: list[int], claim_tokens: int = 10, **kw) -> EvidenceWindow:
    enc = WordEncoder()
    return select_window(
        claim, enc.encode([claim])[0], SENTENCES, enc.encode(SENTENCES), lengths, claim_tokens, **kw
    )


def test_window_in_article_order_best_first_by_score() -> None:
    w = window("Ukraine troops held positions near Vuhledar", [10] * 4, k=2)
    assert w.indices == tuple(sorted(w.indices)) and len(w.indices) == 2
    assert w.best == 2
    assert w.text(SENTENCES).startswith(SENTENCES[w.indices[0]])


def test_window_respects_the_token_budget_but_keeps_the_best() -> None:
    # 256 - 3 special - 10 claim = 243 tokens of room: the best (200) fits, no other 100 does.
    assert window("Ukraine troops held positions near Vuhledar", [100, 100, 200, 100]).indices == (2,)
    assert window("Ukraine troops held positions near Vuhledar", [100, 100, 900, 100]).indices == (2,)
    assert select_window("x", torch.zeros(4), [], torch.zeros(0, 4), [], 1) == EvidenceWindow((), ())


def test_pair_ids_cut_the_claim_to_half_then_the_evidence() -> None:
    ids, first = pair_ids(list(range(10, 200)), list(range(300, 600)), 101, 102, 64)
    assert len(ids) == 64 and first == 34 and ids[0] == 101 and ids[first - 1] == 102 and ids[-1] == 102
    batch = collate([(ids, first), ([101, 5, 102, 6, 102], 3)], pad_id=0)
    assert batch["input_ids"].shape == (2, 64)
    assert batch["token_type_ids"][1].tolist()[:6] == [0, 0, 0, 1, 1, 0]
    assert batch["attention_mask"][1].sum() == 5


def test_pairs_file_round_trip(tmp_path: Path, tokenizer) -> None:
    pairs = [
        Pair("claim one", (SENTENCES[0], SENTENCES[2]), 0, -1, "synthetic:sentence", "train"),
        Pair("claim two", (SENTENCES[2],), -1, 1, "fnc1:related", "validation"),
    ]
    tok = lambda texts: tokenizer(texts, add_special_tokens=False)["input_ids"]  # noqa: E731
    path = tmp_path / "pairs.npz"
    save_pairs(path, tokenize_pairs(pairs, tok, {"seed": 1}))
    back = load_pairs(path)
    assert len(back) == 2 and back.meta["seed"] == 1
    assert back.indices("train") == [0] and back.indices("validation") == [1]
    assert back.claim_ids(1) == tok(["claim two"])[0]
    assert back.evidence_ids(0) == tok([SENTENCES[0]])[0] + tok([SENTENCES[2]])[0]
    assert back.counts() == {
        "train": {"synthetic:sentence/entailment": 1},
        "validation": {"fnc1:related/disagree": 1},
    }


def test_length_batches_take_every_example_once() -> None:
    idx = list(range(0, 200, 2))
    lengths = {i: random.Random(i).randint(5, 250) for i in idx}
    batches = length_batches(idx, lengths, 16, seed=3)
    assert sorted(i for b in batches for i in b) == idx
    assert batches == length_batches(idx, lengths, 16, seed=3)
    assert class_weights([0, 0, 0, 1], 3, 0.5).shape == (3,)


def test_component_round_trip(tmp_path: Path) -> None:
    net = tiny_net()
    with torch.no_grad():  # make the adapters non-zero, as after training
        for p in net.parameters():
            if p.requires_grad:
                p.add_(torch.randn_like(p) * 0.1)
    batch = collate([([101, 2000, 102, 2001, 2002, 102], 3)], pad_id=0)
    before = net.eval()(**batch)
    init_artifact(tmp_path, "test", "0.0.1")
    save_component_state(tmp_path, COMPONENT, net.trained_state(), net.config, {"note": "test"})
    state, config = load_component_state(tmp_path, COMPONENT, VerifierConfig)
    assert all(t.dtype == torch.float16 for t in state.values())
    again = VerifierNet(config, base=tiny_base())
    again.load_trained_state(state)
    after = again.eval()(**batch)
    for a, b in zip(before, after, strict=True):
        torch.testing.assert_close(a, b, atol=2e-3, rtol=2e-3)
    with pytest.raises(ArtifactError, match="do not fit"):
        VerifierNet(VerifierConfig(lora_r=8), base=tiny_base()).load_trained_state(state)


def test_claim_verifier_returns_calibrated_checks_with_evidence(tokenizer) -> None:
    verifier = ClaimVerifier(tiny_net(), tokenizer, WordEncoder(), batch_size=2)
    claims = ["Russian forces suffered heavy losses.", "Kyiv gave no figures."]
    checks = verifier.verify(claims, SENTENCES)
    assert len(checks) == 2 and verifier.verify([], SENTENCES) == []
    for check in checks:
        assert check.verdict in VerifierConfig().verdicts and check.stance in VerifierConfig().stances
        assert abs(sum(check.probabilities.values()) - 1) < 1e-5
        assert check.evidence and set(check.evidence) <= set(check.window.indices)
    same = verifier.verify(claims, SENTENCES, WordEncoder().encode(SENTENCES), attribute=False)
    for a, b in zip(same, checks, strict=True):
        assert a.probabilities == pytest.approx(b.probabilities, abs=1e-4)


def test_bundle_round_trip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import numpy as np

    from opslens.training.verifier_bundle import SMALL_FILES, pack_base, unpack_base

    real = encoder_path()
    src = tmp_path / "src"
    tiny_base().save_pretrained(src)
    for name in SMALL_FILES[1:]:  # the tokenizer's files; config.json is the tiny one
        (src / name).write_bytes((real / name).read_bytes())
    monkeypatch.setenv("OPSLENS_ENCODER_DIR", str(src))
    record = pack_base(np.array([5, 7, 7, 2000], dtype=np.uint16), tmp_path / "packed", [101, 102])
    assert record["rows_kept"] == 5 and record["vocab_size"] == 30522
    unpack_base(tmp_path / "packed", tmp_path / "base")
    monkeypatch.setenv("OPSLENS_ENCODER_DIR", str(tmp_path / "base"))
    assert base_identity() == (record["package_version"], record["sha256"])
    restored = BertModel.from_pretrained(
        tmp_path / "base", add_pooling_layer=False
    ).embeddings.word_embeddings
    original = tiny_base().embeddings.word_embeddings.weight
    rows = [5, 7, 101, 102, 2000]
    torch.testing.assert_close(restored.weight[rows], original[rows], atol=1e-3, rtol=1e-3)
    assert restored.weight[8].abs().sum() == 0  # a token no pair uses
    query = BertModel.from_pretrained(tmp_path / "base", add_pooling_layer=False).encoder.layer[0]
    original_query = tiny_base().encoder.layer[0].attention.self.query.weight
    torch.testing.assert_close(query.attention.self.query.weight, original_query.bfloat16().float())


def _write_jsonl(path: Path, rows: list[dict]) -> Path:
    with gzip.open(path, "wt", encoding="utf-8") as f:
        f.writelines(json.dumps(r) + "\n" for r in rows)
    return path


def test_nli_pairs_hold_out_whole_premises(tmp_path: Path) -> None:
    from opslens.training.verifier_data import nli_pairs

    rows = [
        {"premise": f"Premise number {i // 3}.", "hypothesis": f"h {i}", "label": "neutral", "source": "x"}
        for i in range(300)
    ]
    pairs = nli_pairs(_write_jsonl(tmp_path / "nli.jsonl.gz", rows), 0.2, seed=1)
    by_premise: dict[str, set[str]] = {}
    for p in pairs:
        by_premise.setdefault(p.evidence[0], set()).add(p.split)
    assert all(len(s) == 1 for s in by_premise.values())
    assert 0.05 < sum(p.split == "validation" for p in pairs) / len(pairs) < 0.4
    assert pairs[0].source == "nli:x" and pairs[0].verdict == 1


def test_read_rows_reads_csv(tmp_path: Path) -> None:
    from opslens.training.verifier_data import read_rows

    (tmp_path / "a.csv").write_text('article,split\n"One, two.",train\n', encoding="utf-8")
    assert list(read_rows(tmp_path / "a.csv")) == [{"article": "One, two.", "split": "train"}]


def test_synthetic_claims_are_labelled_and_deterministic(tmp_path: Path) -> None:
    from opslens.training.verifier_data import Article, synthetic_claims

    text = [
        "Manchester United beat Chelsea 3-1 in the final at Wembley on Saturday evening.",
        "The manager, who joined the club in 2019, said the players had not expected the result.",
        "Ticket prices rose by 12% this season, according to figures from the league.",
        "Chelsea will play Arsenal next week in a match that could decide the title.",
    ]
    other = ["Farmers in Kenya planted maize early this year because the rains came in March.", *text[:0]]
    cfg = VerifierTrainConfig(
        train_file=tmp_path / "t", validation_file=tmp_path / "v", nli_file=tmp_path / "n",
        run_dir=tmp_path, output_dir=tmp_path, synthetic_supported=2, synthetic_contradicted=2,
    )  # fmt: skip

    def articles() -> dict[str, Article]:
        return {"a": Article(list(text), "train", "x"), "b": Article(other * 2, "train", "y")}

    claims = synthetic_claims(cfg, articles())
    mine = [c for c in claims if c.article == "a"]
    kinds = {c.source.split(":")[1]: c.verdict for c in mine}
    assert {v for k, v in kinds.items() if k in ("sentence", "paraphrase")} <= {0}
    assert all(v == 2 for k, v in kinds.items() if k not in ("sentence", "paraphrase", "other_article"))
    assert kinds.get("other_article") == 1
    assert [c.text for c in claims] == [
        c.text for c in synthetic_claims(cfg, dict(reversed(articles().items())))
    ]


@pytest.mark.slow
def test_real_base_has_adapters_on_every_linear_layer() -> None:
    net = VerifierNet(VerifierConfig())
    trained = net.trained_state()
    assert len([k for k in trained if "lora_" in k]) == 6 * 6 * 2  # 6 blocks x 6 linear layers x A, B
    assert sum(v.numel() for v in trained.values()) < 1_000_000  # ~1.3 MB in fp16
    v, s = net.eval()(**collate([([101, 2000, 102, 2001, 102], 3)], pad_id=0))
    assert v.shape == (1, 3) and s.shape == (1, 3)


@pytest.mark.slow
def test_train_verifier_writes_a_loadable_component(tmp_path: Path, tokenizer) -> None:
    from opslens.model.verifier import load_verifier_net
    from opslens.training.verifier import train_verifier

    pairs = [
        Pair(s, (s,), 0, -1, "synthetic:sentence", split)
        for s in SENTENCES
        for split in ("train", "validation")
    ] + [
        Pair(SENTENCES[0], (SENTENCES[2],), -1, label, "fnc1:related", split)
        for label in (0, 1, 2)
        for split in ("train", "validation")
    ]
    path = tmp_path / "pairs.npz"
    save_pairs(path, tokenize_pairs(pairs, lambda t: tokenizer(t, add_special_tokens=False)["input_ids"], {}))
    cfg = VerifierTrainConfig(
        train_file=tmp_path / "unused", validation_file=tmp_path / "unused", nli_file=tmp_path / "unused",
        pairs_file=path, run_dir=tmp_path / "run", output_dir=tmp_path / "artifact",
        epochs=1, batch_size=4, eval_every=1, checkpoint_every=1, log_every=1, device="cpu",
        time_budget_seconds=600, model=VerifierConfig(lora_r=4, lora_alpha=8),
    )  # fmt: skip
    out = train_verifier(cfg, command="test")
    meta = json.loads((out / f"{COMPONENT}.json").read_text(encoding="utf-8"))
    record = meta["training"]
    assert record["steps"] == 2 and record["schedule"]["epochs"] == 1
    assert {"verdict_macro_f1", "stance_macro_f1", "score"} <= set(record["metrics"])
    assert meta["config"]["verdict_temperature"] > 0 and meta["config"]["base_sha256"] == base_identity()[1]
    net = load_verifier_net(out)
    assert net.config.lora_r == 4
    assert (cfg.run_dir / "train_log.jsonl").is_file() and (cfg.run_dir / "budget.json").is_file()


@pytest.mark.slow
def test_merged_without_peft_equals_peft_merge() -> None:
    """The shipped verifier as served (adapters folded in by hand, no peft) gives the network
    peft builds and merges: same logits on real pairs."""
    from opslens.model.artifact import SHIPPED_ARTIFACT
    from opslens.model.verifier import load_merged_verifier, load_verifier_net

    peft_net = load_verifier_net(SHIPPED_ARTIFACT)
    by_peft = peft_net.encoder.merge_and_unload()
    served = load_merged_verifier(SHIPPED_ARTIFACT, backend="torch")
    tok = AutoTokenizer.from_pretrained(encoder_path(), local_files_only=True)
    claims = ["Russian forces suffered heavy losses.", "Ukraine has retaken Bakhmut."]
    evidence = ["Moscow's troops have suffered significant losses around Bakhmut.", "Kyiv says."]
    batch = tok(claims, evidence, padding=True, return_tensors="pt")
    with torch.inference_mode():
        want = by_peft(**batch).last_hidden_state
        got = served.encoder(**batch).last_hidden_state
    assert torch.allclose(got, want, atol=1e-5)
    for head in ("verdict_head", "stance_head"):
        assert torch.equal(getattr(served, head).weight, getattr(peft_net, head).weight)


def test_prepare_only_writes_the_pairs_file_and_trains_nothing(tmp_path: Path, monkeypatch) -> None:
    """`opslens train verifier --prepare-only`: the CPU half of a run trained elsewhere. The
    builder (which needs the article data) is stubbed; what is checked is that the file lands at
    pairs_file and that no training starts."""
    import opslens.training.verifier_data as verifier_data
    from opslens.cli import main

    splits = ("train", "validation")
    pairs = [Pair(s, (s,), 0, -1, "synthetic:sentence", split) for s in SENTENCES for split in splits]
    monkeypatch.setattr(verifier_data, "build_pairs", lambda cfg, encoder, lengths: (pairs, {"stub": True}))
    monkeypatch.setattr("opslens.model.encoder.SentenceEncoder", lambda **kw: None)
    cfg = {
        "train_file": "unused", "validation_file": "unused", "pairs_file": str(tmp_path / "elsewhere.npz"),
        "run_dir": str(tmp_path / "run"), "output_dir": str(tmp_path / "artifact"),
    }  # fmt: skip
    (tmp_path / "c.json").write_text(json.dumps(cfg), encoding="utf-8")
    pairs_file = str(tmp_path / "p" / "pairs.npz")  # --pairs-file wins over the config's
    assert (
        main(
            [
                "train",
                "verifier",
                "--config",
                str(tmp_path / "c.json"),
                "--pairs-file",
                pairs_file,
                "--prepare-only",
            ]
        )
        == 0
    )
    back = load_pairs(tmp_path / "p" / "pairs.npz")
    assert len(back) == 2 * len(SENTENCES) and back.meta["stub"] is True
    assert not (tmp_path / "elsewhere.npz").exists()
    assert not (tmp_path / "artifact").exists() and not (tmp_path / "run" / "train_log.jsonl").exists()


@pytest.mark.parametrize(
    ("flags", "named"),
    [(["--prepare-only"], "--prepare-only"), (["--pairs-file", "p.npz"], "--pairs-file")],
)
def test_pairs_flags_are_refused_for_trainers_without_a_pairs_file(
    tmp_path: Path, flags: list[str], named: str
) -> None:
    from opslens.cli import main

    with pytest.raises(SystemExit, match=f"{named}: for the verifier only"):
        main(["train", "stance", *flags, "--run-dir", str(tmp_path / "run")])
    assert not (tmp_path / "run").exists()
