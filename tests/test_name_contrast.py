"""The claim verifier's name contrast: name variants of a claim, and the reading they change."""

from __future__ import annotations

import pytest
import torch

from opslens.model.name_variants import (
    exchangeable,
    favoured,
    name_variants,
    named_claim,
    restating,
    stated,
    stating,
    traded,
)
from opslens.model.readings import contrasted


def test_two_names_of_a_claim_are_swapped_for_each_other() -> None:
    claim = "Ukrainian forces shelled Russian positions near Bakhmut."
    out = name_variants(claim, "The shelling went on all night.")
    assert "Russian forces shelled Ukrainian positions near Bakhmut." in out
    assert "Bakhmut forces shelled Russian positions near Ukrainian." in out
    assert claim not in out and len(out) == len(set(out))


def test_names_only_listed_together_are_not_swapped() -> None:
    assert name_variants("Russia and Ukraine held talks in Istanbul.", "No one else was there.") == [
        "Istanbul and Ukraine held talks in Russia.",
        "Russia and Istanbul held talks in Ukraine.",
    ]


def test_a_name_is_replaced_by_each_name_of_the_evidence_the_claim_lacks() -> None:
    claim = "Kyiv says the strike hit a school."
    evidence = "Moscow says the strike hit a depot, which Kyiv denies; Moscow gave no proof."
    assert name_variants(claim, evidence) == ["Moscow says the strike hit a school."]
    assert name_variants("the strike hit a school.", evidence) == []  # no name: no variant


def test_variants_are_capped() -> None:
    claim = "Anna met Boris in Paris."
    evidence = "Carl, Dora, Emil, Fritz, Greta and Hans were there."
    assert len(name_variants(claim, evidence, limit=4)) == 4
    assert len(name_variants(claim, evidence, limit=100)) == 3 + 3 * 6


def test_with_roles_a_nationality_is_only_replaced_by_a_nationality() -> None:
    claim = "Ukrainian forces shelled positions near Bakhmut."
    evidence = "Russian forces shelled positions near Bakhmut, Moscow said."
    out = name_variants(claim, evidence, roles=True)
    assert "Russian forces shelled positions near Bakhmut." in out
    assert all(not v.startswith(("Bakhmut forces", "Moscow forces", "Russia forces")) for v in out)
    assert "Bakhmut forces shelled positions near Ukrainian." in name_variants(claim, evidence)  # 1.6.0's


def test_with_roles_a_country_its_capital_and_nationality_are_one_actor() -> None:
    assert not exchangeable("China", "Beijing") and not exchangeable("Moscow", "Russia")
    assert exchangeable("Beijing", "Russia") and exchangeable("Ukrainian", "Russian")
    assert not exchangeable("Ukrainian", "Russia") and exchangeable("Blinken", "Wang")
    claim = "Blinken warned China of consequences if Beijing supplies weapons to Russia."
    out = name_variants(claim, "Blinken spoke to Wang Yi in Munich.", limit=100, roles=True)
    assert "Blinken warned Beijing of consequences if China supplies weapons to Russia." not in out
    assert "Blinken warned China of consequences if Russia supplies weapons to Beijing." in out


def test_with_roles_a_country_named_in_the_evidence_offers_its_nationality() -> None:
    claim = "Ukrainian forces have suffered massive losses near Vuhledar."
    evidence = "Russia's forces have suffered massive losses near Vuhledar, Kyiv says."
    assert "Russian forces have suffered massive losses near Vuhledar." in name_variants(
        claim, evidence, roles=True
    )
    # ...but never one of an actor the claim already names
    out = name_variants("Ukrainian forces inflicted losses on Russia.", evidence, roles=True, limit=100)
    assert not any(v.startswith("Russian forces") for v in out)


def test_a_claim_is_stated_when_one_sentence_holds_its_names_and_numbers_in_order() -> None:
    sentence = (
        "Meanwhile, U.S. Secretary of State Antony Blinken warned China of serious consequences if "
        "Beijing supplies weapons to Russia for its war against Ukraine."
    )
    claim = "Blinken warned China of serious consequences if Beijing supplies weapons to Russia."
    assert stated(claim, ["Talks went on.", sentence])
    assert not stated(
        "Blinken warned China of serious consequences if Russia supplies weapons to Beijing.", [sentence]
    )
    assert not stated(
        "Blinken warned Iran of serious consequences if Beijing supplies weapons to Russia.", [sentence]
    )
    drone = "Drone footage appeared to show that Russia lost nearly 30 armored vehicles near Vuhledar."
    assert stated("Russia lost nearly 30 armored vehicles near Vuhledar.", [drone])
    assert not stated("Russia lost nearly 40 armored vehicles near Vuhledar.", [drone])  # a number
    assert not stated("Russia lost nearly 30 armored vehicles, tanks and jets near Vuhledar.", [drone])


def test_the_screen_keeps_the_variants_the_evidence_words_as_the_claim_or_better() -> None:
    evidence = [
        "Russian forces have suffered massive losses in recent weeks around Bakhmut and Vuhledar.",
        "Zelenskiy says Ukrainian forces have inflicted significant losses on Russia.",
    ]
    # A name where the evidence has another: the variant with the evidence's name shares more.
    wrong = "Ukrainian forces have suffered massive losses around Bakhmut."
    variants = name_variants(wrong, " ".join(evidence), roles=True)
    assert favoured(wrong, variants, evidence) == [
        "Russian forces have suffered massive losses around Bakhmut."
    ]
    # A faithful claim shares its names' own neighbours: no variant can match it, none is read.
    right = "Zelenskiy says Ukrainian forces have inflicted losses on Russia."
    assert name_variants(right, " ".join(evidence), roles=True)
    assert favoured(right, name_variants(right, " ".join(evidence), roles=True), evidence) == []
    # Words no sentence shares leave the claim and its variants tied: every variant is read.
    loose = "Kyiv reports that Moscow's army lost heavily."
    variants = name_variants(loose, " ".join(evidence), roles=True)
    assert variants and favoured(loose, variants, evidence) == variants
    assert favoured(loose, variants, []) == []


def test_contrast_flips_a_claim_whose_variant_is_better_supported() -> None:
    claim = torch.tensor([0.55, 0.15, 0.30])
    variants = torch.tensor([[0.20, 0.70, 0.10], [0.90, 0.02, 0.08]])
    assert torch.equal(contrasted(claim, variants, 0.3), torch.tensor([0.08, 0.02, 0.90]))
    assert contrasted(claim, variants, 0.4) is None  # 0.90 - 0.55 < 0.4


@pytest.mark.parametrize(("margin", "screen"), [(None, False), (-1.0, False), (-1.0, True)])
def test_verify_reads_a_contrasted_claim_from_its_best_variant(margin: float | None, screen: bool) -> None:
    from test_verifier import SENTENCES, WordEncoder, tiny_net
    from transformers import AutoTokenizer

    from opslens.model.encoder import encoder_path
    from opslens.model.verifier import ClaimVerifier, VerifierConfig

    tok = AutoTokenizer.from_pretrained(encoder_path(), local_files_only=True)
    # Threshold 0: every claim would pass, so every claim with a variant is contrasted; margin
    # -1: every contrast flips. A random tiny net still shows where each number comes from.
    config = VerifierConfig(
        lora_r=4, lora_alpha=8, consistency_threshold=0.0, name_contrast=margin, contrast_screen=screen
    )
    verifier = ClaimVerifier(tiny_net(config), tok, WordEncoder())
    claims = [
        "Ukrainian forces suffered heavy losses around Bakhmut.",
        "the weather was cold.",
        "Russian forces suffered heavy losses around Bakhmut.",  # the article's own words
    ]
    checks = verifier.verify(claims, SENTENCES, attribute=False)
    window = [c.window_probabilities for c in checks]
    assert checks[1].probabilities == window[1]  # no name, no variant
    # Screened, no variant of a sentence's own words is read; else each is (roles off).
    assert (checks[2].probabilities == window[2]) == (margin is None or screen)
    if margin is None:
        assert checks[0].probabilities == window[0]
        return
    seen = [SENTENCES[i] for i in checks[0].window.indices]
    evidence = " ".join(seen)
    variants = name_variants(claims[0], evidence)
    if screen:
        kept = favoured(claims[0], variants, seen)
        # The evidence's "Russian forces" is read; names trading places lose its word pairs.
        assert "Russian forces suffered heavy losses around Bakhmut." in kept
        assert "Bakhmut forces suffered heavy losses around Ukrainian." in set(variants) - set(kept)
        variants = kept
    ids = verifier.tokens([*variants, evidence])
    scored, _ = verifier.probabilities([(v, ids[-1]) for v in ids[:-1]])
    best = scored[int(scored[:, 0].argmax())]
    got = checks[0].probabilities
    assert got["contradicted"] == pytest.approx(float(best[0]), abs=1e-6)
    assert got["supported"] == pytest.approx(float(best[2]), abs=1e-6)
    assert checks[0].verdict == max(got, key=got.__getitem__)


def test_two_names_trade_places_as_written_or_as_each_other_s_actor() -> None:
    # Two nationalities: exchanged as written. A nationality and a country: each takes the other
    # country's form in its own role, which gives back what the article said.
    assert "Russian authorities said Ukrainian shelling hit Kherson." in traded(
        "Ukrainian authorities said Russian shelling hit Kherson."
    )
    drones = "Russian drone footage showed that Ukraine lost 30 tanks near Vuhledar."
    assert "Ukrainian drone footage showed that Russia lost 30 tanks near Vuhledar." in traded(drones)
    # A person and a nationality never trade places ("Ukrainian says Zelenskiy …"), nor do names
    # only listed together.
    assert not any(t.startswith("Ukrainian says") for t in traded("Zelenskiy says Ukrainian forces held."))
    assert traded("Russia and Ukraine held talks.") == []


def test_stating_names_the_sentence_that_states_a_claim() -> None:
    sentences = ["The weather was cold.", "Russian forces suffered heavy losses around Bakhmut."]
    assert stating("Russian forces suffered heavy losses around Bakhmut.", sentences) == 1
    assert stating("Ukrainian forces suffered heavy losses around Bakhmut.", sentences) is None


@pytest.mark.parametrize("misnamed", [False, True])
def test_a_claim_the_window_states_only_of_other_names_reads_contradicted(misnamed: bool) -> None:
    from test_verifier import WordEncoder, tiny_net
    from transformers import AutoTokenizer

    from opslens.model.encoder import encoder_path
    from opslens.model.verifier import ClaimVerifier, VerifierConfig

    tok = AutoTokenizer.from_pretrained(encoder_path(), local_files_only=True)
    # Threshold 0: every claim would pass. The rule is lexical, so a random tiny net shows it.
    config = VerifierConfig(lora_r=4, lora_alpha=8, consistency_threshold=0.0, misnamed=misnamed)
    verifier = ClaimVerifier(tiny_net(config), tok, WordEncoder())
    sentences = [
        "Russian drone footage showed that Ukraine lost 30 tanks near Vuhledar.",
        "The weather in the region was cold and wet.",
    ]
    claims = [
        "Ukrainian drone footage showed that Russia lost 30 tanks near Vuhledar.",  # traded
        "Russian drone footage showed that Ukraine lost 30 tanks near Vuhledar.",  # stated
        "Belarusian drone footage showed that Ukraine lost 30 tanks near Vuhledar.",  # replaced
    ]
    checks = verifier.verify(claims, sentences, attribute=False)
    window = [c.window_probabilities for c in checks]
    assert checks[1].misnamed is None and checks[1].probabilities == window[1]
    for check, plain in zip([checks[0], checks[2]], [window[0], window[2]], strict=True):
        if not misnamed:
            assert check.misnamed is None and check.probabilities == plain
            continue
        assert check.misnamed == 0 and check.evidence == (0,)
        assert check.probabilities["contradicted"] == pytest.approx(plain["supported"])
        assert check.probabilities["supported"] == pytest.approx(plain["contradicted"])
        assert check.probabilities["not_found"] == pytest.approx(plain["not_found"])


def test_the_name_rules_read_no_headline_and_no_common_first_word_as_a_name() -> None:
    evidence = ["Jasmine Tridevil says she had a third breast implanted.", "President Zelenskiy spoke."]
    # Title Case: every word looks like a name, so the lexical rules do not read it.
    assert named_claim("Hermaphroditic Cat Is Getting Gender Assignment Surgery", evidence) is None
    # A first word is a name only if it names a country or the evidence capitalises it mid-sentence.
    assert named_claim("Woman has third breast implanted", evidence) == "woman has third breast implanted"
    assert named_claim("Zelenskiy spoke to reporters.", evidence) == "Zelenskiy spoke to reporters."
    assert named_claim("Russian forces held.", evidence) == "Russian forces held."
    assert named_claim("Ukraine has retaken Bakhmut", evidence) == "Ukraine has retaken Bakhmut"


def test_a_claim_restates_a_sentence_when_each_is_an_extract_of_the_other() -> None:
    sentence = "Russian forces have suffered massive losses in recent weeks around Bakhmut, Kyiv says."
    other = "The weather was cold."
    assert (
        restating(
            "Russian forces have suffered massive losses in recent weeks around Bakhmut, Kyiv says.",
            [other, sentence],
        )
        == 1
    )
    assert (
        restating(
            "Russian forces suffered massive losses in recent weeks around Bakhmut, Kyiv says", [sentence]
        )
        == 0
    )
    # Less than the sentence: who says it is gone, so the article does not assert it as the claim does.
    assert (
        restating("Russian forces have suffered massive losses in recent weeks around Bakhmut.", [sentence])
        is None
    )
    # Negated ("not" is a function word to `stated`), or names trading places: not restated.
    assert (
        restating(
            "Russian forces have not suffered massive losses in recent weeks around Bakhmut, Kyiv says.",
            [sentence],
        )
        is None
    )
    assert (
        restating(
            "Russian forces haven't suffered massive losses in recent weeks around Bakhmut, Kyiv says.",
            [sentence],
        )
        is None
    )
    assert (
        restating(
            "Ukrainian forces have suffered massive losses in recent weeks around Bakhmut, Kyiv says.",
            [sentence],
        )
        is None
    )
