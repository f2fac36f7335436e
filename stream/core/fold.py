"""A batch of the score stage: each touched user copied once, folded in place, scored once.

Why: a star touched by 300 engagements of one batch costs one copy, one score and one changelog
record, not 300 (Kafka Streams' record cache does the same). The result is the per-event
reference's: signals are sums (order-insensitive), a score is read once per user at the batch's
stream time, and a batch is closed early at a settling period's turn, so the daily history and
the settled score others read are those of the period the events fell in.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple

from stream.core import history, redelivery, scoring, signals
from stream.core.params import Params
from stream.core.state import UserState

Lookup = Callable[[str], UserState | None]
LastAction = Callable[[str], int | None]


class Scored(NamedTuple):
    """What the score stage does with a user: the state to store, and whether to emit.

    `result` is None for a user left unscored, and for every user of a fold without details."""

    state: UserState
    result: scoring.Score | None
    why: str  # "applied", "duplicate", "self", "unscored", "unchanged"
    emit: bool


@dataclass(slots=True)
class _Touched:
    state: UserState  # the working copy
    last: signals.Engagement | None = None  # the latest engagement applied (for explain)
    applied: int = 0  # engagements applied since the last record
    result: scoring.Score | None = None  # the latest score recorded in this batch (details)
    value: float | None = None  # ... and its value


class TargetBatch:
    """Fold events into their targets; `close()` returns one Scored per touched user."""

    def __init__(
        self,
        lookup: Lookup,
        last_action: LastAction,
        params: Params,
        min_delta: float,
        owned: bool = False,
        details: bool = True,
    ) -> None:
        """`owned`: the states `lookup` returns are the caller's to change (a stage's table, the
        batch reference's dict), so they are folded in place instead of copied. Nothing reads a
        state while a (synchronous) fold runs, so readers see what an assignment would show.
        `details`: each Scored carries the full breakdown (what the stream publishes); without
        it only the value is computed, which is all a state remembers (the batch reference)."""
        self._lookup = lookup
        self._owned = owned
        self._last_action = last_action
        self._params = params
        self._min_delta = min_delta
        self._details = details
        self._touched: dict[str, _Touched] = {}
        self._period: int | None = None
        self._now = 0

    def __bool__(self) -> bool:
        return bool(self._touched)

    def add(self, event: dict[str, Any], now: int) -> str:
        """Fold one enriched event at stream time `now`: "applied", "duplicate" or "self"."""
        period = now // self._params.settle_ms
        if self._period is not None and period != self._period and self._touched:
            self._record_all()  # the period turned: its close is what others read as settled
        self._period, self._now = period, max(self._now, now)
        user_id: str = event.get("target_id", event["actor_id"])
        touched = self._touched.get(user_id)
        if touched is None:
            known = self._lookup(user_id)
            if known is None:
                known = UserState(user_id)
            elif not self._owned:
                known = known.copy()
            touched = _Touched(known)
            self._touched[user_id] = touched
        state = touched.state
        path = redelivery.path_of(event, lane=True)
        if path is not None:
            if path[1] <= state.src.get(path[0], -1):
                return "duplicate"
            state.src[path[0]] = path[1]
        engagement = signals.Engagement.from_event(event)
        why = signals.add(state, engagement, self._params)
        if why == "applied":
            touched.last = engagement
            touched.applied += 1
        return why

    def _record_all(self) -> None:
        for user_id, touched in self._touched.items():
            if touched.applied:
                self._score(user_id, touched)

    def _score(self, user_id: str, touched: _Touched) -> None:
        state = touched.state
        seen = self._last_action(user_id)  # capped: enrich may have read ahead of this batch
        if seen is not None and min(seen, self._now) > state.last_active:
            state.last_active = min(seen, self._now)
        if self._details:
            result = scoring.score(state, self._now, self._params)
            value = result.score
        else:
            result, value = None, scoring.total(state, self._now, self._params)
        reason = None
        if touched.last is not None:
            reason = history.describe(touched.last, touched.applied - 1)
        history.record(state, value, self._now, reason, self._params)
        touched.result, touched.value, touched.applied, touched.last = result, value, 0, None

    def close(self) -> list[Scored]:
        """Score and record every touched user once; the batch is empty afterwards."""
        return list(self.closing())

    def closing(self) -> Iterator[Scored]:
        """close(), one user at a time (a stream stage hands the loop over between users);
        the batch is empty once the iterator is exhausted."""
        for user_id, touched in self._touched.items():
            state = touched.state
            if touched.applied:
                self._score(user_id, touched)
            value = touched.value
            if value is None:  # only self-interactions or duplicates: stored, not scored
                yield Scored(state, None, "unchanged", False)
                continue
            emit = state.emitted == 0.0 or abs(value - state.emitted) >= self._min_delta
            if emit:
                state.emitted = value
            yield Scored(state, touched.result, "applied", emit)
        self._touched.clear()
        self._period = None
