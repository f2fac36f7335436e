"""The cached Prometheus sensor exposes exactly what Faust's own does (no broker needed)."""

from __future__ import annotations

import re
from types import SimpleNamespace
from typing import Any

from faust.sensors.prometheus import FaustMetrics, PrometheusMonitor
from faust.types import TP
from prometheus_client import CollectorRegistry, generate_latest

from stream.pipeline import faust_sensor


class FakeTask:
    """A stream's owner (the sensor keys a weak map by it)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __str__(self) -> str:
        return self.name


class FakeStream:
    """What the sensor reads from a stream: its label and its owning task."""

    def __init__(self, label: str) -> None:
        self.shortlabel = f"Stream: {label}"
        self.task_owner = FakeTask(label)

    def __str__(self) -> str:
        return self.shortlabel


def drive(monitor: Any) -> None:
    """The same sequence of hook calls a worker makes: messages, events, tables, sends."""
    streams = [FakeStream("sway-interactions"), FakeStream("sway-by-actor")]
    users, actors = SimpleNamespace(name="sway-users"), SimpleNamespace(name="sway-actors")
    for i in range(60):
        tp = TP("sway-interactions" if i % 3 else "sway-by-actor", i % 4)
        message = SimpleNamespace()  # the sensor stamps time_in / time_out on it
        monitor.on_message_in(tp, 100 + i, message)
        monitor.on_stream_event_in(tp, 100 + i, streams[i % 2], SimpleNamespace())
        monitor.on_table_get(users if i % 2 else actors, f"u{i}")
        monitor.on_table_set(users, f"u{i}", {})
        if i % 7 == 0:
            monitor.on_table_del(actors, f"u{i}")
        monitor.on_send_initiated(None, "sway-scores" if i % 2 else "sway-by-target", None, 3, 40)
        monitor.on_message_out(tp, 100 + i, message)


def exposition(registry: CollectorRegistry) -> list[str]:
    """The text /metrics would serve, without the creation timestamps."""
    text = generate_latest(registry).decode()
    return [line for line in text.splitlines() if not re.search(r"_created(\{| )", line)]


def test_cached_sensor_exposes_the_same_series_and_values_as_faust_s() -> None:
    plain_registry, cached_registry = CollectorRegistry(), CollectorRegistry()
    plain = PrometheusMonitor(metrics=FaustMetrics.create(plain_registry, "faust"))
    cached = faust_sensor.create(cached_registry)
    drive(plain)
    drive(cached)

    expected = exposition(plain_registry)
    assert exposition(cached_registry) == expected
    # and the driven series are really there, with the counts of the sequence above
    assert "faust_messages_received_total 60.0" in expected
    assert 'faust_messages_received_per_topic_total{topic="sway-interactions"} 40.0' in expected
    assert 'faust_total_events_per_stream_total{stream="stream.sway-by-actor.events"} 30.0' in expected
    assert 'faust_table_operations_total{operation="keys_updated",table="table.sway-users"} 60.0' in expected
    assert 'faust_topic_messages_sent_total{topic="topic.sway-scores"} 30.0' in expected
    assert cached.messages_received_total == plain.messages_received_total == 60  # Faust's own Monitor
    assert cached.tables["sway-actors"].keys_deleted == plain.tables["sway-actors"].keys_deleted == 9
