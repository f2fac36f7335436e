"""Stage 2, enrich (partitioned by actor): the actor's behaviour and current score are local
here, so each engagement leaves with the actor's quality weight and score, re-keyed by target.

One Faust event is one batch record of a lane (batches.py): its actors are copied once, folded
in place and assigned back once (one changelog record per touched actor per batch). Its events
leave for their target partitions through an outbox that gathers several input records: each
edge poll arrives as up to one record per lane, and sending each one's events on at once made
partitions² tiny records per poll for the score stage (under paced load it fell behind on their
per-record cost). The outbox is sent when no input record is waiting, when it has gathered
OUTBOX_RECORDS records or OUTBOX_MS, and before every commit (durability.before_commit).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import faust

from stream.codec import dumps
from stream.core import stages
from stream.pipeline import batches, durability, turns
from stream.pipeline.codecs import encode_actor
from stream.pipeline.hops import subscribe
from stream.pipeline.runtime import Runtime
from stream.pipeline.topology import partition_of, reader
from stream.pipeline.writes import Writes

#: The outbox is sent once it holds this many input records' events, or is this old.
OUTBOX_RECORDS = 32
OUTBOX_MS = 50


class Outbox:
    """Forwarded events (and the writes of their records) not yet sent to `sway-by-target`."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.topic = rt.topology.by_target.get_topic_name()
        self.writes: Writes | None = None
        self.items: list[tuple[int, Any]] = []
        self.records = 0
        self.since = 0.0
        #: a commit that comes while the agent is sending waits for that send (its records are
        #: acknowledged already) before it lets the offsets go
        self._sending = asyncio.Lock()

    def open(self, partition: int) -> Writes:
        if self.writes is None:
            self.writes = Writes(self.rt, partition)
            self.since = time.monotonic()
        self.writes.partition = partition
        self.records += 1
        return self.writes

    def due(self, waiting: int) -> bool:
        """Send when no input record waits, or the outbox is full or old enough."""
        old = time.monotonic() - self.since > OUTBOX_MS / 1000
        return waiting == 0 or self.records >= OUTBOX_RECORDS or old

    async def send(self) -> None:
        """Everything gathered leaves as one record per target partition (bounded in size)."""
        async with self._sending:
            writes, items = self.writes, self.items
            self.writes, self.items, self.records = None, [], 0
            if writes is None:
                return
            for partition, group in batches.by_partition(items).items():
                for value in batches.encode(group):
                    writes.send(self.topic, value, partition)
            await writes.flush()  # the commit waits for their acknowledgements (writes.Output)


def register(app: faust.App, rt: Runtime) -> None:
    topo, metrics, params = rt.topology, rt.metrics, rt.params
    actors, users, erased = topo.actors, topo.users, topo.erased
    partitions = rt.settings.partitions
    outbox = Outbox(rt)
    durability.before_commit(outbox.send)  # an offset is committed only once its events left

    def erase(request: dict[str, Any], writes: Writes) -> tuple[int, Any]:
        """Step 1 of an erasure: forget the account as an actor, then tell the score stage."""
        user_id: str = request["erase"]
        writes.store(erased, user_id, request["at"], dumps)
        if actors.get(user_id) is not None:
            writes.delete(actors, user_id)
        return partition_of(user_id, partitions), request

    def store(batch: stages.ActorBatch, writes: Writes) -> None:
        for actor_id, state in batch.touched.items():
            writes.store(actors, actor_id, state, encode_actor)  # once per touched actor
        batch.touched.clear()

    async def handle(raw: bytes, partition: int, waiting: int) -> None:
        """One batch record of `sway-by-actor` (hops.py hands it over)."""
        await rt.output_ready.wait()
        writes = outbox.open(partition)
        actors_get, erased_get = reader(actors), reader(erased)
        batch = stages.ActorBatch(actors_get, reader(users), params, owned=True)
        out = outbox.items
        for event in batches.decode(raw):
            if turns.due():
                await turns.take()
            if "erase" in event:  # a control record from DELETE /users/{id}; events never carry it
                store(batch, writes)  # what came before it stays
                out.append(erase(event, writes))
                continue
            if erased_get(event["actor_id"]) is not None:
                metrics.discounted.labels("erased").inc()
                continue
            forwarded = batch.add(event)
            if forwarded is None:
                metrics.duplicates.labels("enrich").inc()
                continue
            out.append((partition_of(stages.target_of(forwarded), partitions), forwarded))
        store(batch, writes)
        if outbox.due(waiting):
            await outbox.send()

    subscribe(app, topo.by_actor, "sway.enrich")
    rt.handlers[topo.by_actor.get_topic_name()] = handle
