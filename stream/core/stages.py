"""The work of the enrich and score stages as pure functions and batch folds.

Why here: the Faust agents and the batch reference (`sway rescore`) must run exactly the same
logic, so streaming and batch can be compared; the agents only add Kafka around these.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from stream.core import actor as actor_core
from stream.core import history, redelivery, scoring
from stream.core.erasure import forget
from stream.core.fold import Lookup, Scored, TargetBatch
from stream.core.params import Params
from stream.core.state import ActorState, UserState

__all__ = ["ActorBatch", "Scored", "TargetBatch", "decay_user", "enrich", "forget_engager", "score_event"]

ActorLookup = Callable[[str], ActorState | None]


class ActorBatch:
    """A batch of the enrich stage: each touched actor copied once and updated in place."""

    def __init__(self, actors: ActorLookup, users: Lookup, params: Params, owned: bool = False) -> None:
        """`owned`: the actor states `actors` returns are folded in place (TargetBatch)."""
        self._actors = actors
        self._owned = owned
        self._users = users
        self._params = params
        self.touched: dict[str, ActorState] = {}
        #: target -> actors forwarded to it in this batch: they are its engagers by the time
        #: the score stage gets there, as in the per-event reference (reciprocity reads them)
        self._engaged: dict[str, set[str]] = {}

    def add(self, event: dict[str, Any]) -> dict[str, Any] | None:
        """The event to forward to its target, with the actor's quality and score; None for a
        platform duplicate.

        A record delivered again (after a crash or rebalance) changes nothing here but is
        forwarded again: the first forward may have died with the worker, and the score stage
        recognises it if it had arrived (redelivery.py)."""
        actor_id: str = event["actor_id"]
        current = self.touched.get(actor_id)
        if current is None:
            known = self._actors(actor_id)
            if known is not None and not self._owned:
                known = known.copy()
            current = known if known is not None else ActorState(actor_id)
            self.touched[actor_id] = current
        path = redelivery.path_of(event, lane=False)
        if path is None or path[1] > current.src.get(path[0], -1):
            if not actor_core.observe(current, event, self._params):
                return None  # a platform duplicate: dropped, and its offset not marked
            if path is not None:
                current.src[path[0]] = path[1]
        own = self._users(actor_id)
        target = event.get("target_id", actor_id)
        out = dict(event)
        weight, reason = actor_core.quality(current, event, own, self._params, self._engaged.get(actor_id))
        if target != actor_id and event["type"] != "post":
            self._engaged.setdefault(target, set()).add(actor_id)
        out["q"] = weight
        if reason is not None:
            out["q_why"] = reason
        out["actor_score"] = history.settled_score(own, event["ts"], self._params) if own is not None else 1.0
        return out


def enrich(
    actor: ActorState | None, event: dict[str, Any], own: UserState | None, params: Params
) -> tuple[ActorState, dict[str, Any] | None]:
    """One event through a batch of one: the actor's new state and the event to forward."""
    batch = ActorBatch(lambda _: actor, lambda _: own, params)
    out = batch.add(event)
    return batch.touched[event["actor_id"]], out


def score_event(
    state: UserState | None,
    event: dict[str, Any],
    now: int,
    last_action: int | None,
    params: Params,
    min_delta: float,
) -> Scored:
    """One enriched event through a batch of one, at stream time `now`."""
    batch = TargetBatch(lambda _: state, lambda _: last_action, params, min_delta)
    why = batch.add(event, now)
    (scored,) = batch.close()
    return scored if why == "applied" else Scored(scored.state, None, why, False)


def decay_user(
    state: UserState, now: int, last_action: int | None, params: Params, min_delta: float
) -> Scored:
    """Re-score an idle user at `now`; emit only if the score moved since it was last published.

    A user never published (e.g. only ever liked their own post) has nothing to decay."""
    if state.emitted == 0.0:
        return Scored(state, None, "unscored", False)
    current = state if last_action is None else history.touch(state, last_action)
    result = scoring.score(current, now, params)
    if abs(result.score - current.emitted) < min_delta:
        return Scored(state, result, "unchanged", False)
    new = history.record(current.copy(), result.score, now, None, params)
    new.emitted = result.score
    return Scored(new, result, "applied", True)


#: The reason explain shows when an erased account's engagement is removed (without their id).
ERASED_REASON = "engagement by an erased account removed"


def forget_engager(
    state: UserState, engager_id: str, now: int, last_action: int | None, params: Params, min_delta: float
) -> Scored | None:
    """Remove an erased account's engagement from a user and re-score (None: nothing to remove)."""
    forgotten = forget(state, engager_id, params)
    if forgotten is None:
        return None
    if last_action is not None:
        forgotten.last_active = max(forgotten.last_active, last_action)
    result = scoring.score(forgotten, now, params)
    new = history.record(forgotten, result.score, now, ERASED_REASON, params)
    emit = state.emitted != 0.0 and abs(result.score - new.emitted) >= min_delta
    if emit:
        new.emitted = result.score
    return Scored(new, result, "applied", emit)


def target_of(event: dict[str, Any]) -> str:
    target: str = event.get("target_id", event["actor_id"])
    return target
