"""Stage 2, enrich (partitioned by actor): the actor's behaviour and current score are local
here, so each engagement leaves with the actor's quality weight and score, re-keyed by target."""

from __future__ import annotations

import faust

from stream.codec import dumps, loads
from stream.core import stages
from stream.pipeline.runtime import Runtime


def register(app: faust.App, rt: Runtime) -> None:
    topo, metrics, params = rt.topology, rt.metrics, rt.params
    actors, users = topo.actors, topo.users

    @app.agent(topo.by_actor, name="sway.enrich")
    async def enrich(stream: faust.StreamT[bytes]) -> None:
        async for raw in stream:
            event = loads(raw)
            actor_id: str = event["actor_id"]
            actor, out = stages.enrich(actors.get(actor_id), event, users.get(actor_id), params)
            if out is None:
                metrics.duplicates.labels("enrich").inc()
                continue
            actors[actor_id] = actor  # assign back: only assignment is changelogged
            rt.clock.observe(event["ts"])
            await topo.by_target.send(key=stages.target_of(out).encode(), value=dumps(out))
