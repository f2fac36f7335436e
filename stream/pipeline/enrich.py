"""Stage 2, enrich (partitioned by actor): the actor's behaviour and current score are local
here, so each engagement leaves with the actor's quality weight and score, re-keyed by target.

One Faust event is one batch record of a lane (batches.py): its actors are copied once, folded
in place and assigned back once (one changelog record per touched actor per batch), and its
events leave as one record per target partition.
"""

from __future__ import annotations

from typing import Any

import faust

from stream.codec import dumps
from stream.core import stages
from stream.core.state import ActorState, actor_to_json
from stream.pipeline import batches
from stream.pipeline.runtime import Runtime
from stream.pipeline.topology import partition_of, reader
from stream.pipeline.writes import Writes


def register(app: faust.App, rt: Runtime) -> None:
    topo, metrics, params = rt.topology, rt.metrics, rt.params
    actors, users, erased = topo.actors, topo.users, topo.erased
    partitions = rt.settings.partitions
    by_target = topo.by_target.get_topic_name()

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

    @app.agent(topo.by_actor, name="sway.enrich")
    async def enrich(stream: faust.StreamT[bytes]) -> None:
        async for raw in stream:
            if await rt.backlog.wait(stream.channel.queue):  # score stage close behind (backpressure.py)
                metrics.enrich_waits.inc()
            await rt.output_ready.wait()
            current = stream.current_event
            assert current is not None
            writes = Writes(rt, current.message.partition)
            actors_get, erased_get = reader(actors), reader(erased)
            batch = stages.ActorBatch(actors_get, reader(users), params)
            out: list[tuple[int, Any]] = []
            for event in batches.decode(raw):
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
            for partition, group in batches.by_partition(out).items():
                for value in batches.encode(group):
                    writes.send(by_target, value, partition)
            await writes.flush()  # the commit of this record's offset waits for their acks


def encode_actor(state: ActorState) -> bytes:
    return dumps(actor_to_json(state))
