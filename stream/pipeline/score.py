"""Stage 3, score (partitioned by target): fold the engagement into the target's state with the
pure core, store it, and emit a score update when the score moved."""

from __future__ import annotations

from typing import Any

import faust

from stream.codec import dumps, loads
from stream.core import model
from stream.core.state import UserState
from stream.pipeline.runtime import Runtime


def update_message(state: UserState, result: model.Score, cause: str, event_ts: int,
                   wall_ms: int) -> dict[str, Any]:
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


def with_activity(state: UserState, rt: Runtime) -> UserState:
    """The user's own actions (tracked by enrich, same partition) also count as activity."""
    actor = rt.topology.actors.get(state.user_id)
    return model.touch(state, actor.last_action) if actor is not None else state


async def emit(rt: Runtime, state: UserState, result: model.Score, cause: str, now: int) -> UserState:
    state = state.with_(emitted=result.score)
    wall = rt.wall_ms()
    await rt.topology.scores.send(
        key=state.user_id.encode(), value=dumps(update_message(state, result, cause, now, wall))
    )
    rt.metrics.updates.labels(cause).inc()
    return state


def register(app: faust.App, rt: Runtime) -> None:
    topo, metrics, params = rt.topology, rt.metrics, rt.params
    users = topo.users
    min_delta = rt.settings.emit_min_delta

    async def decay(user_id: str, now: int) -> None:
        """A sweep found this idle user's score moved: re-score at stream time and emit."""
        state = users.get(user_id)
        if state is None:
            return  # erased meanwhile
        state = with_activity(state, rt)
        now = max(now, rt.clock.now())
        result = model.score(state, now, params)
        if abs(result.score - state.emitted) < min_delta:
            return
        state = model.record(state, result, now, None, params)
        users[user_id] = await emit(rt, state, result, "decay", now)

    @app.agent(topo.by_target, name="sway.score")
    async def score(stream: faust.StreamT[bytes]) -> None:
        async for raw in stream:
            event = loads(raw)
            if "sweep" in event:
                await decay(event["user_id"], event["sweep"])
                continue
            engagement = model.Engagement.from_event(event)
            user_id = engagement.target_id
            state = users.get(user_id) or UserState(user_id)
            outcome = model.apply(state, engagement, params)
            if not outcome.applied:
                if outcome.why == "duplicate":
                    metrics.duplicates.labels("score").inc()
                else:
                    metrics.discounted.labels(outcome.why).inc()
                    users[user_id] = outcome.state
                continue
            now = rt.clock.observe(engagement.ts)
            state = with_activity(outcome.state, rt)
            result = model.score(state, now, params)
            first = state.emitted == 0.0
            state = model.record(state, result, now, model.describe(engagement), params)
            if first or abs(result.score - state.emitted) >= min_delta:
                state = await emit(rt, state, result, "event", now)
                if "in_ms" in event:
                    metrics.latency.observe(max(0, rt.wall_ms() - event["in_ms"]) / 1000)
            users[user_id] = state
