"""Stage 3, score (partitioned by target): fold the engagement into the target's state with the
pure core, store it, and emit a score update when the score moved."""

from __future__ import annotations

from typing import Any

import faust

from stream.codec import dumps, loads
from stream.core import model, stages
from stream.core.state import UserState
from stream.pipeline.runtime import Runtime
from stream.pipeline.topology import partition_of


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
    return model.touch(state, seen) if seen is not None else state


async def publish(rt: Runtime, scored: stages.Scored, cause: str, now: int) -> None:
    assert scored.result is not None
    message = update_message(scored.state, scored.result, cause, now, rt.wall_ms())
    await rt.topology.scores.send(key=scored.state.user_id.encode(), value=dumps(message))
    rt.metrics.updates.labels(cause).inc()


def register(app: faust.App, rt: Runtime) -> None:
    topo, metrics, params = rt.topology, rt.metrics, rt.params
    users, erased = topo.users, topo.erased
    min_delta = rt.settings.emit_min_delta

    async def decay(user_id: str, now: int) -> None:
        """A sweep found this idle user's score moved: re-score at stream time and emit."""
        state = users.get(user_id)
        if state is None:
            return  # erased meanwhile
        now = max(now, rt.clock.now())
        scored = stages.decay_user(state, now, last_action(rt, user_id), params, min_delta)
        if scored.emit:
            users[user_id] = scored.state
            await publish(rt, scored, "decay", now)

    async def erase(request: dict[str, Any]) -> None:
        """Step 2 of an erasure: drop the user's state, tombstone their score, and ask every
        partition to remove what they contributed to others (step 3, `forget`)."""
        user_id: str = request["erase"]
        if users.get(user_id) is not None:
            del users[user_id]
        await topo.scores.send(key=user_id.encode(), value=None)
        metrics.erasures.inc()
        forget_request = dumps({"forget": user_id, "at": request["at"]})
        for partition in range(rt.settings.partitions):
            await topo.by_target.send(key=user_id.encode(), value=forget_request, partition=partition)

    async def forget(request: dict[str, Any], partition: int) -> None:
        """Step 3: on this partition, remove an erased account's engagement from every user."""
        engager: str = request["forget"]
        now = max(request["at"], rt.clock.now())
        for user_id, state in list(users.items()):
            if state is None or engager not in state.engagers:
                continue
            if partition_of(user_id, rt.settings.partitions) != partition:
                continue  # another partition's message handles it (changelog writes go here)
            scored = stages.forget_engager(state, engager, now, last_action(rt, user_id), params, min_delta)
            if scored is None:
                continue
            users[user_id] = scored.state
            if scored.emit:
                await publish(rt, scored, "erase", now)

    @app.agent(topo.by_target, name="sway.score")
    async def score(stream: faust.StreamT[bytes]) -> None:
        async for raw in stream:
            current = stream.current_event
            if current is not None:
                rt.backlog.scoring(current.message.partition, current.message.offset)
            event = loads(raw)
            # control records (sweep, erase, forget) come from Sway itself: ingest rebuilds every
            # event from the contract's fields, so no producer can send one
            if "sweep" in event:
                await decay(event["user_id"], event["sweep"])
                continue
            if "erase" in event:
                await erase(event)
                continue
            if "forget" in event:
                assert current is not None
                await forget(event, current.message.partition)
                continue
            user_id = stages.target_of(event)
            if erased.get(user_id) is not None:
                metrics.discounted.labels("erased").inc()
                continue
            now = rt.clock.observe(event["ts"])
            scored = stages.score_event(
                users.get(user_id), event, now, last_action(rt, user_id), params, min_delta
            )
            if scored.why == "duplicate":
                metrics.duplicates.labels("score").inc()
                continue
            if scored.why != "applied":
                metrics.discounted.labels(scored.why).inc()
            users[user_id] = scored.state
            if scored.emit:
                await publish(rt, scored, "event", now)
                if "in_ms" in event:
                    metrics.observe_latency(rt.wall_ms() - event["in_ms"], rt.wall_ms() - event["ts"])
