"""Stage 2, enrich (partitioned by actor): the actor's behaviour and current score are local
here, so each engagement leaves with the actor's quality weight and score, re-keyed by target."""

from __future__ import annotations

from typing import Any

import faust

from stream.codec import dumps, loads
from stream.core import stages
from stream.pipeline.runtime import Runtime


def register(app: faust.App, rt: Runtime) -> None:
    topo, metrics, params = rt.topology, rt.metrics, rt.params
    actors, users, erased = topo.actors, topo.users, topo.erased

    async def erase(request: dict[str, Any]) -> None:
        """Step 1 of an erasure: forget the account as an actor, then tell the score stage."""
        user_id: str = request["erase"]
        erased[user_id] = request["at"]
        if actors.get(user_id) is not None:
            del actors[user_id]
        await topo.by_target.send(key=user_id.encode(), value=dumps(request))

    @app.agent(topo.by_actor, name="sway.enrich")
    async def enrich(stream: faust.StreamT[bytes]) -> None:
        async for raw in stream:
            if await rt.backlog.wait(stream.channel.queue):  # score stage close behind (backpressure.py)
                metrics.enrich_waits.inc()
            event = loads(raw)
            if "erase" in event:  # a control record from DELETE /users/{id}; events never carry it
                await erase(event)
                continue
            actor_id: str = event["actor_id"]
            if erased.get(actor_id) is not None:
                metrics.discounted.labels("erased").inc()
                continue
            actor, out = stages.enrich(actors.get(actor_id), event, users.get(actor_id), params)
            if out is None:
                metrics.duplicates.labels("enrich").inc()
                continue
            actors[actor_id] = actor  # assign back: only assignment is changelogged
            await topo.by_target.send(key=stages.target_of(out).encode(), value=dumps(out))
