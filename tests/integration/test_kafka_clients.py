"""The CLI's producer (`sway produce`, `sway replay`, the bench preload) sends in batches per
partition: every record arrives once, keys where Kafka's default partitioner puts them (actor
order per partition is what the edge relies on), pacing and acknowledgements as asked."""

from __future__ import annotations

import time
import uuid

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.partitioner import murmur2

from stream.kafka import client_options, ensure_topics, send_all
from stream.settings import load_settings


async def test_send_all_keeps_every_record_its_partition_and_order(broker: str) -> None:
    settings = load_settings(topic_prefix=f"itk{uuid.uuid4().hex[:8]}-", partitions=4)
    topic = settings.topic("interactions")
    await ensure_topics(settings, [topic])
    records = [(f"actor-{i % 37}".encode(), f"{i:06d}".encode() * 20) for i in range(20_000)]
    records.append((None, b"no key"))
    acked: list[int] = []
    assert await send_all(settings, topic, records, window=3000, on_sent=acked.append) == len(records)
    assert sum(acked) == len(records) and max(acked) <= 3000

    consumer = AIOKafkaConsumer(**client_options(settings), group_id=None, enable_auto_commit=False)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(4)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        got: dict[int, list[tuple[bytes | None, bytes]]] = {p: [] for p in range(4)}
        deadline = time.monotonic() + 30
        while sum(map(len, got.values())) < len(records) and time.monotonic() < deadline:
            for tp, batch in (await consumer.getmany(timeout_ms=500)).items():
                got[tp.partition].extend((r.key, r.value) for r in batch)
    finally:
        await consumer.stop()

    def order(kv: tuple[bytes | None, bytes]) -> tuple[bytes, bytes]:
        return kv[0] or b"", kv[1]

    assert sorted((kv for kvs in got.values() for kv in kvs), key=order) == sorted(records, key=order)
    for partition, kvs in got.items():
        keyed = [kv for kv in kvs if kv[0] is not None]
        assert all((murmur2(k) & 0x7FFFFFFF) % 4 == partition for k, _ in keyed)
        expected = [
            kv for kv in records if kv[0] is not None and (murmur2(kv[0]) & 0x7FFFFFFF) % 4 == partition
        ]
        assert keyed == expected  # in the order sent


async def test_send_all_keeps_the_asked_rate(broker: str) -> None:
    settings = load_settings(topic_prefix=f"itk{uuid.uuid4().hex[:8]}-", partitions=2)
    topic = settings.topic("interactions")
    began = time.monotonic()
    await send_all(settings, topic, [(b"k", b"v")] * 1500, rate=1000)
    elapsed = time.monotonic() - began
    assert 1.4 <= elapsed < 5, elapsed  # 1.5 s of sending; start-up and acks on top
