"""What the enrich stage does with an actor: remember its behaviour and weigh its engagement.

Why here: the actor's whole behaviour (its rates, its age, whether it ever posts) and whom it
engages with are local to the enrich stage (partitioned by actor), so this is where a bot farm
or a pod can be recognised before its engagement reaches anyone's score.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from stream.core.dedup import compacted, remember
from stream.core.params import DAY_MS, HOUR_MS, Params
from stream.core.state import ActorState, UserState


class Quality(NamedTuple):
    """How much this actor's engagement counts (0..1), and why it was discounted, if it was."""

    weight: float
    reason: str | None


def observe(actor: ActorState, event: dict[str, Any], params: Params) -> bool:
    """Record this action in `actor` (a fold's working copy, changed in place); False for a
    duplicate, which changes nothing."""
    event_id: str = event["event_id"]
    if event_id in actor.seen:
        return False
    ts: int = event["ts"]
    actor.dropped += remember(actor.seen, event_id, ts, params.dedup_horizon_ms, params.max_seen_ids)
    if compacted(actor.seen, actor.dropped):
        actor.seen, actor.dropped = dict(actor.seen), 0
    day, hour = ts // DAY_MS, ts // HOUR_MS
    if day > actor.day:  # tumbling day buckets: the current one and the one before
        actor.today, actor.yesterday = 1, (actor.today if day == actor.day + 1 else 0)
        actor.day = day
    else:
        actor.today += day == actor.day
        actor.yesterday += day == actor.day - 1
    if hour > actor.hour:
        actor.hour, actor.this_hour = hour, 1
    else:
        actor.this_hour += hour == actor.hour
    actor.first_seen = min(actor.first_seen, ts) if actor.actions else ts
    actor.last_action = max(actor.last_action, ts)
    actor.actions += 1
    actor.posts += event["type"] == "post"
    return True


def _softcap(rate: float, limit: float) -> float:
    """1 up to the limit (people are never charged), then falling with the square of the excess."""
    return 1.0 if rate <= limit else (limit / rate) ** 2


def quality(
    actor: ActorState,
    event: dict[str, Any],
    own: UserState | None,
    params: Params,
    pending: set[str] | None = None,
) -> Quality:
    """Weight of this engagement in [0, 1], from the actor's behaviour (already including it).

    - machine-like rates: (limit / rate)^2 past the limit, per day and per hour;
    - never posts yet acts a lot, or is fresh and only acts: engagement for hire;
    - reciprocal: the target engages the actor too (pods, rings): `own.engagers`, and `pending`,
      the target's engagements of the actor still on their way to the score stage;
    - self-interaction: 0.
    """
    target = event.get("target_id", event["actor_id"])
    if target == event["actor_id"]:
        return Quality(0.0, "self")
    # a steady bot shows in its lifetime average long before a day bucket fills up
    lifetime = max(params.rate_window_ms, actor.last_action - actor.first_seen)
    per_day = max(actor.today, actor.yesterday, actor.actions * DAY_MS / lifetime)
    automated = _softcap(per_day, params.bot_day_rate) * _softcap(actor.this_hour, params.bot_hour_rate)
    if actor.posts == 0:
        if actor.actions >= params.lurker_actions:
            automated *= params.lurker_weight
        elif actor.actions >= params.fresh_actions and event["ts"] - actor.first_seen < params.fresh_ms:
            automated *= params.fresh_weight
    weight, reason = automated, ("automated" if automated < 0.5 else None)
    engages_back = (own is not None and target in own.engagers) or (pending is not None and target in pending)
    if engages_back and event["type"] not in {"follow", "unfollow"} and params.reciprocal_weight < 1.0:
        weight *= params.reciprocal_weight
        reason = reason or "reciprocal"  # only when it cost something: explain says why
    return Quality(weight, reason)
