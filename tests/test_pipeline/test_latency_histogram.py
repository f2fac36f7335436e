"""The batch-fed latency histogram reads exactly like prometheus_client's own Histogram."""

from __future__ import annotations

import random

from prometheus_client import CollectorRegistry, Histogram, generate_latest

from stream.pipeline.metrics import BatchHistogram, Metrics

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 60, 600, 3600)


def test_the_batch_histogram_exposes_what_prometheus_client_would() -> None:
    rng = random.Random(4)
    now = 10_000_000
    # bucket edges exactly, values past the last bucket, and stamps from the future (clamped)
    starts = [now - int(b * 1000) for b in BUCKETS] + [now - 7_200_000, now + 50]
    starts += [now - int(rng.expovariate(1 / 300)) for _ in range(500)]
    theirs_registry, ours_registry = CollectorRegistry(), CollectorRegistry()
    theirs = Histogram("lat_seconds", "doc", ["clock"], buckets=BUCKETS, registry=theirs_registry)
    ours = BatchHistogram("lat_seconds", "doc", "clock", ("processing", "event"), BUCKETS, ours_registry)
    for start in starts:
        theirs.labels("processing").observe(max(0, now - start) / 1000)
    theirs.labels("event")  # a child that saw nothing is still exposed, at zero
    ours.observe_ms("processing", now, starts[:100])
    ours.observe_ms("processing", now, starts[100:])

    def series(registry: CollectorRegistry) -> dict[str, float]:
        out = {}
        for line in generate_latest(registry).decode().splitlines():
            if line and not line.startswith("#") and "_created" not in line:
                name, value = line.rsplit(" ", 1)
                out[name] = float(value)
        return out

    mine, reference = series(ours_registry), series(theirs_registry)
    assert mine.keys() == reference.keys()
    for name, value in reference.items():
        assert abs(mine[name] - value) < 1e-6, name


def test_a_scored_batch_feeds_both_clocks() -> None:
    metrics = Metrics()
    metrics.observe_latency(5_000, [4_990, 1_000, 4_900, 2_000])
    text = generate_latest(metrics.registry).decode()
    assert 'sway_event_to_score_seconds_count{clock="processing"} 2.0' in text
    assert 'sway_event_to_score_seconds_bucket{clock="processing",le="0.01"} 1.0' in text
    assert 'sway_event_to_score_seconds_bucket{clock="event",le="2.5"} 0.0' in text
    assert 'sway_event_to_score_seconds_bucket{clock="event",le="5.0"} 2.0' in text
