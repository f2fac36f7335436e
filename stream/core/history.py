"""What a state remembers of its own scores: the daily history (trend), the settled score others
read, and why it moved (explain)."""

from __future__ import annotations

from stream.core.params import DAY_MS, TONED, Params
from stream.core.signals import Engagement
from stream.core.state import Reason, UserState


def record(state: UserState, score: float, now: int, reason: str | None, params: Params) -> UserState:
    """Remember `score` in `state` (in place, returned): the daily history point and why it
    moved. Called once per touched user per batch, and at every settling period's turn."""
    hour = now // params.settle_ms  # the settling period (named `hour` in the state: it was one)
    settled = state.settled if hour == state.hour else state.score
    state.history = _with_point(state.history, now // DAY_MS, score, params.history_days)
    delta = round(score - state.score, 2)
    if reason is not None and delta != 0:
        state.reasons = (*state.reasons, Reason(now, delta, reason))[-params.reasons_kept :]
    state.score = score
    state.hour = max(hour, state.hour)
    state.settled = settled
    return state


def _with_point(
    history: tuple[tuple[int, float], ...], day: int, score: float, days: int
) -> tuple[tuple[int, float], ...]:
    """The daily history with `day`'s point set to `score`, the points older than `days` gone.
    Days are kept sorted and unique, so the usual case (today, or a new day) needs no sort."""
    if history and history[-1][0] <= day and history[0][0] > day - days:
        if history[-1][0] == day:
            return (*history[:-1], (day, score))
        return (*history, (day, score))
    points = [p for p in history if p[0] != day and p[0] > day - days]
    points.append((day, score))
    points.sort()
    return tuple(points)


def settled_score(state: UserState, at: int, params: Params) -> float:
    """The user's score as the settling period before `at` closed (1.0 if none yet).

    Why: the network component weighs an engagement by the engager's score. Reading the live
    score would make it depend on how far the score stage lags enrich (a burst replay, a restart's
    backlog, a failover read scores not computed yet); the score of a closed period is the same in
    stream and batch whenever the lag is shorter than the time since the period turned. A day is
    Klout's own cadence, and a lag of a day is far beyond any backlog we measured.

    A read can also come late: an event enriched again after a restart, when the engager's state
    has moved on to a later period. The daily history then still holds the close of the day
    before `at` (history points are the last score of each day, and a period is a day)."""
    period = at // params.settle_ms
    if period > state.hour:
        return state.score
    if period == state.hour or params.settle_ms != DAY_MS:
        return state.settled
    day = at // DAY_MS
    closed = [s for d, s in state.history if d < day]
    return closed[-1] if closed else 1.0


def trend(state: UserState, now: int) -> dict[str, float]:
    """Score now minus the score recorded 1, 7 and 30 days earlier (0 when there is no point)."""
    day = now // DAY_MS
    out: dict[str, float] = {}
    for label, back in (("d1", 1), ("d7", 7), ("d30", 30)):
        earlier = [s for d, s in state.history if d <= day - back]
        out[label] = round(state.score - earlier[-1], 2) if earlier else 0.0
    return out


def touch(state: UserState, ts: int) -> UserState:
    """The user acted (seen by enrich): activity that holds the score through the grace period.
    A copy when it changes anything (readers touch table values they must not change)."""
    return state if ts <= state.last_active else state.with_(last_active=ts)


def describe(e: Engagement, more: int = 0) -> str:
    """One line for explain: what moved the score (the latest engagement of a batch, and how
    many others came with it)."""
    text = f"{e.type} by {e.actor_id} on {e.network}"
    if e.quality < 0.5:
        text += f" (quality {e.quality:.2f})"
    if e.sentiment is not None and e.type in TONED:
        text += f" (sentiment {e.sentiment:+.1f})"
    if more:
        text += f" and {more} more"
    return text
