"""Stage 3, score (partitioned by target): fold a batch record's engagements into their targets
with the pure core, store each touched user once, and publish one update per touched user.

Stream time is the partition's own (clock.PartitionClocks). Control records (sweep, erase,
forget) arrive in the same batches, in order with the events: the events before one are folded
and stored first.
"""

from __future__ import annotations

from typing import Any

import faust

from stream.codec import dumps
from stream.core import history, model, stages
from stream.core.state import UserState
from stream.pipeline import batches, turns
from stream.pipeline.codecs import encode_user
from stream.pipeline.hops import subscribe
from stream.pipeline.runtime import Runtime
from stream.pipeline.topology import partition_of, reader
from stream.pipeline.writes import Writes


def update_message(
    state: UserState, result: model.Score, cause: str, event_ts: int, wall_ms: int
) -> dict[str, Any]:
    """The contract's score update (schemas/score.schema.json)."""
    return {
        "user_id": state.user_id,
        "score": result.score,
        "components": {
            "reach": result.reach,
            "amplification": result.amplification,
            "network": result.network,
        },
        "signals": result.signals,
        "networks": result.networks,
        "topics": result.topics,
        "trend": model.trend(state, event_ts),
        "cause": cause,
        "event_ts": event_ts,
        "updated_at": wall_ms,
        "version": 1,
    }


def last_action(rt: Runtime, user_id: str) -> int | None:
    """The user's own actions (tracked by enrich, same partition) also count as activity."""
    actor = rt.topology.actors.get(user_id)
    return actor.last_action if actor is not None else None


def with_activity(state: UserState, rt: Runtime) -> UserState:
    seen = last_action(rt, state.user_id)
    return history.touch(state, seen) if seen is not None else state


def publish(rt: Runtime, writes: Writes, scored: stages.Scored, cause: str, now: int) -> None:
    assert scored.result is not None
    message = update_message(scored.state, scored.result, cause, now, rt.wall_ms())
    writes.publish(rt.topology.scores.get_topic_name(), scored.state.user_id, message)
    rt.metrics.updates.labels(cause).inc()


def register(app: faust.App, rt: Runtime) -> None:
    topo, metrics, params = rt.topology, rt.metrics, rt.params
    users, erased = topo.users, topo.erased
    min_delta = rt.settings.emit_min_delta
    partitions = rt.settings.partitions
    scores, by_target = topo.scores.get_topic_name(), topo.by_target.get_topic_name()

    board = rt.board

    def keep(state: UserState, writes: Writes) -> None:
        """users[state.user_id] = state, and its place on the leaderboard."""
        writes.store(users, state.user_id, state, encode_user)
        board.put(writes.partition, state.user_id, state)

    async def store(batch: stages.TargetBatch, now: int, writes: Writes) -> None:
        """Close the batch: every touched user stored once, one update each when it moved."""
        for scored in batch.closing():
            keep(scored.state, writes)
            if scored.emit:
                publish(rt, writes, scored, "event", now)
            if turns.due():
                await turns.take()

    def decay(user_id: str, now: int, writes: Writes) -> None:
        """A sweep found this idle user's score moved: re-score at stream time and emit."""
        state = users.get(user_id)
        if state is None:
            return  # erased meanwhile
        scored = stages.decay_user(state, now, last_action(rt, user_id), params, min_delta)
        if scored.emit:
            keep(scored.state, writes)
            publish(rt, writes, scored, "decay", now)

    def erase(request: dict[str, Any], writes: Writes) -> None:
        """Step 2 of an erasure: drop the user's state, tombstone their score, and ask every
        partition to remove what they contributed to others (step 3, `forget`)."""
        user_id: str = request["erase"]
        if users.get(user_id) is not None:
            writes.delete(users, user_id)
        board.put(writes.partition, user_id, None)
        writes.publish(scores, user_id, None)
        metrics.erasures.inc()
        forget_request = dumps([{"forget": user_id, "at": request["at"]}])
        for partition in range(partitions):
            writes.send(by_target, forget_request, partition)

    def forget(request: dict[str, Any], partition: int, now: int, writes: Writes) -> None:
        """Step 3: on this partition, remove an erased account's engagement from every user."""
        engager: str = request["forget"]
        for user_id, state in list(users.items()):
            if state is None or engager not in state.engagers:
                continue
            if partition_of(user_id, partitions) != partition:
                continue  # another partition's message handles it (changelog writes go here)
            scored = stages.forget_engager(state, engager, now, last_action(rt, user_id), params, min_delta)
            if scored is None:
                continue
            keep(scored.state, writes)
            if scored.emit:
                publish(rt, writes, scored, "erase", now)

    def control(item: dict[str, Any], partition: int, now: int, writes: Writes) -> None:
        # control records come from Sway itself: the edge rebuilds every event from the
        # contract's fields, so no producer can send one
        if "sweep" in item:
            decay(item["user_id"], max(item["sweep"], now), writes)
        elif "erase" in item:
            erase(item, writes)
        elif "forget" in item:
            forget(item, partition, max(item["at"], now), writes)

    async def handle(raw: bytes, partition: int, waiting: int) -> None:
        """One batch record of `sway-by-target` (hops.py hands it over)."""
        await rt.output_ready.wait()
        writes = Writes(rt, partition)
        clock = rt.clocks[partition]
        users_get, erased_get, actors_get = reader(users), reader(erased), reader(topo.actors)

        def activity(user_id: str, actors_get: Any = actors_get) -> int | None:
            actor = actors_get(user_id)
            return actor.last_action if actor is not None else None

        batch = stages.TargetBatch(users_get, activity, params, min_delta, owned=True)
        now = clock.now()
        started: list[int] = []
        skipped: dict[str, int] = {}  # why -> events not applied (duplicates, discounts)
        for item in batches.decode(raw):
            if turns.due():
                await turns.take()
            if "event_id" not in item:
                if batch:
                    await store(batch, now, writes)
                control(item, partition, clock.now(), writes)
                continue
            if erased_get(stages.target_of(item)) is not None:
                why = "erased"
            else:
                now = clock.observe(item["ts"])
                why = batch.add(item, now)
            if why != "applied":
                skipped[why] = skipped.get(why, 0) + 1  # counted once per batch, below
                if why == "duplicate" or why == "erased":
                    continue
            if "in_ms" in item:
                started.append(item["in_ms"])
                started.append(item["ts"])
        if batch:
            await store(batch, now, writes)
        await writes.flush()  # the commit of this record's offset waits for their acks
        if started:
            metrics.observe_latency(rt.wall_ms(), started)
        for why, n in skipped.items():
            duplicate = why == "duplicate"
            (metrics.duplicates.labels("score") if duplicate else metrics.discounted.labels(why)).inc(n)

    subscribe(app, topo.by_target, "sway.score")
    rt.handlers[topo.by_target.get_topic_name()] = handle
