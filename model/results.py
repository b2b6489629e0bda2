"""What the inference pipeline returns. Plain pydantic models: no HTTP here; the API
serialises them as they are, so the JSON contract and the Python API are the same.

The faithfulness guard's results (`Faithfulness` and its parts) are here too: the guard
itself lives in `opslens.model.faithfulness`."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from opslens.model.options import DEFAULT_BACKEND, DEFAULT_MODE, Mode, Policy, Verdict


def _absent(value: object) -> bool:
    return value is None


# Set only for format "html", and left out of the JSON otherwise, so that a plain-text answer
# is exactly what it was before HTML input existed.
EXTRACTED_TEXT = Field(
    None,
    exclude_if=_absent,
    description='format "html" only: the article as extracted from the page; every '
    "offset in this answer indexes this string, not the HTML sent.",
)
PAGE_TITLE = Field(
    None,
    exclude_if=_absent,
    description='format "html" only: the headline stances were read against: the caller\'s `title`, '
    "or else the page's own (og:title, JSON-LD headline, <h1> or <title>); absent when neither exists.",
)

SpanKind = Literal["number", "date", "entity", "rare_word"]
Action = Literal["none", "flagged", "dropped_sentences", "replaced_sentences", "fallback"]
Alignment = Literal["encoder", "lexical"]
WarningCode = Literal["not_english", "language_undetermined", "mixed_language"]


class Support(BaseModel):
    """An article sentence that supports a summary sentence."""

    index: int = Field(description="Position among the article's sentences (0-based).")
    text: str = Field(description="Exactly article[start:end].")
    start: int
    end: int
    score: float = Field(description="Cosine similarity (encoder) or content-word coverage (lexical).")


class UnsupportedSpan(BaseModel):
    kind: SpanKind
    text: str = Field(description="Exactly generated[start:end].")
    start: int
    end: int
    normalized: str = Field(description="The form that was looked up in the article.")
    sentence: int = Field(description="Index of the summary sentence holding the span.")


class CheckedSentence(BaseModel):
    text: str = Field(description="Exactly generated[start:end].")
    start: int
    end: int
    evidence: list[Support] = Field(description="Best supporting article sentences, best first.")
    unsupported: list[UnsupportedSpan]
    kept: bool = Field(description="Whether the sentence is in the final summary.")
    verdict: Verdict | None = Field(
        None, description="The claim verifier's reading of the sentence against the article (null: none)."
    )
    verdict_probability: float | None = Field(None, description="Calibrated probability of `verdict`.")


class SummarySentence(BaseModel):
    index: int = Field(description="Position among the article's sentences (0-based).")
    text: str = Field(description="Exactly text[start:end] of the submitted text.")
    start: int
    end: int
    score: float = Field(description="Probability that the sentence belongs in a summary.")


class Faithfulness(BaseModel):
    generated: str = Field(description="The summary as the generator wrote it; all offsets index it.")
    summary: str = Field(description="The summary after the policy was applied.")
    policy: Policy
    action: Action = Field(
        description="none: nothing unsupported; flagged: kept as written; dropped_sentences: "
        "sentences with unsupported spans (or, with the verifier, contradicted or not found in the "
        "article) removed; replaced_sentences: those removed and the room they left (up to "
        "`max_words`) filled with sentences of the extractive summary, listed in `quoted`; fallback: "
        "replaced by the extractive summary."
    )
    detail: str = Field(description="What was done, in words.")
    alignment: Alignment
    sentences: list[CheckedSentence]
    unsupported: list[UnsupportedSpan]
    quoted: list[SummarySentence] = Field(
        default_factory=list,
        description="replace_sentence: article sentences served after the kept generated ones, in "
        "article order (offsets index the article, not `generated`).",
    )

    @property
    def faithful(self) -> bool:
        rejected = ("contradicted", "not_found")
        return not self.unsupported and not any(s.verdict in rejected for s in self.sentences)


class Evidence(BaseModel):
    index: int
    text: str
    start: int
    end: int
    weight: float = Field(
        description="How strongly the model tied this sentence to the claim: the stance head's attention "
        "weight, or (label from the claim verifier) the sentence's retrieval score in its evidence window."
    )


class Stance(BaseModel):
    claim: str
    label: str = Field(description="FNC-1 label: agree, disagree, discuss or unrelated.")
    reading: str = Field(
        description="What the article does with the claim: asserts, reports, disputes, or does not address."
    )
    probabilities: dict[str, float]
    evidence: Evidence | None = Field(
        description="The sentence that weighed most in the decision (none for 'unrelated')."
    )


class Truncation(BaseModel):
    truncated: bool
    sentences_total: int
    sentences_used: int
    limit: int


class ModelInfo(BaseModel):
    name: str
    version: str
    encoder: str
    backend: str = Field(DEFAULT_BACKEND, description="Encoder backend: torch (reference) or onnx (int8).")
    extractive: str = Field(
        "frozen sentence vectors + inter-sentence Transformer",
        description="The extractive model: the fine-tuned encoder (OPSLENS_EXTRACTIVE=finetuned, when the "
        "artifact has one) or the scorer over frozen sentence vectors.",
    )
    generator: str | None = Field(
        None, description="The abstractive generator and its engine; null when abstractive mode is off."
    )
    on_demand: list[str] = Field(
        default_factory=list,
        description="Optional models this server loads on their first use and has not loaded yet "
        "(OPSLENS_ABSTRACTIVE=auto: 'generator', until the first abstractive request).",
    )
    verifier: str | None = Field(
        None, description="The claim verifier (cross-encoder); null when the artifact has none or it is off."
    )


LOAD_MS = (
    "Time this request waited, before total_ms, for models that load on their first use "
    "(OPSLENS_VERIFIER / OPSLENS_ABSTRACTIVE=auto): the first request that needs one; 0 otherwise."
)


class Timings(BaseModel):
    parse_ms: float
    encode_ms: float
    summarize_ms: float
    stance_ms: float
    generate_ms: float = Field(0.0, description="Abstractive mode: decoding the summary.")
    check_ms: float = Field(0.0, description="Abstractive mode: the faithfulness guard.")
    verify_ms: float = Field(
        0.0, description="The claim verifier's share of the stances (the guard's verdicts are in check_ms)."
    )
    total_ms: float
    load_ms: float = Field(0.0, description=LOAD_MS)


class GenerationInfo(BaseModel):
    engine: str = Field(description="ctranslate2-int8 (fast) or transformers-fp32 (reference).")
    adapter: bool = Field(description="False when the zero-shot base model wrote the summary.")
    max_words: int
    prompt_tokens: int
    new_tokens: int
    article_truncated: bool = Field(description="The article was cut to the generator's token budget.")


class Language(BaseModel):
    """The language of the text the models read (the article after cleaning)."""

    code: str = Field(
        description="ISO 639-1 code where there is one (else ISO 639-3); 'und' when it cannot be told: "
        "too few letters, or confidence under the identifier's threshold."
    )
    name: str | None = Field(description="The language's English name.")
    confidence: float = Field(
        description="The identifier's probability for its best guess (with 'und': for the guess "
        "it did not trust; 0 when the text was too short to guess)."
    )


class ResultWarning(BaseModel):
    """Why a result may not hold: read `message`, branch on `code`."""

    code: WarningCode
    message: str


class Analysis(BaseModel):
    mode: Mode = Field(DEFAULT_MODE, description="How the summary was written.")
    summary: str = Field(
        description="extractive: the selected sentences, in article order, joined by spaces. "
        "abstractive: the generated summary after the faithfulness policy (see `faithfulness`)."
    )
    sentences: list[SummarySentence] = Field(
        description="The extractive selection (in abstractive mode: the fallback summary's sentences)."
    )
    title_stance: Stance | None = Field(description="Stance toward the title, when one was given.")
    claim_stances: list[Stance]
    n_sentences: int = Field(description="Article sentences found after cleaning.")
    dropped_blocks: int = Field(description="Blocks removed as boilerplate, headings or junk.")
    truncated: bool = Field(description="True when a configured limit cut the article.")
    truncation: Truncation
    text: str | None = EXTRACTED_TEXT
    title: str | None = PAGE_TITLE
    faithfulness: Faithfulness | None = Field(
        None,
        description="Abstractive mode: evidence for each generated sentence, unsupported numbers/dates/"
        "names with offsets, and what the policy did.",
    )
    generation: GenerationInfo | None = Field(None, description="Abstractive mode: how it was decoded.")
    language: Language | None = Field(None, description="The article's language, as identified.")
    warnings: list[ResultWarning] = Field(
        default_factory=list, description="Reasons the figures may not hold (e.g. a text not in English)."
    )
    model: ModelInfo
    timings_ms: Timings


class VerifiedEvidence(BaseModel):
    """An article sentence the verifier's verdict rests on."""

    index: int = Field(description="Position among the article's sentences (0-based).")
    text: str = Field(description="Exactly text[start:end] of the submitted text.")
    start: int
    end: int


class VerifiedStatement(BaseModel):
    """One summary sentence or claim, checked against the article."""

    text: str = Field(description="A summary sentence: exactly summary[start:end]. A claim: the claim.")
    start: int = Field(description="Offset into the submitted summary (a claim: 0).")
    end: int = Field(description="Offset into the submitted summary (a claim: its length).")
    verdict: Verdict
    probabilities: dict[Verdict, float] = Field(description="Calibrated; they sum to 1.")
    evidence: list[VerifiedEvidence] = Field(description="The article sentence(s) that decided it, in order.")
    unsupported: list[UnsupportedSpan] = Field(
        description="Numbers, dates, names (and rare words in lower-case text) the article lacks; offsets "
        "index the summary (a claim: the claim), `sentence` is the statement's position."
    )


class VerifyTimings(BaseModel):
    parse_ms: float
    encode_ms: float
    verify_ms: float
    total_ms: float
    load_ms: float = Field(0.0, description=LOAD_MS)


class Verification(BaseModel):
    summary: list[VerifiedStatement] = Field(description="One per summary sentence; empty without a summary.")
    claims: list[VerifiedStatement] = Field(description="One per claim, in the order given.")
    consistent: bool | None = Field(description="Summary only: score >= threshold; null without a summary.")
    score: float | None = Field(
        description="Summary consistency score in [0, 1]: the lowest P(supported) over its sentences."
    )
    threshold: float = Field(description="The decision threshold stored in the artifact.")
    text: str | None = EXTRACTED_TEXT
    title: str | None = PAGE_TITLE
    language: Language | None = Field(None, description="The article's language, as identified.")
    warnings: list[ResultWarning] = Field(
        default_factory=list, description="Reasons the figures may not hold (e.g. a text not in English)."
    )
    model: ModelInfo
    timings_ms: VerifyTimings
