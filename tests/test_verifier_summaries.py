"""Summary claims for the verifier, and joining pairs files: labels follow the article."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np

from opslens.model.recase import recase_with
from opslens.training.config import VerifierTrainConfig
from opslens.training.verifier_pairs import Pair, concat_pairs, tokenize_pairs
from opslens.training.verifier_summaries import SUPPORTED, summary_claims, summary_sentences, support

ARTICLES = [
    (
        "manchester united beat chelsea 3-1 in the final at wembley on saturday evening. "
        "the manager said the players had not expected such a clear result. "
        "ticket prices rose by 12% this season, according to figures from the league. "
        "chelsea will play arsenal next week in a match that could decide the title.",
        "manchester united beat chelsea 3-1 in the final at wembley\n"
        "ticket prices rose by 40% this season\n"
        "the manager said the players had not expected the result",
    ),
    (
        "farmers in kenya planted maize early this year because the rains came in march. "
        "the government in nairobi said harvests could be the best in a decade. "
        "prices of seed rose sharply as demand grew across the country.",
        "farmers in kenya planted maize early because the rains came in march\n"
        "harvests could be the best in a decade, the government said",
    ),
]


def _config(tmp_path: Path) -> VerifierTrainConfig:
    path = tmp_path / "sums.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as f:
        for article, summary in ARTICLES:
            f.write(json.dumps({"article": article, "summary": summary}) + "\n")
    casing = tmp_path / "cased.jsonl"
    cased = "In the end Manchester United and Chelsea met at Wembley, and Kenya and Nairobi were far away."
    casing.write_text(json.dumps({"article": cased}) + "\n", encoding="utf-8")
    return VerifierTrainConfig(
        train_file=tmp_path / "t", validation_file=tmp_path / "v", run_dir=tmp_path, output_dir=tmp_path,
        parts=["summaries"], summary_train_file=path, casing_files=[casing], summary_contradicted=2,
    )  # fmt: skip


def test_summary_sentences_one_per_line_or_split() -> None:
    assert summary_sentences("a b c\n\nd e f\n") == ["a b c", "d e f"]
    two = "The council met on Monday to vote. It approved the new budget for the year."
    assert summary_sentences(two) == [two[:34], two[35:]]


def test_support_is_zero_for_a_number_the_article_lacks() -> None:
    vocabulary = {"prices", "rose"}
    assert support("prices rose", vocabulary, frozenset()) == 1.0
    assert support("prices rose 40%", vocabulary, frozenset()) == 0.0


def test_summary_claims_label_by_the_article(tmp_path: Path) -> None:
    claims = list(summary_claims(_config(tmp_path)))
    supported = {c[3] for c in claims if c[4] == SUPPORTED}
    # Capitals come back from the cased corpus, so name edits can find names.
    assert "Manchester United beat Chelsea 3-1 in the final at Wembley" in supported
    assert not any("40%" in s for s in supported)  # its figure is not in the article
    edits = [c for c in claims if c[5] not in ("summary:reference", "summary:other_article")]
    assert edits and all(c[3] not in supported for c in edits)
    assert all(c[1] == "train" and len(c[2]) <= 20 for c in claims)
    assert claims == list(summary_claims(_config(tmp_path)))  # seeded


def test_recase_with_a_fixed_spelling_table() -> None:
    assert recase_with("talks in kenya's capital. then more", {"kenya": "Kenya"}) == (
        "Talks in Kenya's capital. Then more"
    )


def test_concat_pairs_keeps_every_example_whole() -> None:
    def tok(texts: list[str]) -> list[list[int]]:
        return [[len(w) for w in t.split()] for t in texts]

    a = tokenize_pairs([Pair("a bb", ("ccc dddd",), 0, -1, "x", "train")], tok, {"seed": 1})
    b = tokenize_pairs(
        [Pair("eeeee", ("f", "gg"), -1, 2, "y", "validation"), Pair("hh", ("i",), 1, -1, "x", "train")],
        tok,
        {"seed": 2},
    )
    joined = concat_pairs([a, b])
    assert len(joined) == 3 and joined.sources == ("x", "y")
    assert [joined.claim_ids(i) for i in range(3)] == [[1, 2], [5], [2]]
    assert [joined.evidence_ids(i) for i in range(3)] == [[3, 4], [1, 2], [1]]
    assert [joined.source_of(i) for i in range(3)] == ["x", "y", "x"]
    assert joined.indices("validation") == [1]
    assert np.array_equal(joined.verdict, [0, -1, 1]) and joined.meta["parts"][1]["seed"] == 2


def test_sample_caps_each_source_and_named_ones_apart() -> None:
    from opslens.training.verifier import _sample

    def tok(texts: list[str]) -> list[list[int]]:
        return [[1] for _ in texts]

    pairs = tokenize_pairs(
        [Pair(f"c{i}", ("e",), 0, -1, "big" if i < 50 else "small", "train") for i in range(60)], tok, {}
    )
    idx = pairs.indices("train")
    kept = _sample(pairs, idx, 5, None, seed=1, caps={"big": 20})
    assert sum(pairs.source_of(i) == "big" for i in kept) == 20
    assert sum(pairs.source_of(i) == "small" for i in kept) == 5
    assert _sample(pairs, idx, None, None, seed=1) == idx


def test_sentence_support_reads_the_verdict_from_the_best_supported_input() -> None:
    import torch
    from test_verifier import SENTENCES, WordEncoder, tiny_net
    from transformers import AutoTokenizer

    from opslens.model.encoder import encoder_path
    from opslens.model.readings import best_supported
    from opslens.model.verifier import ClaimVerifier, VerifierConfig

    a, b = torch.tensor([0.3, 0.1, 0.6]), torch.tensor([0.7, 0.2, 0.1])
    assert best_supported([a, b]) == 1 and best_supported([a]) == 0
    # A sentence that reads the claim as not found does not replace the window's reading.
    assert best_supported([a, torch.tensor([0.35, 0.6, 0.05])]) == 0
    tok = AutoTokenizer.from_pretrained(encoder_path(), local_files_only=True)
    claim = "Russian forces suffered heavy losses."
    window_only = ClaimVerifier(tiny_net(), tok, WordEncoder())
    [plain] = window_only.verify([claim], SENTENCES, attribute=False)
    net = tiny_net(VerifierConfig(lora_r=4, lora_alpha=8, sentence_support=True))
    [best] = ClaimVerifier(net, tok, WordEncoder()).verify([claim], SENTENCES, attribute=False)
    ids = window_only.tokens([claim, *SENTENCES])
    alone, _ = window_only.probabilities([(ids[0], ids[1 + i]) for i in plain.window.indices])
    supporting = [float(p[0]) for p in alone if int(p.argmax()) == 0]  # sentences that alone support it
    top = max([plain.probabilities["supported"], *supporting])
    assert best.probabilities["supported"] == top
    assert best.probabilities["supported"] >= plain.probabilities["supported"]
