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

Stages never wait for a send either. aiokafka's `send_batch` waits until the previous batch of
its partition has left, so a stage that sent its own batches paid a round trip per output
partition per input record: at a paced 1,000 events/s, records of a few events each, the score
stage fell behind and event->score p50 was seconds. Records are appended to one open batch per
topic partition, shared by all stages, and a sender per partition hands it over while the next
one fills (Kafka's producer batching: batches grow while a partition is busy).
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
from stream.pipeline import durability, turns
from stream.pipeline.runtime import Runtime
from stream.pipeline.topology import partition_of

#: Changelog writes cached between commits before they are sent anyway.
CACHE_KEYS = 20_000
#: Full batches waiting for their partition's sender before a stage waits with them.
QUEUED_BATCHES = 64

Where = tuple[str, int]  # (topic, partition)


class Output(Service):
    """The worker's producer for batch outputs; started with the Faust app."""

    runtime: Runtime

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.rt = self.runtime
        self.rt.output = self
        self.producer: AIOKafkaProducer | None = None
        #: sent and not yet known acknowledged: (changelog table or None, where, records, future)
        self.pending: list[tuple[Any, Where, int, asyncio.Future[Any]]] = []
        #: changelog writes not sent yet: (topic, partition) -> key -> (value or None, encode)
        self.dirty: dict[Where, dict[str, tuple[Any, Callable[[Any], bytes] | None]]] = {}
        self.dirty_keys = 0
        self._cache_lock = asyncio.Lock()
        self.tables: dict[str, Any] = {}  # changelog topic -> table
        #: the batch each topic partition is filling: [builder, records]
        self._open: dict[Where, list[Any]] = {}
        #: full batches, in order, waiting for their partition's sender
        self._full: dict[Where, list[tuple[Any, int]]] = {}
        self._queued = 0
        self._senders: dict[Where, asyncio.Task[None]] = {}
        #: batches queued and handed over per partition, ever: what settle() waits for
        self._sealed: dict[Where, int] = {}
        self._handed: dict[Where, int] = {}
        self._progress = asyncio.Event()
        self._failed: BaseException | None = None
        durability.before_commit(self.drain)

    async def on_start(self) -> None:
        self.producer = ordered_producer(self.rt.settings, linger_ms=2)
        await self.producer.start()
        self.rt.output_ready.set()

    def append(self, topic: str, partition: int, key: bytes | None, value: bytes | None) -> None:
        """Add a record to its partition's open batch (aiokafka's C batch builder: ~1 µs a
        record, against ~10 µs through `send`). Never waits."""
        assert self.producer is not None
        where = (topic, partition)
        entry = self._open.get(where)
        if entry is None:
            entry = self._open[where] = [self.producer.create_batch(), 0]
        if entry[0].append(timestamp=None, key=key, value=value) is None:  # full: queue it
            self._seal(where)
            entry = self._open[where] = [self.producer.create_batch(), 0]
            entry[0].append(timestamp=None, key=key, value=value)
        entry[1] += 1

    def _seal(self, where: Where) -> None:
        """Queue a partition's open batch for its sender."""
        entry = self._open.pop(where, None)
        if entry is not None:
            self._full.setdefault(where, []).append((entry[0], entry[1]))
            self._queued += 1
            self._sealed[where] = self._sealed.get(where, 0) + 1

    def kick(self) -> None:
        """Start a sender for every partition that has records and none running."""
        for where in (*self._full, *self._open):
            if where not in self._senders:
                self._senders[where] = asyncio.ensure_future(self._send(where))

    async def _send(self, where: Where) -> None:
        """Hand this partition's batches over in order, each once the previous one has left."""
        assert self.producer is not None
        try:
            while True:
                if where not in self._full:
                    self._seal(where)  # what gathered while the previous batch was handed over
                    if where not in self._full:
                        return
                queue = self._full[where]
                builder, count = queue.pop(0)
                self._queued -= 1
                if not queue:
                    del self._full[where]
                fut = await self.producer.send_batch(builder, where[0], partition=where[1])
                self.pending.append((self.tables.get(where[0]), where, count, fut))
                self._handed[where] = self._handed.get(where, 0) + 1
                self._progress.set()
        except Exception as exc:  # noqa: BLE001 - any failure: no later commit may pass over it
            self._failed = exc
            self._progress.set()
        finally:
            self._senders.pop(where, None)

    async def settle(self) -> None:
        """Wait until everything appended before this call has been handed over (not what the
        stages append meanwhile: under steady traffic that would never end)."""
        for where in list(self._open):
            self._seal(where)
        targets = dict(self._sealed)
        self.kick()
        while True:
            if self._failed is not None:  # sticky: that batch is redelivered after a restart
                raise self._failed
            if all(self._handed.get(where, 0) >= n for where, n in targets.items()):
                return
            self._progress.clear()
            await self._progress.wait()

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
        """Append every cached changelog write, each key once, in its latest value. Encoding
        thousands of states takes turns with the loop; the lock keeps two sends of the cache
        in order (a key cached again meanwhile must not land before its older value)."""
        async with self._cache_lock:
            dirty, self.dirty, self.dirty_keys = self.dirty, {}, 0
            for (topic, partition), keys in dirty.items():
                for key, (value, encode) in keys.items():
                    data = None if value is None or encode is None else encode(value)
                    self.append(topic, partition, key.encode(), data)
                    if turns.due():
                        self.kick()
                        await turns.take()
            self.kick()

    async def drain(self) -> None:
        """Send the changelog cache, then wait until the broker acknowledged everything sent so
        far (a send that failed raises, and the commit with it); then tell RocksDB the changelog
        offsets, as Faust's own changelog callback does."""
        await self.send_cache()
        await self.settle()
        # Every batch this drain must see acknowledged is in `pending` now. Another drain may run
        # meanwhile (a commit and a rebalance's flush): an entry leaves `pending` only once it is
        # acknowledged, so neither can let the other's offsets go before their records are
        # durable (taking the list away at the start let a concurrent commit pass unacked ones).
        mine = list(self.pending)
        results = await asyncio.gather(*(fut for *_, fut in mine))
        done = {id(entry) for entry in mine}
        kept = [entry for entry in self.pending if id(entry) not in done]
        ours = {id(entry) for entry in self.pending} & done  # not already let go by another
        self.pending = kept
        for entry, meta in zip(mine, results, strict=True):
            table, where, count, _ = entry
            if id(entry) in ours and table is not None and count:
                table.data.set_persisted_offset(TP(*where), meta.offset + count - 1)

    async def on_stop(self) -> None:
        with contextlib.suppress(Exception):  # stopping: what was not acknowledged is redelivered
            await self.drain()
        for task in list(self._senders.values()):
            task.cancel()
        self.rt.output_ready.clear()
        if self.producer is not None:
            await self.producer.stop()


class Writes:
    """The outputs of one batch record, appended to the worker's open batches (Output)."""

    def __init__(self, rt: Runtime, partition: int) -> None:
        assert rt.output is not None and rt.output.producer is not None
        self._output: Output = rt.output
        #: the partition of the record being folded: where its table writes belong (an outbox
        #: that gathers several input records moves it along, enrich.Outbox)
        self.partition = partition
        self._partitions = rt.settings.partitions

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
        self._output.append(topic, partition, None, value)

    def publish(self, topic: str, key: str, message: dict[str, Any] | None) -> None:
        """A record keyed by user, on the partition Kafka's default partitioner would pick."""
        value = None if message is None else dumps(message)
        self._output.append(topic, partition_of(key, self._partitions), key.encode(), value)

    async def flush(self) -> None:
        """Let the senders go; the next commit waits for the acknowledgements (Output.drain).
        A cache grown past CACHE_KEYS is sent too, and a stage far ahead of its senders waits
        for them (bounded memory)."""
        output = self._output
        if output.dirty_keys > CACHE_KEYS:
            await output.send_cache()
        output.kick()
        if output._queued > QUEUED_BATCHES:
            await output.settle()


def register(app: Any, rt: Runtime) -> None:
    app.service(type("BoundOutput", (Output,), {"runtime": rt}))
