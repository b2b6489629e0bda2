"""Service settings: environment variables with the OPSLENS_ prefix (or a .env file).
The one source of truth for every limit the API enforces; `GET /info` shows them."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Limits(BaseModel):
    max_body_bytes: int = Field(2_000_000, ge=1024, description="Largest request body (413 above).")
    max_text_chars: int = Field(100_000, ge=1, description="Longest article text, in characters.")
    max_title_chars: int = Field(1_000, ge=1)
    max_claims: int = Field(16, ge=0, description="Most claims per article.")
    max_claim_chars: int = Field(1_000, ge=1)
    max_batch_items: int = Field(16, ge=1, description="Most articles per batch request.")
    max_summary_sentences: int = Field(10, ge=1, description="Largest allowed max_sentences.")
    max_article_sentences: int = Field(
        1_000, ge=1, description="Sentences read per article; past it the response says truncated."
    )


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
    threads: int | None = Field(None, ge=1, description="torch intra-op threads; default: torch's.")
    default_max_sentences: int = Field(3, ge=1)
    log_level: str = "info"
    limits: Limits = Limits()
    ray: RayServe = RayServe()
