"""What the enrich stage does with an actor: remember its behaviour and weigh its engagement."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from stream.core.params import Params
from stream.core.state import ActorState


def observe(actor: ActorState, event: dict[str, Any], params: Params) -> tuple[ActorState, bool]:
    """The actor's state after this action, and whether the action is new (not a duplicate)."""
    event_id: str = event["event_id"]
    if event_id in actor.seen:
        return actor, False
    ts: int = event["ts"]
    seen = dict(actor.seen)
    seen[event_id] = ts
    if len(seen) > 64:
        newest = max(ts, actor.last_action)
        seen = {k: v for k, v in seen.items() if v >= newest - params.dedup_horizon_ms}
        if len(seen) > params.max_seen_ids:
            seen = dict(sorted(seen.items(), key=lambda kv: kv[1])[-params.max_seen_ids :])
    return (
        replace(
            actor,
            first_seen=min(actor.first_seen, ts) if actor.actions else ts,
            last_action=max(actor.last_action, ts),
            actions=actor.actions + 1,
            posts=actor.posts + (event["type"] == "post"),
            seen=seen,
        ),
        True,
    )


def quality(actor: ActorState, event: dict[str, Any], params: Params) -> float:
    """Weight of this actor's engagement in [0, 1]; 0 for an account engaging with itself.

    Issue C replaces this with behaviour-based bot, pod and rate discounts.
    """
    if event.get("target_id", event["actor_id"]) == event["actor_id"]:
        return 0.0
    return 1.0
