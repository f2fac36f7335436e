"""The edge: `interactions` read in batches with aiokafka, validated, and forwarded as one
record per actor partition per poll.

Why not a Faust agent: Faust's per-record cost (~75 µs to consume, more to produce) on a topic
that holds one interaction per record was most of the pipeline's cost. Here a poll of thousands
of records costs one await; the bad go to the DLQ with a reason, the good are stamped with their
origin (partition, offset: how later stages recognise redeliveries, core/redelivery.py) and
their lane (the `sway-by-actor` partition their actor hashes to), and leave as batch records
(batches.py). Input offsets are committed only once the broker acknowledged every record the
poll produced, DLQ included: at-least-once, with redeliveries recognised downstream.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError
from mode import Service

from stream.codec import dumps
from stream.events.validate import Rejected, validate_event
from stream.kafka import FETCH_MAX_WAIT_MS, client_options, ensure_topics, ordered_producer
from stream.pipeline import batches, turns
from stream.pipeline.metrics import reason_kind
from stream.pipeline.runtime import Runtime
from stream.pipeline.topology import consumer_groups, partition_of

log = logging.getLogger(__name__)

#: Records per poll, and how long a poll waits for the first one (an idle stream's latency).
MAX_POLL = 5000
POLL_MS = 50
#: Once a poll has records, how long it gathers more before forwarding them: every forwarded
#: poll costs each later stage a record per partition, so at low rates polls of a few records
#: (getmany answers as soon as anything is there) cost far more than the events in them.
LINGER_MS = 20
#: After a failed produce, wait this long before fetching the same records again.
RETRY_S = 1.0


def dead_letter(reason: str, raw: bytes, record: Any, at_ms: int) -> bytes:
    return dumps(
        {
            "error": reason,
            "raw": raw[: 64 * 1024].decode("utf-8", errors="replace"),
            "topic": record.topic,
            "partition": record.partition,
            "offset": record.offset,
            "at": at_ms,
        }
    )


class Edge(Service):
    """Started with the Faust app (after table recovery), stopped with it: `register` binds a
    subclass to the runtime, which Faust instantiates as an `@app.service`."""

    runtime: Runtime

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.rt = rt = self.runtime
        rt.edge = self  # observe.py reads its lag
        settings = rt.settings
        self.source = settings.topic("interactions")
        self.dlq = settings.topic("interactions.dlq")
        self.lanes = settings.topic("sway-by-actor")
        (self.group,) = (g for g, topics in consumer_groups(settings).items() if self.source in topics)
        self.consumer: AIOKafkaConsumer | None = None
        self.producer: AIOKafkaProducer | None = None
        #: per input partition: the offset after the last record forwarded (for lag and progress)
        self.position: dict[int, int] = {}

    async def on_start(self) -> None:
        settings = self.rt.settings
        await ensure_topics(settings, [self.source, self.dlq])
        self.producer = ordered_producer(settings, linger_ms=5)
        self.consumer = AIOKafkaConsumer(
            self.source,
            **client_options(settings),
            group_id=self.group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=MAX_POLL,
            max_partition_fetch_bytes=4 * 1024 * 1024,
            # one fetch in flight per broker: a fetch for the partitions with nothing buffered
            # may be held this long while the others wait (kafka.FETCH_MAX_WAIT_MS)
            fetch_max_wait_ms=FETCH_MAX_WAIT_MS,
        )
        await self.producer.start()
        await self.consumer.start()

    async def on_stop(self) -> None:
        if self.consumer is not None:
            await self.consumer.stop()
        if self.producer is not None:
            await self.producer.stop()

    @Service.task
    async def _poll(self) -> None:
        assert self.consumer is not None
        while not self.should_stop:
            got: dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]] = {}
            try:
                got = await self._gather()
                if got:
                    await self.forward(got)
            except CommitFailedError:
                # a rebalance took partitions away after their records were forwarded: the new
                # owner reads them again from the last commit, and the stages recognise them
                log.info("edge commit failed in a rebalance; the records are read again")
            except Exception:
                log.warning("forwarding a poll failed; fetching it again in %.0fs", RETRY_S, exc_info=True)
                self._rewind(got)
                await asyncio.sleep(RETRY_S)

    async def _gather(self) -> dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]:
        """One poll, then more for up to LINGER_MS while it holds fewer than MAX_POLL records."""
        assert self.consumer is not None
        got = await self.consumer.getmany(timeout_ms=POLL_MS, max_records=MAX_POLL)
        if not got:
            return got
        until = time.monotonic() + LINGER_MS / 1000
        total = sum(len(r) for r in got.values())
        while total < MAX_POLL and (left := until - time.monotonic()) > 0:
            wait_ms = max(1, int(left * 1000))
            more = await self.consumer.getmany(timeout_ms=wait_ms, max_records=MAX_POLL - total)
            for tp, records in more.items():
                got.setdefault(tp, []).extend(records)
                total += len(records)
        return got

    def _rewind(self, got: dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]) -> None:
        """Fetch a poll's records again, on the partitions this worker still owns."""
        assert self.consumer is not None
        owned = self.consumer.assignment()
        for tp, records in got.items():
            if tp in owned:
                with contextlib.suppress(IllegalStateError):  # revoked meanwhile
                    self.consumer.seek(tp, records[0].offset)

    async def forward(self, got: dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]) -> None:
        """Validate one poll, produce its lanes' batches and its dead letters, wait for every
        acknowledgement, then commit."""
        assert self.producer is not None and self.consumer is not None
        rt, metrics = self.rt, self.rt.metrics
        wall = rt.wall_ms()
        max_future_ms = int(rt.settings.max_future * 1000)
        partitions = rt.settings.partitions
        lanes: dict[int, list[dict[str, Any]]] = {}
        sends = []
        invalid = 0
        for tp, records in got.items():
            for record in records:
                if turns.due():
                    await turns.take()
                raw = record.value or b""
                event = validate_event(raw, now_ms=wall, max_future_ms=max_future_ms)
                if isinstance(event, Rejected):
                    invalid += 1
                    metrics.events_invalid.labels(reason_kind(event.reason)).inc()
                    letter = dead_letter(event.reason, raw, record, wall)
                    sends.append(await self.producer.send(self.dlq, value=letter))
                    continue
                event["in_ms"] = wall  # processing-time start, for the latency histogram
                event["src"] = [tp.partition, record.offset]
                lane = partition_of(event["actor_id"], partitions)
                event["lane"] = lane
                lanes.setdefault(lane, []).append(event)
        total = sum(len(r) for r in got.values())
        metrics.events_in.inc(total)
        metrics.events_valid.inc(total - invalid)
        for lane, events in lanes.items():
            if turns.due():
                await turns.take()
            for value in batches.encode(events):
                sends.append(await self.producer.send(self.lanes, value=value, partition=lane))
        await asyncio.gather(*sends)
        offsets = {tp: records[-1].offset + 1 for tp, records in got.items()}
        await self.consumer.commit(offsets)
        for tp, offset in offsets.items():
            self.position[tp.partition] = offset

    def lag(self) -> dict[int, int]:
        """Records behind the end of each assigned `interactions` partition."""
        consumer = self.consumer
        if consumer is None:
            return {}
        out = {}
        for tp in consumer.assignment():
            end = consumer.highwater(tp)
            if end is not None:
                out[tp.partition] = max(0, end - self.position.get(tp.partition, end))
        return out


def register(app: Any, rt: Runtime) -> None:
    app.service(type("BoundEdge", (Edge,), {"runtime": rt}))
