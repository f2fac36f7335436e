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

Changelog records are coalesced until the next commit (Kafka Streams' record cache): a key
touched by every batch of a commit interval is encoded and produced once, as its latest value.
That is enough for recovery: a commit sends the cache before it waits for acknowledgements, so
every committed offset's effects are in the changelog, and what a crash loses past the commit is
redelivered and recognised (redelivery.py). Score updates are not cached: they leave per batch.
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

#: Changelog writes cached between commits before they are sent anyway.
CACHE_KEYS = 20_000


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
        #: changelog writes not sent yet: (topic, partition) -> key -> (value or None, encode)
        self.dirty: dict[tuple[str, int], dict[str, tuple[Any, Callable[[Any], bytes] | None]]] = {}
        self.dirty_keys = 0
        self.tables: dict[str, Any] = {}  # changelog topic -> table
        durability.before_commit(self.drain)

    async def on_start(self) -> None:
        self.producer = ordered_producer(self.rt.settings, linger_ms=2)
        await self.producer.start()
        self.rt.output_ready.set()

    def cache(
        self, table: Any, partition: int, key: str, value: Any, encode: Callable[[Any], bytes] | None
    ) -> None:
        """Remember the latest value of `key` for its changelog (None: a tombstone)."""
        topic = table.changelog_topic.get_topic_name()
        self.tables[topic] = table
        keys = self.dirty.setdefault((topic, partition), {})
        if key not in keys:
            self.dirty_keys += 1
        keys[key] = (value, encode)

    async def send_cache(self) -> None:
        """Produce every cached changelog write, each key once, in its latest value."""
        dirty, self.dirty, self.dirty_keys = self.dirty, {}, 0
        if not dirty:
            return
        writes = Writes(self.rt, 0)
        for (topic, partition), keys in dirty.items():
            writes._tables[topic] = self.tables[topic]
            for key, (value, encode) in keys.items():
                data = None if value is None or encode is None else encode(value)
                writes._append(topic, partition, key.encode(), data)
        await writes.flush()

    async def drain(self) -> None:
        """Send the changelog cache, then wait until the broker acknowledged everything sent so
        far (a send that failed raises, and the commit with it); then tell RocksDB the changelog
        offsets, as Faust's own changelog callback does."""
        await self.send_cache()
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
        """table[key] = value; its changelog record waits in the cache until the next commit."""
        table.data[key] = value
        self._output.cache(table, self.partition, key, value, encode)

    def delete(self, table: Any, key: str) -> None:
        """del table[key]; its tombstone replaces whatever the cache held for the key."""
        if key in table.data:
            del table.data[key]
        self._output.cache(table, self.partition, key, None, None)

    def send(self, topic: str, value: bytes, partition: int) -> None:
        """A batch record for the next stage."""
        self._append(topic, partition, None, value)

    def publish(self, topic: str, key: str, message: dict[str, Any] | None) -> None:
        """A record keyed by user, on the partition Kafka's default partitioner would pick."""
        value = None if message is None else dumps(message)
        self._append(topic, partition_of(key, self._partitions), key.encode(), value)

    async def flush(self) -> None:
        """Send every batch; the next commit waits for their acknowledgements (Output.drain).
        A cache grown past CACHE_KEYS between commits is sent too (bounded memory and pause)."""
        if self._output.dirty_keys > CACHE_KEYS:
            await self._output.send_cache()
        batches = self._full + [(where, b, n) for where, (b, n) in self._open.items()]
        self._full, self._open = [], {}
        for where, builder, count in batches:
            fut = await self._producer.send_batch(builder, where[0], partition=where[1])
            self._output.pending.append((self._tables.get(where[0]), where, count, fut))


def register(app: Any, rt: Runtime) -> None:
    app.service(type("BoundOutput", (Output,), {"runtime": rt}))
