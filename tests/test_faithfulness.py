from __future__ import annotations

import pytest

from opslens.eval.faithfulness import figures, verdict_shares
from opslens.model.faithfulness import (
    check,
    find_dates,
    find_entities,
    find_numbers,
    name_supported,
    name_tokens,
)
from opslens.model.results import Faithfulness, SummarySentence
from opslens.model.text import parse_document, split_sentences

ARTICLE = (
    "Ukrainian President Volodymyr Zelenskiy says his forces have inflicted heavy losses on Russia's "
    "military around Bakhmut. Russia lost nearly 30 armored vehicles in fighting around Vuhledar, which "
    "had a population of about 14,000 before the war. On February 19, the Ukrainian military said three "
    "people were killed in the Kherson region. The European Union pledged $1.5 million and said inflation "
    "reached 12 percent. U.S. Secretary of State Antony Blinken warned China on Sunday of serious "
    "consequences if Beijing supplies weapons to Russia."
)


def _spans(result: Faithfulness) -> list[tuple[str, str]]:
    return [(s.kind, s.text) for s in result.unsupported]


def _assert_offsets(result: Faithfulness, article: str) -> None:
    for span in result.unsupported:
        assert result.generated[span.start : span.end] == span.text
    for sent in result.sentences:
        assert result.generated[sent.start : sent.end] == sent.text
        for ev in sent.evidence:
            assert article[ev.start : ev.end] == ev.text
        for span in sent.unsupported:
            assert sent.start <= span.start < span.end <= sent.end


def test_wrong_role_for_a_named_person_is_flagged() -> None:
    doc = parse_document(ARTICLE)
    generated = "Russian President Volodymyr Zelenskiy said his forces inflicted heavy losses around Bakhmut."
    result = check(doc, generated)
    assert _spans(result) == [("entity", "Russian President Volodymyr Zelenskiy")]
    assert result.action == "flagged" and not result.faithful
    _assert_offsets(result, ARTICLE)


def test_wrong_role_mid_sentence_is_flagged_and_right_roles_pass() -> None:
    doc = parse_document(ARTICLE)
    bad = "Heavy losses were reported by the Russian President Zelenskiy near Bakhmut."
    assert _spans(check(doc, bad)) == [("entity", "Russian President Zelenskiy")]
    for good in (
        "President Zelenskiy said Russia's losses around Bakhmut were heavy.",
        "Ukrainian President Volodymyr Zelenskiy reported heavy Russian losses.",
        "Zelenskiy's forces fought around Vuhledar.",
    ):
        result = check(doc, good)
        assert result.unsupported == [], (good, _spans(result))
        assert result.action == "none"


def test_invented_entity_is_flagged() -> None:
    doc = parse_document(ARTICLE)
    result = check(doc, "NATO Secretary General Jens Stoltenberg visited Bakhmut.")
    assert _spans(result) == [("entity", "NATO Secretary General Jens Stoltenberg")]


def test_invented_numbers_are_flagged_with_offsets() -> None:
    doc = parse_document(ARTICLE)
    generated = "Russia lost 45 armored vehicles near Vuhledar. The EU pledged $2 million to Ukraine."
    result = check(doc, generated)
    assert _spans(result) == [("number", "45"), ("number", "$2 million")]
    assert [s.sentence for s in result.unsupported] == [0, 1]
    _assert_offsets(result, ARTICLE)


def test_reformatted_numbers_are_supported() -> None:
    doc = parse_document(ARTICLE)
    for generated in (
        "Vuhledar had about 14000 people before the war.",
        "Vuhledar had about fourteen thousand people before the war.",
        "Vuhledar had about 14 thousand residents; Russia lost thirty vehicles.",
        "The EU pledged $1,500,000 and inflation hit 12%.",
        "The EU pledged 1.5m dollars while inflation reached twelve per cent.",
        "Three people were killed in Kherson.",
    ):
        result = check(doc, generated)
        assert result.unsupported == [], (generated, _spans(result))


def test_dates_are_checked() -> None:
    doc = parse_document(ARTICLE)
    result = check(
        doc, "On February 19, officials in Kherson said three people died. Blinken spoke on Sunday."
    )
    assert result.unsupported == []
    result = check(doc, "On March 8, officials said 3 people died. Blinken spoke on Tuesday.")
    assert _spans(result) == [("date", "March"), ("number", "8"), ("date", "Tuesday")]


def test_may_the_verb_is_not_a_date() -> None:
    assert find_dates("Russia may attack soon.") == []
    assert [f.key for f in find_dates("It happened in May and on 5 mar.")] == ["may", "march"]


def test_lowercased_article_supports_capitalised_names() -> None:
    article = (
        "(cnn) -- ukrainian president volodymyr zelenskiy met u.s. secretary of state antony blinken in kyiv."
    )
    doc = parse_document(article)
    result = check(doc, "Zelenskiy met U.S. Secretary of State Antony Blinken in Kyiv.")
    assert result.unsupported == []
    result = check(doc, "Zelenskiy met Blinken in Warsaw.")
    assert _spans(result) == [("entity", "Warsaw")]


def test_acronyms_of_article_names_are_supported() -> None:
    doc = parse_document(ARTICLE)
    assert check(doc, "The EU pledged money to Ukraine.").unsupported == []
    assert _spans(check(doc, "The IMF pledged money to Ukraine.")) == [("entity", "IMF")]


def test_normalisation_of_names() -> None:
    assert name_tokens("Russia’s Al-Qaeda U.S.") == ["russia", "al", "qaeda", "u", "s"]
    assert name_tokens("Zelenskiy's Zélenskiy") == ["zelenskiy", "zelenskiy"]
    article = name_tokens("leader of al-qaeda in the arabian peninsula")
    assert name_supported(name_tokens("Al Qaeda"), article)
    assert name_supported(name_tokens("Al-Qaeda in the Arabian Peninsula"), article)
    assert not name_supported(name_tokens("Qaeda Al"), article)


def test_number_extraction_values() -> None:
    keys = {f.key for f in find_numbers("1,000 and 1000 and one thousand and 1 thousand")}
    assert keys == {"1000.0"}
    keys = [f.key for f in find_numbers("$1.5 million, 1.5bn, 50%, twenty-five, 21st, 3.75")]
    assert keys == ["1500000.0", "1500000000.0", "50.0", "25.0", "21.0", "3.75"]
    # A bare "one" is a pronoun, not a figure.
    assert find_numbers("one of the soldiers said") == []


def test_sentence_initial_common_word_is_not_a_name() -> None:
    text = "Officials said the bridge fell. Heavy rain followed."
    sents = split_sentences(text)
    assert find_entities(text, sents, {"officials", "heavy", "rain"}) == []
    # Not in the article at all: a sentence-initial capitalised word is checked as a name.
    assert [f.key for f in find_entities(text, sents, {"heavy"})] == ["officials"]


def test_policy_drop_sentence_keeps_supported_sentences() -> None:
    doc = parse_document(ARTICLE)
    generated = (
        "Russia lost nearly 30 armored vehicles. Russian President Zelenskiy spoke. Blinken warned China."
    )
    result = check(doc, generated, policy="drop_sentence")
    assert result.action == "dropped_sentences"
    assert result.summary == "Russia lost nearly 30 armored vehicles. Blinken warned China."
    assert [s.kept for s in result.sentences] == [True, False, True]
    assert "dropped 1 of 3" in result.detail
    _assert_offsets(result, ARTICLE)


def test_policy_drop_sentence_when_nothing_is_left() -> None:
    doc = parse_document(ARTICLE)
    generated = "Russian President Zelenskiy spoke."
    assert check(doc, generated, policy="drop_sentence").summary == ""
    result = check(doc, generated, policy="drop_sentence", fallback_summary="EXTRACTIVE")
    assert (result.action, result.summary) == ("fallback", "EXTRACTIVE")


def _quotes(doc, indices: list[int]) -> list[SummarySentence]:
    """An extractive selection of `doc`'s sentences, as the pipeline passes it to the guard."""
    return [
        SummarySentence(index=i, text=s.text, start=s.start, end=s.end, score=0.5)
        for i, s in enumerate(doc.sentences)
        if i in indices
    ]


def test_policy_replace_sentence_fills_the_room_with_article_sentences() -> None:
    doc = parse_document(ARTICLE)
    generated = (
        "Russia lost nearly 30 armored vehicles. Russian President Zelenskiy spoke. Blinken warned China."
    )
    # Kept: 9 words, resting on article sentences 1 and 4. Quote 1 repeats a kept sentence; quote 0
    # (16 words) fits the 21 words left; quote 3 (12 words) then does not.
    result = check(doc, generated, policy="replace_sentence", quotes=_quotes(doc, [0, 1, 3]), max_words=30)
    assert result.action == "replaced_sentences"
    assert [q.index for q in result.quoted] == [0]
    assert result.summary == (
        "Russia lost nearly 30 armored vehicles. Blinken warned China. " + doc.sentences[0].text.strip()
    )
    assert len(result.summary.split()) <= 30
    assert [s.kept for s in result.sentences] == [True, False, True]
    assert "dropped 1 of 3" in result.detail and "1 sentence(s) of the article" in result.detail
    for q in result.quoted:
        assert ARTICLE[q.start : q.end] == q.text
    _assert_offsets(result, ARTICLE)
    # A larger budget takes the next quote too.
    wide = check(doc, generated, policy="replace_sentence", quotes=_quotes(doc, [0, 1, 3]), max_words=60)
    assert [q.index for q in wide.quoted] == [0, 3]


def test_policy_replace_sentence_without_room_or_need() -> None:
    doc = parse_document(ARTICLE)
    quotes = _quotes(doc, [0, 3])
    generated = "Russia lost nearly 30 armored vehicles. Russian President Zelenskiy spoke."
    tight = check(doc, generated, policy="replace_sentence", quotes=quotes, max_words=12)
    assert (tight.action, tight.summary, tight.quoted) == (
        "dropped_sentences",
        "Russia lost nearly 30 armored vehicles.",
        [],
    )
    # Nothing unsupported: served as written, however much room is left.
    good = check(doc, "Blinken warned China.", policy="replace_sentence", quotes=quotes, max_words=60)
    assert (good.action, good.summary, good.quoted) == ("none", "Blinken warned China.", [])
    # Nothing kept and no quote fits: the extractive summary, as under drop_sentence.
    none_fit = check(
        doc,
        "Russian President Zelenskiy spoke.",
        policy="replace_sentence",
        quotes=quotes,
        max_words=10,
        fallback_summary="EXTRACTIVE",
    )
    assert (none_fit.action, none_fit.summary) == ("fallback", "EXTRACTIVE")


def test_policy_fallback() -> None:
    doc = parse_document(ARTICLE)
    bad = check(doc, "Russia lost 45 vehicles.", policy="fallback", fallback_summary="EXTRACTIVE")
    assert (bad.action, bad.summary, bad.sentences[0].kept) == ("fallback", "EXTRACTIVE", False)
    good = check(doc, "Russia lost nearly 30 vehicles.", policy="fallback", fallback_summary="EXTRACTIVE")
    assert (good.action, good.summary) == ("none", "Russia lost nearly 30 vehicles.")
    with pytest.raises(ValueError, match="fallback_summary"):
        check(doc, "Russia lost 45 vehicles.", policy="fallback")
    with pytest.raises(ValueError, match="unknown policy"):
        check(doc, "Russia lost 45 vehicles.", policy="ignore")  # type: ignore[arg-type]


def test_lexical_alignment_finds_the_source_sentence() -> None:
    doc = parse_document(ARTICLE)
    result = check(
        doc, "Blinken warned Beijing against supplying weapons. Vuhledar had 14,000 people.", top_k=2
    )
    assert result.alignment == "lexical"
    first, second = result.sentences
    assert first.evidence[0].index == 4 and len(first.evidence) == 2
    assert second.evidence[0].index == 1
    assert first.evidence[0].score >= first.evidence[1].score
    _assert_offsets(result, ARTICLE)


def test_example_article_offsets(example_text: str) -> None:
    doc = parse_document(example_text)
    generated = (
        "Russian President Volodymyr Zelenskiy said forces inflicted losses near Bakhmut on February 19. "
        "Russia lost 300 armored vehicles around Vuhledar."
    )
    result = check(doc, generated, policy="drop_sentence", top_k=3)
    assert _spans(result) == [("entity", "Russian President Volodymyr Zelenskiy"), ("number", "300")]
    assert result.summary == ""
    _assert_offsets(result, example_text)


@pytest.mark.slow
def test_encoder_alignment(example_text: str) -> None:
    from opslens.model.encoder import SentenceEncoder

    encoder = SentenceEncoder()
    doc = parse_document(example_text)
    generated = "Kamala Harris said the U.S. had determined that Russia committed crimes against humanity."
    result = check(doc, generated, encoder=encoder)
    assert result.alignment == "encoder" and result.unsupported == []
    best = result.sentences[0].evidence[0]
    assert "crimes against humanity" in best.text and best.score > 0.6
    _assert_offsets(result, example_text)
    vectors = encoder.encode([s.normalized for s in doc.sentences])
    again = check(doc, generated, encoder=encoder, article_vectors=vectors)
    assert again.sentences[0].evidence[0].index == best.index
    with pytest.raises(ValueError, match="rows"):
        check(doc, generated, encoder=encoder, article_vectors=vectors[:3])


def test_names_joined_by_and_are_checked_one_by_one() -> None:
    doc = parse_document(ARTICLE)
    assert check(doc, "Fighting raged around Vuhledar and Bakhmut.").unsupported == []
    assert _spans(check(doc, "Fighting raged around Buhm and Vuhledar.")) == [("entity", "Buhm")]


def test_corpus_figures() -> None:
    doc = parse_document(ARTICLE)
    results = [
        check(doc, "Russia lost nearly 30 armored vehicles."),
        check(doc, "Russia lost 45 vehicles on Tuesday."),
        check(doc, "Blinken spoke on Tuesday."),
        check(doc, "NATO chief Jens Stoltenberg spoke."),
    ]
    f = figures(results)
    assert f["summaries"] == 4
    assert f["share_with_unsupported"] == 0.75
    assert f["share_with_unsupported_entity_or_number"] == 0.5
    assert f["unsupported_spans_per_summary"] == 1.25  # NATO and Jens Stoltenberg are two spans
    assert (f["unsupported_number_per_summary"], f["unsupported_date_per_summary"]) == (0.25, 0.5)
    with pytest.raises(ValueError):
        figures([])


def test_verdict_shares_before_and_after_the_policy() -> None:
    doc = parse_document(ARTICLE)
    written = check(doc, "Russia lost nearly 30 armored vehicles. Blinken spoke on Tuesday.")
    assert len(written.sentences) == 2 and verdict_shares([written]) == {}  # no verifier ran

    def judged(*verdicts: tuple[str, bool]):
        sentences = [
            s.model_copy(update={"verdict": v, "kept": kept})
            for s, (v, kept) in zip(written.sentences, verdicts, strict=True)
        ]
        return written.model_copy(update={"sentences": sentences})

    dropped = judged(("supported", True), ("contradicted", False))  # drop_sentence
    flagged = judged(("not_found", True), ("supported", True))  # flag keeps it
    f = verdict_shares([dropped, flagged])
    assert (f["judged_sentences"], f["served_sentences"]) == (4, 3)
    assert (f["share_sentences_contradicted"], f["share_sentences_not_found"]) == (0.25, 0.25)
    assert (f["share_served_contradicted"], f["share_served_not_found"]) == (0.0, 1 / 3)
    assert figures([dropped, flagged])["share_sentences_contradicted"] == 0.25


def test_rare_words_in_lowercased_output_are_flagged() -> None:
    article = "(cnn) -- lynyrd skynyrd guitarist bob burns died in a car crash in georgia, police said."
    doc = parse_document(article)
    assert check(doc, "guitarist bob burns of lynyrd skynyrd died in a crash in georgia.").unsupported == []
    generated = "guitarist jimbozardi of lynynd skynyrd died in a crash, police said."
    result = check(doc, generated)
    assert _spans(result) == [("rare_word", "jimbozardi"), ("rare_word", "lynynd")]
    _assert_offsets(result, article)
    assert check(doc, generated, rare_words=False).unsupported == []
    # Common English words, inflections of article words and function words are never rare.
    assert check(doc, "the guitarist crashed his car and died, police said.").unsupported == []
