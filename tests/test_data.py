"""Training data helpers: the story-disjoint stance split and row-level cache keys."""

from __future__ import annotations

import datasets

from opslens.training.data import rows_key, story_split

# Two stories (a Kherson body pair and an EU body), joined through shared related headlines.
ROWS = [
    ("Kherson shelled", "kherson body 1", "agree"),
    ("Kherson shelled", "kherson body 2", "discuss"),
    ("Three killed in Kherson", "kherson body 2", "agree"),
    ("EU buys ammunition", "eu body", "agree"),
    ("EU buys ammunition", "kherson body 1", "unrelated"),
    ("Kherson shelled", "eu body", "unrelated"),
    ("Football club signs striker", "eu body", "unrelated"),
]


def _pooled() -> datasets.Dataset:
    h, b, y = zip(*ROWS, strict=True)
    return datasets.Dataset.from_dict({"headline": list(h), "body": list(b), "stance": list(y)})


def test_story_split_shares_no_story_between_train_and_validation() -> None:
    for seed in range(6):
        train, val = story_split(_pooled(), "headline", "body", "stance", 0.5, seed)
        assert len(val) > 0 and len(train) > 0
        # No body and no related headline of a held-out story reaches training.
        assert not set(train["body"]) & set(val["body"])
        val_related = {h for h, y in zip(val["headline"], val["stance"], strict=True) if y != "unrelated"}
        assert not set(train["headline"]) & val_related
        # Each row lands in at most one side; only straddling unrelated rows are dropped.
        assert len(train) + len(val) <= len(ROWS)
        dropped = len(ROWS) - len(train) - len(val)
        assert dropped <= sum(y == "unrelated" for _, _, y in ROWS)


def test_story_split_keeps_a_story_whole() -> None:
    _, val = story_split(_pooled(), "headline", "body", "stance", 0.5, 0)
    bodies = set(val["body"])
    # The two Kherson bodies are one story (joined by "Kherson shelled"): both or neither.
    assert ("kherson body 1" in bodies) == ("kherson body 2" in bodies)


def test_rows_key_names_the_rows_not_the_file() -> None:
    fields = ("headline", "body", "stance")
    pooled = _pooled()
    # Same size, other rows (another seed or split of the same file): another key.
    assert rows_key(pooled.select([0, 1, 2]), fields) != rows_key(pooled.select([3, 4, 5]), fields)
    assert rows_key(pooled.select([0, 1, 2]), fields) == rows_key(_pooled().select([0, 1, 2]), fields)
