"""What a batch writes: table changelog records and score updates, produced with aiokafka.

Why not through Faust: `table[key] = value` and `topic.send()` each cost a trip through Faust's
producer buffer, its sensors and its commit-time flush (py-spy: 70% of a worker's time at one
changelog record and one update per touched user per batch). Here a batch stores its values in
the table's store directly (`table.data`, no changelog) and produces their changelog records and
score updates with one aiokafka producer. A stage does not wait for their acknowledgements; every
commit does (durability.before_commit), so Faust commits an input offset only after everything
it caused is durable, and the stages never stall on a round trip per batch. Recovery
reads these changelog records like Faust's own (same topic, partition, key and value codec), and
RocksDB learns their offsets as Faust's callback would tell it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

from aiokafka import AIOKafkaProducer
from faust.types import TP
from mode import Service

from stream.codec import dumps
from stream.kafka import ordered_producer
from stream.pipeline import durability
from stream.pipeline.runtime import Runtime
from stream.pipeline.topology import partition_of


class Output(Service):
    """The worker's producer for batch outputs; started with the Faust app."""

    runtime: Runtime

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.rt = self.runtime
        self.rt.output = self
        self.producer: AIOKafkaProducer | None = None
        #: sent and not yet known acknowledged: (changelog table or None, where, records, future)
        self.pending: list[tuple[Any, tuple[str, int], int, asyncio.Future[Any]]] = []
        durability.before_commit(self.drain)

    async def on_start(self) -> None:
        self.producer = ordered_producer(self.rt.settings, linger_ms=2)
        await self.producer.start()
        self.rt.output_ready.set()

    async def drain(self) -> None:
        """Wait until the broker acknowledged everything sent so far (a send that failed raises,
        and the commit with it); then tell RocksDB the changelog offsets, as Faust's own
        changelog callback does."""
        pending, self.pending = self.pending, []
        results = await asyncio.gather(*(fut for *_, fut in pending))
        for (table, where, count, _), meta in zip(pending, results, strict=True):
            if table is not None and count:
                table.data.set_persisted_offset(TP(*where), meta.offset + count - 1)

    async def on_stop(self) -> None:
        with contextlib.suppress(Exception):  # stopping: what was not acknowledged is redelivered
            await self.drain()
        self.rt.output_ready.clear()
        if self.producer is not None:
            await self.producer.stop()


class Writes:
    """The outputs of one batch record: appended to one record batch per topic partition
    (aiokafka's C batch builder: ~1 µs a record, against ~10 µs through `send`), sent at
    `flush`. Appending never waits, so a fold's loop has no await per key."""

    def __init__(self, rt: Runtime, partition: int) -> None:
        assert rt.output is not None and rt.output.producer is not None
        self._output: Output = rt.output
        self._producer: AIOKafkaProducer = rt.output.producer
        #: the partition of the record being folded: where its table writes belong (an outbox
        #: that gathers several input records moves it along, enrich.Outbox)
        self.partition = partition
        self._partitions = rt.settings.partitions
        self._open: dict[tuple[str, int], list[Any]] = {}  # (topic, partition) -> [builder, count]
        self._full: list[tuple[tuple[str, int], Any, int]] = []
        self._tables: dict[str, Any] = {}  # changelog topic -> table

    def _append(self, topic: str, partition: int, key: bytes | None, value: bytes | None) -> None:
        where = (topic, partition)
        entry = self._open.get(where)
        if entry is None:
            entry = self._open[where] = [self._producer.create_batch(), 0]
        if entry[0].append(timestamp=None, key=key, value=value) is None:  # full: start anew
            self._full.append((where, entry[0], entry[1]))
            entry = self._open[where] = [self._producer.create_batch(), 0]
            entry[0].append(timestamp=None, key=key, value=value)
        entry[1] += 1

    def store(self, table: Any, key: str, value: Any, encode: Callable[[Any], bytes]) -> None:
        """table[key] = value, with its changelog record produced here."""
        table.data[key] = value
        topic = table.changelog_topic.get_topic_name()
        self._tables[topic] = table
        self._append(topic, self.partition, key.encode(), encode(value))

    def delete(self, table: Any, key: str) -> None:
        """del table[key], with its tombstone produced here (in order with the writes)."""
        if key in table.data:
            del table.data[key]
        topic = table.changelog_topic.get_topic_name()
        self._tables[topic] = table
        self._append(topic, self.partition, key.encode(), None)

    def send(self, topic: str, value: bytes, partition: int) -> None:
        """A batch record for the next stage."""
        self._append(topic, partition, None, value)

    def publish(self, topic: str, key: str, message: dict[str, Any] | None) -> None:
        """A record keyed by user, on the partition Kafka's default partitioner would pick."""
        value = None if message is None else dumps(message)
        self._append(topic, partition_of(key, self._partitions), key.encode(), value)

    async def flush(self) -> None:
        """Send every batch; the next commit waits for their acknowledgements (Output.drain)."""
        batches = self._full + [(where, b, n) for where, (b, n) in self._open.items()]
        self._full, self._open = [], {}
        for where, builder, count in batches:
            fut = await self._producer.send_batch(builder, where[0], partition=where[1])
            self._output.pending.append((self._tables.get(where[0]), where, count, fut))


def register(app: Any, rt: Runtime) -> None:
    app.service(type("BoundOutput", (Output,), {"runtime": rt}))
