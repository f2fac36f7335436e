"""Sway's Prometheus series, in one registry per app (so tests can build several apps)."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


@dataclass
class Metrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.events_in = Counter(
            "sway_events_in", "Records read from the interactions topic", registry=r
        )
        self.events_valid = Counter(
            "sway_events_valid", "Records that passed validation", registry=r
        )
        self.events_invalid = Counter(
            "sway_events_invalid",
            "Records sent to the DLQ, by kind of reason",
            ["reason"],
            registry=r,
        )
        self.duplicates = Counter(
            "sway_events_duplicate",
            "Events ignored because their event_id was already applied",
            ["stage"],
            registry=r,
        )
        self.discounted = Counter(
            "sway_events_discounted",
            "Engagements counted at reduced or zero weight, by reason",
            ["reason"],
            registry=r,
        )
        self.enrich_waits = Counter(
            "sway_enrich_waits",
            "Times enrich waited for the score stage to catch up (after restarts and bursts)",
            registry=r,
        )
        self.updates = Counter(
            "sway_score_updates",
            "Score updates emitted on the scores topic, by cause",
            ["cause"],
            registry=r,
        )
        self._latency_children: tuple[Histogram, Histogram] | None = None
        self.latency = Histogram(
            "sway_event_to_score_seconds",
            "From event to its score update: clock=processing from reading it at ingest, "
            "clock=event from its own event time (includes producer delay; large for replays)",
            ["clock"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 60, 600, 3600),
            registry=r,
        )
        self.erasures = Counter(
            "sway_erasures", "Users erased (DELETE /users/{id}) on this worker", registry=r
        )
        self.lag = Gauge(
            "sway_consumer_lag",
            "Records not yet processed, per input topic partition assigned to this worker",
            ["topic", "partition"],
            registry=r,
        )
        self.ready = Gauge(
            "sway_ready",
            "1 when the broker is reachable, partitions are assigned and recovery is done",
            registry=r,
        )
        self.erased = Gauge("sway_users_erased", "Erased user ids remembered on this worker", registry=r)
        self.users = Gauge("sway_users_scored", "Users with a score on this worker", registry=r)
        self.actors = Gauge("sway_actors_tracked", "Actors tracked on this worker", registry=r)
        self.stream_time = Gauge(
            "sway_stream_time_seconds", "Stream time of this worker (epoch seconds)", registry=r
        )

    def observe_latency(self, processing_ms: int, event_ms: int) -> None:
        """Called for every scored event: the labelled children are looked up once."""
        children = self._latency_children
        if children is None:
            children = (self.latency.labels("processing"), self.latency.labels("event"))
            self._latency_children = children
        children[0].observe(max(0, processing_ms) / 1000)
        children[1].observe(max(0, event_ms) / 1000)


def reason_kind(reason: str) -> str:
    """Low-cardinality label for a DLQ reason ('ts: ...' -> 'ts', 'malformed JSON: ...' -> ...)."""
    head = reason.split(":", 1)[0].strip()
    return head if len(head) <= 40 else "other"
