"""Sway's Prometheus series, in one registry per app (so tests can build several apps)."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import accumulate

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import HistogramMetricFamily
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString


@dataclass
class Metrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.events_in = Counter("sway_events_in", "Records read from the interactions topic", registry=r)
        self.events_valid = Counter("sway_events_valid", "Records that passed validation", registry=r)
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
        self.latency = BatchHistogram(
            "sway_event_to_score_seconds",
            "From event to its score update: clock=processing from reading it at ingest, "
            "clock=event from its own event time (includes producer delay; large for replays)",
            "clock",
            ("processing", "event"),
            (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 60, 600, 3600),
            r,
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
        self.loop_lag = Histogram(
            "sway_event_loop_lag_seconds",
            "How late a 50 ms timer fired: the longest an HTTP request or a poll waited behind "
            "other work on this worker's single event loop",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
            registry=r,
        )

    def observe_latency(self, wall_ms: int, stamps: list[int]) -> None:
        """One scored batch: `stamps` holds (read at ingest, event time) pairs, in ms."""
        self.latency.observe_ms("processing", wall_ms, stamps[0::2])
        self.latency.observe_ms("event", wall_ms, stamps[1::2])


class BatchHistogram(Collector):
    """A labelled histogram fed a batch at a time, exposed like prometheus_client's own.

    Why: the score stage times every event it scores; `Histogram.observe` costs a lock and a
    call chain per value (3.6% of a worker's samples at two values an event), here a bisect and
    an add."""

    def __init__(
        self,
        name: str,
        documentation: str,
        label: str,
        values: Iterable[str],
        buckets: Iterable[float],
        registry: CollectorRegistry,
    ) -> None:
        self.name, self.documentation, self.label = name, documentation, label
        self.bounds_ms = [b * 1000 for b in buckets]
        self._bounds = [floatToGoString(b) for b in buckets]
        self.counts = {v: [0] * (len(self.bounds_ms) + 1) for v in values}
        self.sums = dict.fromkeys(self.counts, 0.0)
        registry.register(self)

    def observe_ms(self, value: str, now_ms: int, starts_ms: Iterable[int]) -> None:
        counts, bounds, total = self.counts[value], self.bounds_ms, 0
        for start in starts_ms:
            elapsed = now_ms - start if now_ms > start else 0
            counts[bisect_left(bounds, elapsed)] += 1
            total += elapsed
        self.sums[value] += total / 1000

    def collect(self) -> Iterator[HistogramMetricFamily]:
        family = HistogramMetricFamily(self.name, self.documentation, labels=[self.label])
        for value, counts in self.counts.items():
            cumulative = list(accumulate(counts))
            buckets = [*zip(self._bounds, cumulative, strict=False), ("+Inf", cumulative[-1])]
            family.add_metric([value], buckets, self.sums[value])
        yield family


def reason_kind(reason: str) -> str:
    """Low-cardinality label for a DLQ reason ('ts: ...' -> 'ts', 'malformed JSON: ...' -> ...)."""
    head = reason.split(":", 1)[0].strip()
    return head if len(head) <= 40 else "other"
