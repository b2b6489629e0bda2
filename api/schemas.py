"""Request and response bodies. Request constraints come from `Limits`, so the OpenAPI
schema shows the limits the server really enforces."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from opslens.api.settings import Abstractive, Limits, Serving
from opslens.model import verification
from opslens.model.options import DEFAULT_FORMAT, Format, LanguagePolicy, Mode, Policy
from opslens.model.pipeline import AnalysisRequest
from opslens.model.results import Analysis, Verification


def _not_blank(value: str | None) -> str | None:
    if value is not None and not value.strip():
        raise ValueError("must contain non-whitespace text")
    return value


FORMAT_DOC = (
    "What `text` is. text: the article as plain text. html: a web page (a saved article, a feed "
    "item); its main content is extracted first, without menus, banners, captions or link lists, "
    "and the response then carries that extracted `text`, which all its offsets index, and the "
    "page's `title`."
)


def _fits_format(text: str, info: ValidationInfo, limits: Limits) -> str:
    """`text` within its format's limit (the schema's maxLength is the larger of the two)."""
    if "format" not in info.data:  # an invalid format has its own error
        return text
    name = "max_html_chars" if info.data["format"] == "html" else "max_text_chars"
    limit = getattr(limits, name)
    if len(text) > limit:
        raise PydanticCustomError(
            "string_too_long",
            "String should have at most {limit} characters with format {format} (limits.{name}); "
            "got {length}",
            {"format": info.data["format"], "limit": limit, "name": name, "length": len(text)},
        )
    return text


def request_models(
    limits: Limits, default_max_sentences: int, abstractive: Abstractive
) -> tuple[type[BaseModel], type[BaseModel]]:
    """Build the request models for these limits and defaults (one pair per app instance)."""
    max_chars = max(limits.max_text_chars, limits.max_html_chars)

    class SummarizeRequest(BaseModel):
        model_config = ConfigDict(extra="forbid", title="SummarizeRequest")

        # Before `text`, whose length limit depends on it.
        format: Format = Field(DEFAULT_FORMAT, description=FORMAT_DOC)
        text: str = Field(
            min_length=1,
            json_schema_extra={"maxLength": max_chars},  # enforced by _text_fits, naming the limit
            description="The article as pasted: plain text, paragraphs separated by newlines "
            "(format text), or the page's HTML (format html).",
        )
        title: Annotated[str, StringConstraints(min_length=1, max_length=limits.max_title_chars)] | None = (
            Field(
                None,
                description="Headline; when given, the response includes the article's stance toward it.",
            )
        )
        claims: list[Annotated[str, StringConstraints(min_length=1, max_length=limits.max_claim_chars)]] = (
            Field(
                default_factory=list,
                max_length=limits.max_claims,
                description="Claims to check the article's stance toward.",
            )
        )
        max_sentences: int = Field(
            default_max_sentences,
            ge=1,
            le=limits.max_summary_sentences,
            description="Most sentences in the summary (extractive mode, and its fallback).",
        )
        mode: Mode = Field(
            abstractive.default_mode,
            description="extractive: the article's own sentences (fast, the default); abstractive: "
            "SmolLM2 writes the summary and the faithfulness guard checks it.",
        )
        max_words: int = Field(
            abstractive.default_max_words,
            ge=limits.min_summary_words,
            le=limits.max_summary_words,
            description="Abstractive mode: most words in the summary.",
        )
        faithfulness_policy: Policy = Field(
            abstractive.default_policy,
            description="Abstractive mode, when the summary states a number, date or name the article "
            "lacks: flag (keep, report the spans), drop_sentence (remove those sentences; the "
            "extractive summary if none is left), replace_sentence (remove them and fill the room, up to "
            "max_words, with the extractive summary's sentences, listed in `faithfulness.quoted`) or "
            "fallback (the extractive summary instead). "
            "The response's `faithfulness.action` says what was done.",
        )

        _blank_text = field_validator("text", "title")(_not_blank)

        @field_validator("text")
        @classmethod
        def _text_fits(cls, text: str, info: ValidationInfo) -> str:
            return _fits_format(text, info, limits)

        @field_validator("claims")
        @classmethod
        def _blank_claims(cls, claims: list[str]) -> list[str]:
            for claim in claims:
                _not_blank(claim)
            return claims

        def analysis_request(self) -> AnalysisRequest:
            """What the pipeline is asked for: this body, field by field."""
            return AnalysisRequest(
                text=self.text,
                title=self.title,
                claims=tuple(self.claims),
                max_sentences=self.max_sentences,
                mode=self.mode,
                max_words=self.max_words,
                policy=self.faithfulness_policy,
                format=self.format,
            )

    class BatchRequest(BaseModel):
        model_config = ConfigDict(extra="forbid", title="BatchRequest")

        items: list[SummarizeRequest] = Field(min_length=1, max_length=limits.max_batch_items)

    return SummarizeRequest, BatchRequest


def verify_models(limits: Limits) -> tuple[type[BaseModel], type[BaseModel]]:
    """The POST /verify request models for these limits (one pair per app instance)."""
    Summary = Annotated[str, StringConstraints(min_length=1, max_length=limits.max_summary_chars)]
    max_chars = max(limits.max_text_chars, limits.max_html_chars)

    class VerifyRequest(BaseModel):
        model_config = ConfigDict(
            extra="forbid",
            title="VerifyRequest",
            # "At least one of summary and claims", for the schema's readers and generators.
            json_schema_extra={
                "anyOf": [
                    {"required": ["summary"], "properties": {"summary": {"type": "string"}}},
                    {"required": ["claims"], "properties": {"claims": {"minItems": 1}}},
                ]
            },
        )

        format: Format = Field(DEFAULT_FORMAT, description=FORMAT_DOC)  # before `text`: sets its limit
        text: str = Field(
            min_length=1,
            json_schema_extra={"maxLength": max_chars},  # enforced by _text_fits, naming the limit
            description="The source article, plain text as pasted (or the page's HTML, format html): "
            "what the summary and claims are checked against. Evidence offsets index this string "
            "(format html: the response's `text`).",
        )
        summary: Summary | None = Field(
            None,
            description="A summary of `text` (e.g. one your own LLM wrote), checked sentence by "
            "sentence; the response says whether it is consistent with the article.",
        )
        claims: list[Annotated[str, StringConstraints(min_length=1, max_length=limits.max_claim_chars)]] = (
            Field(
                default_factory=list,
                max_length=limits.max_claims,
                validate_default=True,  # so that a body with neither field is refused here
                description="Statements to check one by one against the article. Give `summary`, "
                "`claims` or both.",
            )
        )

        _blank_text = field_validator("text", "summary")(_not_blank)

        @field_validator("text")
        @classmethod
        def _text_fits(cls, text: str, info: ValidationInfo) -> str:
            return _fits_format(text, info, limits)

        @field_validator("claims")
        @classmethod
        def _claims(cls, claims: list[str], info: ValidationInfo) -> list[str]:
            for claim in claims:
                _not_blank(claim)
            # `summary` is in info.data when it was valid or absent (None); an invalid one has its
            # own error already.
            if not claims and "summary" in info.data and info.data["summary"] is None:
                raise PydanticCustomError(
                    "summary_or_claims", "give a summary, at least one claim, or both (neither was given)"
                )
            return claims

        def verify_request(self) -> verification.VerifyRequest:
            """What the pipeline is asked for: this body, field by field."""
            return verification.VerifyRequest(
                text=self.text, summary=self.summary, claims=tuple(self.claims), format=self.format
            )

    class VerifyBatchRequest(BaseModel):
        model_config = ConfigDict(extra="forbid", title="VerifyBatchRequest")

        items: list[VerifyRequest] = Field(min_length=1, max_length=limits.max_batch_items)

    return VerifyRequest, VerifyBatchRequest


class SummarizeResponse(Analysis):
    """One article's summary and stances (see the field descriptions)."""


class BatchResponse(BaseModel):
    items: list[Analysis]


class VerifyResponse(Verification):
    """A summary's sentences and the claims, each with its verdict and evidence (see the fields)."""


class VerifyBatchResponse(BaseModel):
    items: list[Verification]


class ErrorItem(BaseModel):
    loc: list[str | int] = Field(description="Where the problem is, e.g. ['body', 'claims', 3].")
    msg: str
    type: str


class ErrorResponse(BaseModel):
    detail: list[ErrorItem] | str


class InfoResponse(BaseModel):
    service: str
    version: str
    model: dict[str, Any]
    model_card: str
    limits: Limits
    serving: Serving
    abstractive: Abstractive
    language_policy: LanguagePolicy = Field(description="A text not in English: warn or reject (422).")
    auth: dict[str, Any] = Field(description="Whether API keys are required, and the per-key rate limit.")
    libraries: dict[str, str]
