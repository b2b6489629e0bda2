"""Prometheus metrics: requests by route and status, latency, queue depth, batch sizes,
model load time, modes used, refusals, the generator's decoding and guard actions, and
/verify's readings and verdicts."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from opslens.api.batcher import BatchStats
from opslens.api.observe import Outcome
from opslens.model.results import Analysis, ResultWarning, Verification

LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
REFUSALS = ("queue_full", "streams_full", "timeout", "client_gone", "rate_limited", "shutting_down")
"""Every `reason` the API counts in opslens_refused_total (a 401 is not one of them:
opslens_requests_total has it, by status)."""


class Metrics:
    def __init__(self) -> None:
        # A registry per app, so several apps (tests) never clash on metric names.
        r = self.registry = CollectorRegistry()
        self.requests = Counter("opslens_requests_total", "HTTP requests", ["route", "status"], registry=r)
        self.latency = Histogram(
            "opslens_request_seconds", "Request latency", ["route"], buckets=LATENCY_BUCKETS, registry=r
        )
        self.model_load = Gauge("opslens_model_load_seconds", "Time to load the model", registry=r)
        self.on_demand_load = Gauge(
            "opslens_on_demand_load_seconds",
            "Time the first request waited for an optional model loaded on demand",
            ["model"],
            registry=r,
        )
        self.articles = Counter("opslens_articles_total", "Articles analysed", ["mode"], registry=r)
        self.queue_depth = Gauge("opslens_queue_articles", "Articles waiting for the model", registry=r)
        self.queue_wait = Histogram(
            "opslens_queue_wait_seconds",
            "Time a request waited for the model",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.batch_size = Histogram(
            "opslens_batch_articles", "Articles per model call", buckets=(1, 2, 4, 8, 16, 32, 64), registry=r
        )
        self.batch_seconds = Histogram(
            "opslens_batch_seconds", "Duration of one model call", buckets=LATENCY_BUCKETS, registry=r
        )
        self.refused = Counter(
            "opslens_refused_total",
            f"Requests refused or abandoned: {', '.join(REFUSALS)}",
            ["reason"],
            registry=r,
        )

        self.generated_tokens = Counter(
            "opslens_generated_tokens_total", "Tokens decoded by the abstractive generator", registry=r
        )
        self.generate_seconds = Histogram(
            "opslens_generate_seconds",
            "Decoding time of one abstractive summary",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.guard_actions = Counter(
            "opslens_faithfulness_actions_total",
            "What the faithfulness policy did: none, flagged, dropped_sentences, replaced_sentences, "
            "fallback",
            ["action"],
            registry=r,
        )
        self.verifications = Counter(
            "opslens_verifications_total",
            "Articles checked by /verify, by the summary's reading: consistent true, false, or none "
            "(claims only)",
            ["consistent"],
            registry=r,
        )
        self.statements = Counter(
            "opslens_verified_statements_total",
            "Summary sentences and claims checked by /verify, by kind and verdict",
            ["kind", "verdict"],
            registry=r,
        )
        self.warnings = Counter(
            "opslens_result_warnings_total",
            "Answers sent with a warning, by its code (e.g. not_english: the figures do not hold)",
            ["code"],
            registry=r,
        )

    def verified(self, result: Verification) -> None:
        """Count one answered /verify item: its statements by kind and verdict, and the summary's
        reading (consistent or not; `none` without a summary)."""
        for kind, statements in (("summary_sentence", result.summary), ("claim", result.claims)):
            for statement in statements:
                self.statements.labels(kind, statement.verdict).inc()
        reading = "none" if result.consistent is None else str(result.consistent).lower()
        self.verifications.labels(reading).inc()
        self._warned(result.warnings)

    def analysed(self, result: Analysis) -> None:
        """Count one answered article (by mode; for abstractive ones, decoding and the guard)."""
        self.articles.labels(result.mode).inc()
        self._warned(result.warnings)
        if result.generation is not None and result.faithfulness is not None:
            self.generated_tokens.inc(result.generation.new_tokens)
            self.generate_seconds.observe(result.timings_ms.generate_ms / 1000)
            self.guard_actions.labels(result.faithfulness.action).inc()

    def _warned(self, warnings: list[ResultWarning]) -> None:
        for warning in warnings:
            self.warnings.labels(warning.code).inc()

    def observe(self, outcome: Outcome) -> None:
        """Observer for `RequestObserver`. The route template keeps label cardinality bounded."""
        self.requests.labels(outcome.route, str(outcome.status)).inc()
        self.latency.labels(outcome.route).observe(outcome.seconds)

    def _batch(self, articles: int, seconds: float) -> None:
        self.batch_size.observe(articles)
        self.batch_seconds.observe(seconds)

    def batch_stats(self) -> BatchStats:
        return BatchStats(
            on_queue_depth=self.queue_depth.set, on_batch=self._batch, on_wait=self.queue_wait.observe
        )
