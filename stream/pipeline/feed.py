"""The live feed behind the dashboard: one consumer per worker follows the whole `scores` topic
from its end and fans each update out to the connected browsers (server-sent events).

Why not a table: the feed keeps nothing, so no worker holds a copy of every score; it only starts
when the first browser connects.
"""

from __future__ import annotations

import asyncio
import contextlib

from aiokafka import AIOKafkaConsumer, TopicPartition

from stream.kafka import client_options
from stream.settings import Settings

#: Updates buffered per browser; a slower browser loses the oldest (it refreshes the board anyway).
QUEUE_SIZE = 1000


def sse(record_key: bytes | None, value: bytes | None) -> bytes:
    """One server-sent event: `score` with the update's JSON, or `erase` with the user id."""
    if value is None:
        user = (record_key or b"").decode("utf-8", errors="replace")
        return b"event: erase\ndata: " + user.encode() + b"\n\n"
    return b"event: score\ndata: " + value.replace(b"\n", b" ") + b"\n\n"


class ScoreFeed:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.subscribers: set[asyncio.Queue[bytes]] = set()
        self.wanted = asyncio.Event()
        #: set once the consumer is positioned at the end of `scores`: from then on nothing is missed
        self.following = asyncio.Event()

    def subscribe(self) -> asyncio.Queue[bytes]:
        queue: asyncio.Queue[bytes] = asyncio.Queue(QUEUE_SIZE)
        self.subscribers.add(queue)
        self.wanted.set()
        return queue

    def unsubscribe(self, queue: asyncio.Queue[bytes]) -> None:
        self.subscribers.discard(queue)

    def publish(self, item: bytes) -> None:
        for queue in self.subscribers:
            if queue.full():
                with contextlib.suppress(asyncio.QueueEmpty):
                    queue.get_nowait()
            queue.put_nowait(item)

    async def run(self) -> None:
        """Wait for the first browser, then follow `scores` until the worker stops."""
        await self.wanted.wait()
        topic = self.settings.topic("scores")
        consumer = AIOKafkaConsumer(**client_options(self.settings), group_id=None, enable_auto_commit=False)
        await consumer.start()
        try:
            partitions: set[int] | None = None
            while not partitions:
                await consumer._client.force_metadata_update()  # aiokafka has no public refresh
                partitions = consumer.partitions_for_topic(topic)
                if not partitions:
                    await asyncio.sleep(1.0)
            tps = [TopicPartition(topic, p) for p in sorted(partitions)]
            consumer.assign(tps)
            await consumer.seek_to_end(*tps)
            for tp in tps:
                await consumer.position(tp)  # resolves the end offsets now, not at the first fetch
            self.following.set()
            while True:
                batch = await consumer.getmany(timeout_ms=500, max_records=2000)
                for records in batch.values():
                    for r in records:
                        self.publish(sse(r.key, r.value))
        finally:
            await consumer.stop()
