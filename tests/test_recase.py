"""Recasing a lower-case generation from its article."""

from __future__ import annotations

from opslens.model.recase import cased_forms, recase

ARTICLE = (
    "Ukrainian forces held positions near Bakhmut on Sunday, the Ukrainian General Staff said. "
    "The Wagner group claims otherwise. Officials in Kyiv said the U.S. would send more aid. "
    "The city is in ruins."
)


def test_names_take_the_article_spelling() -> None:
    out = recase("wagner says ukrainian forces left bakhmut. kyiv's officials deny it.", ARTICLE)
    assert out == "Wagner says Ukrainian forces left Bakhmut. Kyiv's officials deny it."


def test_sentence_initial_words_do_not_set_the_case() -> None:
    forms = cased_forms(ARTICLE)
    assert forms["wagner"] == "Wagner"
    assert "officials" not in forms  # seen only at a sentence start: could be a common word
    assert recase("the u.s. said it would help.", ARTICLE) == "The U.S. said it would help."


def test_words_the_article_lacks_stay_lower_case() -> None:
    # An invented name keeps lower case (the guard flags it as a rare word); "i" is fixed.
    assert recase("zaluzhny said i was wrong.", ARTICLE) == "Zaluzhny said I was wrong."
    assert recase("forces met zaluzhny.", ARTICLE) == "Forces met zaluzhny."
