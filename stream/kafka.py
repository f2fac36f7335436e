"""Plain aiokafka clients for the CLI and tests (producers, admin, a scores reader), built from
the one Settings object so security settings apply everywhere."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from aiokafka.partitioner import murmur2

from stream.settings import Settings

#: How long the broker may hold a fetch of a worker's consumers (the edge's, the hops', and
#: Faust's, which reads the changelogs; faust-streaming hard-codes 1,500 ms, aiokafka's default is
#: 500 ms). aiokafka keeps one fetch in flight per broker, for the partitions with nothing
#: buffered: a fetch sent while the busy partitions still had records buffered covers only quiet
#: ones, the broker holds it the whole wait, and the busy partitions cannot be fetched again
#: until it returns, so every hop can add this wait to event->score latency.
FETCH_MAX_WAIT_MS = 20


def client_options(settings: Settings) -> dict[str, Any]:
    options: dict[str, Any] = {"bootstrap_servers": settings.kafka_bootstrap_servers}
    protocol = settings.kafka_security_protocol
    if protocol != "PLAINTEXT":
        options["security_protocol"] = protocol
        if "SSL" in protocol:
            options["ssl_context"] = ssl.create_default_context()
        if protocol.startswith("SASL"):
            options["sasl_mechanism"] = settings.kafka_sasl_mechanism
            options["sasl_plain_username"] = settings.kafka_sasl_username
            options["sasl_plain_password"] = settings.kafka_sasl_password.get_secret_value()
    return options


async def ensure_topics(
    settings: Settings,
    names: Iterable[str],
    compacted: Iterable[str] = (),
    configs: dict[str, dict[str, str]] | None = None,
) -> None:
    """Create topics with SWAY_PARTITIONS partitions if they do not exist yet (`configs`: topic
    settings by name; `compacted`: a shorthand for cleanup.policy=compact)."""
    compact = set(compacted)
    configs = configs or {}
    admin = AIOKafkaAdminClient(**client_options(settings))
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [
            NewTopic(
                name,
                settings.partitions,
                1,
                topic_configs={"cleanup.policy": "compact"} if name in compact else configs.get(name, {}),
            )
            for name in names
            if name not in existing
        ]
        if wanted:
            with contextlib.suppress(TopicAlreadyExistsError):  # another producer won the race
                await admin.create_topics(wanted)
            # the broker's metadata must list them before a consumer joins a group on them
            deadline = time.monotonic() + 10.0
            missing = {t.name for t in wanted}
            while missing and time.monotonic() < deadline:
                missing -= set(await admin.list_topics())
                if missing:
                    await asyncio.sleep(0.1)
    finally:
        await admin.close()


def ordered_producer(settings: Settings, linger_ms: int) -> AIOKafkaProducer:
    """A worker's producer for pipeline records: acknowledged by every replica, and idempotent,
    so order per partition survives retries (what core/redelivery.py relies on)."""
    return AIOKafkaProducer(
        **client_options(settings),
        acks="all",
        enable_idempotence=True,
        linger_ms=linger_ms,
        max_batch_size=1024 * 1024,
        max_request_size=2 * 1024 * 1024,
    )


def make_producer(settings: Settings) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        **client_options(settings),
        linger_ms=20,
        max_batch_size=256 * 1024,
        acks=1,
        max_request_size=2 * 1024 * 1024,
    )


class Pacer:
    """Keeps a producer at `rate` records per second (0 = as fast as possible); `before_sleep`
    runs whenever it is about to wait (a Batcher sends what it holds)."""

    def __init__(self, rate: float, before_sleep: Callable[[], Awaitable[Any]] | None = None) -> None:
        self.rate = rate
        self.start = time.monotonic()
        self.sent = 0
        self.before_sleep = before_sleep

    async def tick(self, n: int = 1) -> None:
        self.sent += n
        if self.rate <= 0:
            return
        ahead = self.sent / self.rate - (time.monotonic() - self.start)
        if ahead > 0.005:
            if self.before_sleep is not None:
                await self.before_sleep()
            await asyncio.sleep(ahead)


class Batcher:
    """Records gathered into one aiokafka batch per partition and sent together: `send()` costs
    tens of µs of Python per record (a future, a partitioner call, a wait), an append to an open
    batch a few. The paced producer of scripts/api_load.py took half a core at 5,000 records/s
    sending record by record. Keys go where the default partitioner puts them."""

    def __init__(self, producer: AIOKafkaProducer, topic: str, partitions: int) -> None:
        self.producer, self.topic, self.partitions = producer, topic, partitions
        self._open: dict[int, Any] = {}  # partition -> aiokafka BatchBuilder
        self._sent: list[asyncio.Future[Any]] = []
        self.held = 0  # records added and not yet acknowledged

    async def add(self, key: bytes | None, value: bytes, timestamp_ms: int | None = None) -> None:
        if key is None:
            partition = self.held % self.partitions
        else:
            partition = (murmur2(key) & 0x7FFFFFFF) % self.partitions
        batch = self._open.get(partition)
        if batch is None:
            batch = self._open[partition] = self.producer.create_batch()
        if batch.append(key=key, value=value, timestamp=timestamp_ms) is None:  # full
            await self._send(partition, batch)
            batch = self._open[partition] = self.producer.create_batch()
            batch.append(key=key, value=value, timestamp=timestamp_ms)
        self.held += 1

    async def flush(self) -> None:
        """Hand every open batch to the producer (acks come later: `acked`)."""
        for partition, batch in self._open.items():
            await self._send(partition, batch)
        self._open.clear()

    async def acked(self) -> int:
        """Flush, wait for every batch's acknowledgement (raises the first delivery error) and
        return how many records that covered."""
        await self.flush()
        await asyncio.gather(*self._sent)
        self._sent.clear()
        done, self.held = self.held, 0
        return done

    async def _send(self, partition: int, batch: Any) -> None:
        batch.close()
        self._sent.append(await self.producer.send_batch(batch, self.topic, partition=partition))


async def partition_count(producer: AIOKafkaProducer, topic: str) -> int:
    return len(await producer.partitions_for(topic))


async def send_all(
    settings: Settings,
    topic: str,
    records: Iterable[tuple[bytes | None, bytes]],
    *,
    rate: float = 0.0,
    window: int = 2000,
    on_sent: Callable[[int], None] | None = None,
) -> int:
    """Send every (key, value) to `topic` at `rate` records/s (0: as fast as possible), at most
    `window` unacknowledged at a time; `on_sent` hears each acknowledged window. Returns the count."""
    await ensure_topics(settings, [topic])
    producer = make_producer(settings)
    await producer.start()
    try:
        batcher = Batcher(producer, topic, await partition_count(producer, topic))
        pacer = Pacer(rate, before_sleep=batcher.flush)
        sent = 0
        for key, value in records:
            await batcher.add(key, value)
            sent += 1
            if batcher.held >= window:
                acked = await batcher.acked()
                if on_sent is not None:
                    on_sent(acked)
            await pacer.tick()
        acked = await batcher.acked()
        if on_sent is not None and acked:
            on_sent(acked)
    finally:
        await producer.stop()
    return sent


async def read_topic(
    settings: Settings, topic: str, *, until_end: bool = True, timeout: float = 30.0
) -> AsyncIterator[tuple[bytes | None, bytes | None]]:
    """Every record of a topic from the beginning; stops at the end offsets seen at start."""
    consumer = AIOKafkaConsumer(
        **client_options(settings),
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        group_id=None,
    )
    await consumer.start()
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        if not partitions:
            await consumer._client.force_metadata_update()
            partitions = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        if not tps:
            return
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        end = await consumer.end_offsets(tps)
        remaining = {tp for tp in tps if end[tp] > 0}
        deadline = time.monotonic() + timeout
        while (remaining or not until_end) and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500, max_records=5000)
            for tp, records in batch.items():
                for record in records:
                    yield record.key, record.value
                if until_end and records and records[-1].offset + 1 >= end[tp]:
                    remaining.discard(tp)
    finally:
        await consumer.stop()
