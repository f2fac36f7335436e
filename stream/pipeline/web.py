"""HTTP views of a worker: health, a user's score and explanation, metrics."""

from __future__ import annotations

from typing import Any

import faust
from faust.web import Request, Response, View
from prometheus_client import generate_latest

from stream.core import model
from stream.core.decay import shrink
from stream.pipeline.runtime import Runtime
from stream.pipeline.score import update_message, with_activity

#: The Prometheus text format (prometheus_client's CONTENT_TYPE_LATEST without "; charset").
PROMETHEUS_TEXT = "text/plain; version=0.0.4"


def explain(rt: Runtime, user_id: str) -> dict[str, Any] | None:
    state = rt.topology.users.get(user_id)
    if state is None:
        return None
    state = with_activity(state, rt)
    now = rt.clock.now()
    result = model.score(state, now, rt.params)
    k = shrink(result.at, state.landmark, rt.params.half_life_ms)
    top = sorted(state.engagers.items(), key=lambda kv: -kv[1].weight)[:10]
    return {
        **update_message(state, result, "event", now, rt.wall_ms()),
        "top_engagers": [
            {
                "user_id": e,
                "contribution": round(s.weight * k, 3),
                "interactions": round(s.count * k, 3),
            }
            for e, s in top
        ],
        "reasons": [{"ts": r.ts, "delta": r.delta, "text": r.text} for r in reversed(state.reasons)],
        "discounts": state.discounts,
        "discount_notes": model.discount_notes(state.discounts),
        "events_applied": state.events,
        "last_active": state.last_active,
    }


def register(app: faust.App, rt: Runtime) -> None:
    users = rt.topology.users

    @app.page("/health")
    class Health(View):
        async def get(self, request: Request) -> Response:
            ready = bool(
                not app.rebalancing
                and not app.in_recovery
                and app.consumer is not None
                and app.consumer.assignment()
            )
            body = {
                "status": "ok" if ready else "starting",
                "ready": ready,
                "partitions": sorted(
                    tp.partition
                    for tp in app.assignor.assigned_actives()
                    if tp.topic == rt.topology.by_target.get_topic_name()
                ),
                "stream_time": rt.clock.now() if rt.clock.started else None,
            }
            return self.json(body, status=200 if ready else 503)

    @app.page("/metrics")
    class Metrics(View):
        async def get(self, request: Request) -> Response:
            # aiohttp takes the charset separately from the content type
            return self.bytes(generate_latest(rt.metrics.registry), content_type=PROMETHEUS_TEXT)

    @app.page("/users/{user_id}")
    class User(View):
        @app.table_route(table=users, match_info="user_id")
        async def get(self, request: Request, user_id: str) -> Response:
            body = explain(rt, user_id)
            if body is None:
                return self.json({"error": f"unknown user {user_id!r}"}, status=404)
            for extra in (
                "top_engagers",
                "reasons",
                "discounts",
                "discount_notes",
                "events_applied",
                "last_active",
            ):
                body.pop(extra)
            return self.json(body)

    @app.page("/users/{user_id}/explain")
    class Explain(View):
        @app.table_route(table=users, match_info="user_id")
        async def get(self, request: Request, user_id: str) -> Response:
            body = explain(rt, user_id)
            if body is None:
                return self.json({"error": f"unknown user {user_id!r}"}, status=404)
            return self.json(body)
