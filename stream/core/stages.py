"""The per-event work of the enrich and score stages as pure functions.

Why here: the Faust agents and the batch reference (`sway rescore`) must run exactly the same
logic, so streaming and batch can be compared; the agents only add Kafka around these.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from stream.core import actor as actor_core
from stream.core import model, redelivery
from stream.core.params import Params
from stream.core.state import ActorState, UserState


def enrich(
    actor: ActorState | None, event: dict[str, Any], own: UserState | None, params: Params
) -> tuple[ActorState, dict[str, Any] | None]:
    """The actor's new state, and the event to forward to its target (None for a duplicate).

    A record delivered again (after a crash or rebalance) changes nothing here but is forwarded
    again: the first forward may have died with the worker, and the score stage recognises it
    if it had arrived (redelivery.py)."""
    current = actor or ActorState(event["actor_id"])
    key = redelivery.actor_key(event)
    if redelivery.already_applied(current.src, key, event):
        return current, _forward(current, event, own, params)
    current, new = actor_core.observe(current, event, params)
    if not new:
        return current, None
    current = replace(current, src=redelivery.mark(current.src, key, event))
    return current, _forward(current, event, own, params)


def _forward(
    current: ActorState, event: dict[str, Any], own: UserState | None, params: Params
) -> dict[str, Any]:
    out = dict(event)
    weight, reason = actor_core.quality(current, event, own, params)
    out["q"] = weight
    if reason is not None:
        out["q_why"] = reason
    out["actor_score"] = model.settled_score(own, event["ts"], params) if own is not None else 1.0
    return out


def target_of(event: dict[str, Any]) -> str:
    target: str = event.get("target_id", event["actor_id"])
    return target


@dataclass(frozen=True, slots=True)
class Scored:
    """What the score stage does with one engagement: the state to store, and whether to emit."""

    state: UserState
    result: model.Score | None
    why: str  # "applied", "duplicate", "self"
    emit: bool


def score_event(
    state: UserState | None,
    event: dict[str, Any],
    now: int,
    last_action: int | None,
    params: Params,
    min_delta: float,
) -> Scored:
    """Fold one enriched event into its target at stream time `now`."""
    engagement = model.Engagement.from_event(event)
    current = state or UserState(engagement.target_id)
    key = redelivery.target_key(event)
    if redelivery.already_applied(current.src, key, event):
        return Scored(current, None, "duplicate", False)
    outcome = model.apply(current, engagement, params)
    if not outcome.applied:
        marked = outcome.state.with_(src=redelivery.mark(outcome.state.src, key, event))
        return Scored(marked, None, outcome.why, False)
    new = outcome.state.with_(src=redelivery.mark(outcome.state.src, key, event))
    new = new if last_action is None else model.touch(new, last_action)
    result = model.score(new, now, params)
    first = new.emitted == 0.0
    new = model.record(new, result, now, model.describe(engagement), params)
    emit = first or abs(result.score - new.emitted) >= min_delta
    if emit:
        new = new.with_(emitted=result.score)
    return Scored(new, result, "applied", emit)


def decay_user(
    state: UserState, now: int, last_action: int | None, params: Params, min_delta: float
) -> Scored:
    """Re-score an idle user at `now`; emit only if the score moved since it was last published.

    A user never published (e.g. only ever liked their own post) has nothing to decay."""
    if state.emitted == 0.0:
        return Scored(state, None, "unscored", False)
    current = state if last_action is None else model.touch(state, last_action)
    result = model.score(current, now, params)
    if abs(result.score - current.emitted) < min_delta:
        return Scored(state, result, "unchanged", False)
    new = model.record(current, result, now, None, params).with_(emitted=result.score)
    return Scored(new, result, "applied", True)


#: The reason explain shows when an erased account's engagement is removed (without their id).
ERASED_REASON = "engagement by an erased account removed"


def forget_engager(
    state: UserState, engager_id: str, now: int, last_action: int | None, params: Params, min_delta: float
) -> Scored | None:
    """Remove an erased account's engagement from a user and re-score (None: nothing to remove)."""
    forgotten = model.forget(state, engager_id)
    if forgotten is None:
        return None
    current = forgotten if last_action is None else model.touch(forgotten, last_action)
    result = model.score(current, now, params)
    new = model.record(current, result, now, ERASED_REASON, params)
    emit = state.emitted != 0.0 and abs(result.score - new.emitted) >= min_delta
    if emit:
        new = new.with_(emitted=result.score)
    return Scored(new, result, "applied", emit)
