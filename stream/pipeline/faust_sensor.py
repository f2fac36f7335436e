"""Faust's Prometheus sensor with its labelled series looked up once, not on every message.

Why: `faust.sensors.prometheus.PrometheusMonitor` calls `.labels()` (label validation, a lock and
a dict lookup) on two series for every message read, on one for every message sent and every
table read or write, and normalises the stream's name with a regex for every event. A Sway event
is 8 Kafka messages and 2-3 table operations, so that bookkeeping was most of the sensor's cost
(docs/performance.md). This subclass keeps every series, name, label and value of the original
and caches the labelled children; `tests/test_faust_sensor.py` checks that both expose the same.
"""

from __future__ import annotations

import weakref
from typing import Any

from faust.sensors.monitor import Monitor
from faust.sensors.prometheus import FaustMetrics, PrometheusMonitor
from prometheus_client import CollectorRegistry


class CachedPrometheusMonitor(PrometheusMonitor):
    """`PrometheusMonitor` with its per-topic, per-stream and per-table children cached."""

    def __init__(self, metrics: FaustMetrics, **kwargs: Any) -> None:
        super().__init__(metrics=metrics, **kwargs)
        self._received: dict[Any, tuple[Any, Any]] = {}
        self._sent: dict[str, Any] = {}
        self._tables: dict[tuple[str, str], Any] = {}
        self._streams: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()

    def on_message_in(self, tp: Any, offset: int, message: Any) -> None:
        Monitor.on_message_in(self, tp, offset, message)
        m = self._metrics
        m.messages_received.inc()
        m.active_messages.inc()
        children = self._received.get(tp)
        if children is None:
            children = self._received[tp] = (
                m.messages_received_per_topics.labels(topic=tp.topic),
                m.messages_received_per_topics_partition.labels(topic=tp.topic, partition=tp.partition),
            )
        children[0].inc()
        children[1].set(offset)

    def on_stream_event_in(self, tp: Any, offset: int, stream: Any, event: Any) -> dict[str, Any] | None:
        state = Monitor.on_stream_event_in(self, tp, offset, stream, event)
        m = self._metrics
        m.total_events.inc()
        m.total_active_events.inc()
        child = self._streams.get(stream)
        if child is None:
            child = self._streams[stream] = m.total_events_per_stream.labels(
                stream=f"stream.{self._stream_label(stream)}.events"
            )
        child.inc()
        return state

    def _table_op(self, table: Any, operation: str) -> None:
        key = (table.name, operation)
        child = self._tables.get(key)
        if child is None:
            child = self._tables[key] = self._metrics.table_operations.labels(
                table=f"table.{table.name}", operation=operation
            )
        child.inc()

    def on_table_get(self, table: Any, key: Any) -> None:
        Monitor.on_table_get(self, table, key)
        self._table_op(table, self.KEYS_RETRIEVED)

    def on_table_set(self, table: Any, key: Any, value: Any) -> None:
        Monitor.on_table_set(self, table, key, value)
        self._table_op(table, self.KEYS_UPDATED)

    def on_table_del(self, table: Any, key: Any) -> None:
        Monitor.on_table_del(self, table, key)
        self._table_op(table, self.KEYS_DELETED)

    def on_send_initiated(self, producer: Any, topic: str, message: Any, keysize: int, valsize: int) -> Any:
        child = self._sent.get(topic)
        if child is None:
            child = self._sent[topic] = self._metrics.topic_messages_sent.labels(topic=f"topic.{topic}")
        child.inc()
        return Monitor.on_send_initiated(self, producer, topic, message, keysize, valsize)


def create(registry: CollectorRegistry, prefix: str = "faust") -> CachedPrometheusMonitor:
    """The sensor, its series registered in `registry` under `prefix` (`faust_*`)."""
    return CachedPrometheusMonitor(metrics=FaustMetrics.create(registry, prefix))
