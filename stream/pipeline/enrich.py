"""Stage 2, enrich (partitioned by actor): the actor's behaviour and current score are local
here, so each engagement leaves with the actor's quality weight and score, re-keyed by target."""

from __future__ import annotations

import faust

from stream.codec import dumps, loads
from stream.core import actor as actor_core
from stream.core.state import ActorState
from stream.pipeline.runtime import Runtime


def register(app: faust.App, rt: Runtime) -> None:
    topo, metrics, params = rt.topology, rt.metrics, rt.params
    actors, users = topo.actors, topo.users

    @app.agent(topo.by_actor, name="sway.enrich")
    async def enrich(stream: faust.StreamT[bytes]) -> None:
        async for raw in stream:
            event = loads(raw)
            actor_id: str = event["actor_id"]
            actor = actors.get(actor_id) or ActorState(actor_id)
            actor, new = actor_core.observe(actor, event, params)
            if not new:
                metrics.duplicates.labels("enrich").inc()
                continue
            actors[actor_id] = actor  # assign back: only assignment is changelogged
            rt.clock.observe(event["ts"])
            event["q"] = actor_core.quality(actor, event, params)
            own = users.get(actor_id)
            event["actor_score"] = own.score if own is not None else 1.0
            target = event.get("target_id", actor_id)
            await topo.by_target.send(key=target.encode(), value=dumps(event))
