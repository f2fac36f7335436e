"""The influence model in one import: the score (scoring.py), the signals one engagement adds
(signals.py), the integrity rules (integrity.py), time (decay.py, grace in scoring.py), and the
memory of past scores (history.py).

`apply` folds a single engagement into a copy of a state: the reference the Hypothesis
properties check. The stages fold whole batches (fold.py) with the same functions.
"""

from __future__ import annotations

from dataclasses import dataclass

from stream.core import history, signals
from stream.core.erasure import forget as _forget
from stream.core.history import describe, settled_score, touch, trend
from stream.core.integrity import DISCOUNT_TEXT, bought_audience, discount_notes, sentiment_factor
from stream.core.params import DEFAULT, Params
from stream.core.scoring import (
    Score,
    curve,
    effective_time,
    has_evidence,
    network_score,
    read_factor,
    score,
    topic_score,
)
from stream.core.signals import Engagement
from stream.core.state import UserState

__all__ = [
    "DISCOUNT_TEXT",
    "Engagement",
    "Outcome",
    "Score",
    "apply",
    "bought_audience",
    "curve",
    "describe",
    "discount_notes",
    "effective_time",
    "forget",
    "has_evidence",
    "network_score",
    "read_factor",
    "record",
    "score",
    "sentiment_factor",
    "settled_score",
    "topic_score",
    "touch",
    "trend",
]


@dataclass(frozen=True, slots=True)
class Outcome:
    """The new state, and what happened (for metrics and explain)."""

    state: UserState
    applied: bool
    why: str  # "applied", "self"


def apply(state: UserState, e: Engagement, params: Params) -> Outcome:
    """Fold one engagement (or the user's own post) into a copy of the state of its target."""
    new = state.copy()
    why = signals.add(new, e, params)
    return Outcome(new, why == "applied", why)


def record(state: UserState, result: Score, now: int, reason: str | None, params: Params) -> UserState:
    """A copy of `state` that remembers `result` (history.record, without changing `state`)."""
    return history.record(state.copy(), result.score, now, reason, params)


def forget(state: UserState, engager_id: str, params: Params = DEFAULT) -> UserState | None:
    """The state without what an erased engager contributed (erasure.py)."""
    return _forget(state, engager_id, params)
