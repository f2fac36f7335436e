"""The internal hops, `sway-by-actor` (enrich) and `sway-by-target` (score), read with aiokafka on
the worker's own event loop; Faust keeps the tables and decides who owns which partition.

Why not through Faust's agents: faust-streaming runs its consumer in a thread of its own and
hands records over one at a time (a task and a wait per record, a cross-thread call per fetch).
At a paced 5,000 events/s a plain aiokafka reader saw a by-target record 18 ms (p50) after it was
produced, the score agent 0.8-1.5 s after, while it sat idle three quarters of the time: event to
score took a second. Faust's fetch loop also needed four fixes of its own (the old fetch_order.py) to
keep records in order and commits honest, and a partition that had never been committed started at
whatever record Faust first handed over, so records before it could be skipped (issue F's window).

How ownership stays Faust's: the agents still subscribe to both topics, so Faust's group assigns
them with the tables (co-partitioned, recovered from their changelogs), but its consumer leaves
their records alone (faust_reads.py). This reader takes the partitions Faust made this worker
active for, once recovery is done, and reads each from the offset committed in a group of its own
(`<app id>-hops`, offsets only: the reader assigns partitions itself and never joins), or from the
log's first record when there is none, so no record is skipped; what is read twice is recognised
by its origin offsets (core/redelivery.py). An offset is committed only after everything its
record caused is acknowledged (Output.drain), every COMMIT_S and before Faust gives a partition
away: Faust awaits `on_partitions_revoked` inside the rebalance, so the next owner reads from
there.

Backpressure: enrich pauses while the score stage owes more than backpressure.LIMIT records and goes
on at RESUME or fewer (backpressure.py says why the score stage must stay close behind).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from mode import Service

from stream.core.state import UserState
from stream.kafka import FETCH_MAX_WAIT_MS, client_options
from stream.pipeline import durability, turns
from stream.pipeline.backpressure import Hysteresis
from stream.pipeline.runtime import Runtime
from stream.pipeline.topology import consumer_groups, partition_of

log = logging.getLogger(__name__)

#: A handler takes one batch record: its value, its partition, and how many records of its
#: topic are still waiting in this poll (enrich sends its outbox when none is).
Handler = Callable[[bytes, int, int], Awaitable[None]]

#: Records per poll (each a batch of up to 500 events), and how long a poll waits when nothing
#: is there.
MAX_RECORDS = 32
POLL_MS = 50
#: Offsets are committed this often (after their effects are acknowledged).
COMMIT_S = 1.0


class Hops(Service):
    """Started with the Faust app; `register` binds a subclass to the runtime."""

    runtime: Runtime
    faust_app: Any

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.rt = rt = self.runtime
        rt.hops = self
        settings = rt.settings
        self.actor_topic = rt.topology.by_actor.get_topic_name()
        self.target_topic = rt.topology.by_target.get_topic_name()
        self.topics = (self.actor_topic, self.target_topic)
        (self.group,) = (g for g, topics in consumer_groups(settings).items() if self.actor_topic in topics)
        self.consumer: AIOKafkaConsumer | None = None
        #: per assigned partition: the offset after the last record processed (what a commit
        #: sends), and the offsets last committed
        self.done: dict[TopicPartition, int] = {}
        self.committed: dict[TopicPartition, int] = {}
        self.processed = 0  # records processed, ever (the stall check of observe.py)
        self._assigned: frozenset[TopicPartition] = frozenset()
        self._lock = asyncio.Lock()  # held while a poll is processed or offsets committed
        self._committed_at = time.monotonic()
        self._throttle = Hysteresis()

    async def on_start(self) -> None:
        self.consumer = AIOKafkaConsumer(
            **client_options(self.rt.settings),
            group_id=self.group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",  # never committed: from the first record (issue F)
            max_poll_records=MAX_RECORDS,
            max_partition_fetch_bytes=4 * 1024 * 1024,
            fetch_max_wait_ms=FETCH_MAX_WAIT_MS,
        )
        await self.consumer.start()
        self.faust_app.on_partitions_revoked.connect(self._on_revoked)  # type: ignore[attr-defined]

    async def on_stop(self) -> None:
        if self.consumer is None:
            return
        try:
            async with self._lock:
                await self._commit()
        except Exception:  # stopping: what is not committed is read again
            log.warning("committing the hops at stop failed; their records are read again", exc_info=True)
        await self.consumer.stop()

    # --- ownership ------------------------------------------------------------------------

    def _wanted(self) -> frozenset[TopicPartition]:
        """The partitions of both topics Faust made this worker active for, once recovered."""
        app = self.faust_app
        if app.rebalancing or app.in_recovery:  # type: ignore[attr-defined]
            return frozenset()
        try:
            actives = app.assignor.assigned_actives()  # type: ignore[attr-defined]
        except Exception:  # noqa: BLE001 - no assignment yet
            return frozenset()
        return frozenset(TopicPartition(tp.topic, tp.partition) for tp in actives if tp.topic in self.topics)

    async def _on_revoked(self, app: Any, revoked: Any = None, **kwargs: Any) -> None:
        """Inside Faust's rebalance: finish the poll in hand, commit, and let every partition go
        (the ones kept are taken again from their commit once recovery is done)."""
        async with self._lock:
            try:
                await self._commit()
            except Exception:  # the next owner reads from the last commit
                log.warning("the hops commit in a rebalance failed; records are read again", exc_info=True)
            self._assign(frozenset())

    def _assign(self, tps: frozenset[TopicPartition]) -> None:
        assert self.consumer is not None
        self.consumer.assign(sorted(tps))
        self._assigned = tps
        self.done = {}
        self.committed = {}
        self._throttle.reset()
        self._index()

    def _index(self) -> None:
        """The leaderboard of the score partitions just taken, from their recovered table."""
        rt, n = self.rt, self.rt.settings.partitions
        taken = {tp.partition for tp in self._assigned if tp.topic == self.target_topic}
        users = rt.topology.users.data.items() if taken else ()
        rt.board.rebuild(taken, ((partition_of(k, n), v) for k, v in users if isinstance(v, UserState)))

    async def _positions(self) -> None:
        """Where reading starts on each partition just assigned: its commit, else its log's
        first record (so lag and backpressure count from there)."""
        assert self.consumer is not None
        for tp in self._assigned:
            self.done[tp] = self.committed[tp] = await self.consumer.position(tp)

    # --- the loop -------------------------------------------------------------------------

    @Service.task
    async def _run(self) -> None:
        while not self.should_stop:
            try:
                await self._step()
            except asyncio.CancelledError:
                raise
            except Exception:
                # a failed send or commit: read again from the last commit (redeliveries are
                # recognised), after a pause, rather than take the worker down
                log.warning("a hop failed; reading again from the last commit in 1s", exc_info=True)
                async with self._lock:
                    self._assign(frozenset())
                await asyncio.sleep(1.0)

    async def _step(self) -> None:
        assert self.consumer is not None
        wanted = self._wanted()
        if wanted != self._assigned:
            async with self._lock:
                await self._commit()  # kept partitions are read again from their commit
                self._assign(wanted)
                await self._positions()
        if not self._assigned:
            await asyncio.sleep(POLL_MS / 1000)
            return
        self._backpressure()
        got = await self.consumer.getmany(timeout_ms=POLL_MS)
        async with self._lock:
            if self._assigned != wanted or wanted != self._wanted():
                self._rewind(got)  # a rebalance began while the poll waited
                return
            await self._process(got)
            if time.monotonic() - self._committed_at >= COMMIT_S:
                await self._commit()

    async def _process(self, got: dict[TopicPartition, list[Any]]) -> None:
        """Hand each record to its stage, in offset order per partition; a rebalance that
        begins meanwhile leaves the rest to be fetched again."""
        # the score stage's records first: enrich's output of this poll comes back in a later one
        order = sorted(got.items(), key=lambda kv: kv[0].topic != self.target_topic)
        waiting = {t: sum(len(r) for tp, r in got.items() if tp.topic == t) for t in self.topics}
        for i, (tp, records) in enumerate(order):
            handler: Handler = self.rt.handlers[tp.topic]
            for j, record in enumerate(records):
                if self.faust_app.rebalancing:  # type: ignore[attr-defined]
                    self._rewind({tp: records[j:], **dict(order[i + 1 :])})
                    return
                waiting[tp.topic] -= 1
                await handler(record.value or b"[]", tp.partition, waiting[tp.topic])
                self.done[tp] = record.offset + 1
                self.processed += 1
                if turns.due():
                    await turns.take()

    def _rewind(self, got: dict[TopicPartition, list[Any]]) -> None:
        """Fetch these records again (on the partitions still assigned)."""
        assert self.consumer is not None
        for tp, records in got.items():
            if records and tp in self._assigned:
                self.consumer.seek(tp, records[0].offset)

    async def _commit(self) -> None:
        """Everything the processed records caused acknowledged, then their offsets committed."""
        self._committed_at = time.monotonic()
        offsets = {tp: o for tp, o in self.done.items() if self.committed.get(tp) != o}
        if not offsets:
            return
        await durability.before_commit_hooks()  # enrich's outbox sent, every write acknowledged
        assert self.consumer is not None
        await self.consumer.commit(offsets)
        self.committed.update(offsets)

    # --- backpressure and lag -------------------------------------------------------------

    def owed(self, topic: str) -> int:
        """Records of `topic` on the assigned partitions not processed yet."""
        return sum(behind for (t, _), behind in self.lag().items() if t == topic)

    def _backpressure(self) -> None:
        assert self.consumer is not None
        actor_tps = [tp for tp in self._assigned if tp.topic == self.actor_topic]
        change = self._throttle.update(self.owed(self.target_topic))
        if change is True:
            self.consumer.pause(*actor_tps)
            self.rt.metrics.enrich_waits.inc()
        elif change is False:
            self.consumer.resume(*actor_tps)

    def lag(self) -> dict[tuple[str, int], int]:
        """Records behind the end of each assigned partition (observe.py's gauge)."""
        if self.consumer is None:
            return {}
        out = {}
        for tp in self._assigned:
            end = self.consumer.highwater(tp)
            if end is not None:
                out[(tp.topic, tp.partition)] = max(0, end - self.done.get(tp, end))
        return out


def subscribe(app: Any, topic: Any, name: str) -> None:
    """An agent that only holds Faust's subscription to `topic`, so its group assigns the
    topic's partitions with the tables; the hop reader reads the records (faust_reads.py)."""

    @app.agent(topic, name=name)
    async def holder(stream: Any) -> None:
        async for _ in stream:  # pragma: no cover - Faust keeps these topics paused
            log.error("Faust handed over a record of %s; hops.py reads this topic", topic.get_topic_name())


def register(app: Any, rt: Runtime) -> None:
    app.service(type("BoundHops", (Hops,), {"runtime": rt, "faust_app": app}))
