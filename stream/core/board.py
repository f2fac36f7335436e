"""Leaderboards: the best users of one worker's partitions, and the merge of every worker's.

Why pure and per worker: each worker owns whole users (co-partitioned tables), so the global
top N is the top N of the union of every worker's top N. No worker needs a copy of all scores.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from typing import Any

from stream.core import model
from stream.core.params import Params
from stream.core.state import UserState

MAX_LIMIT = 1000


def _value(
    state: UserState, now: int, params: Params, topic: str | None, network: str | None
) -> float | None:
    """What the board ranks by: the score, or the topic / network score (None: not on this board)."""
    if topic is None and network is None:
        return state.score
    k = model.read_factor(state, now, params)
    values: list[float] = []
    if topic is not None:
        t = model.topic_score(state, topic, k, params)
        if t is None:
            return None
        values.append(t)
    if network is not None:
        if network not in state.networks:
            return None
        values.append(model.network_score(state, network, k, params))
    return min(values)


def rank(
    states: Iterable[UserState],
    now: int,
    params: Params,
    limit: int,
    topic: str | None = None,
    network: str | None = None,
) -> list[dict[str, Any]]:
    """The top `limit` published users by score (or by topic / network score), best first."""
    rows: list[tuple[float, str, UserState]] = []
    for state in states:
        if state is None or state.emitted == 0.0:
            continue  # never published: not visible anywhere else either
        value = _value(state, now, params, topic, network)
        if value is not None and value > 0:
            rows.append((value, state.user_id, state))
    best = heapq.nsmallest(limit, rows, key=lambda r: (-r[0], r[1]))
    return [_row(value, state, now, topic, network) for value, _, state in best]


def _row(value: float, state: UserState, now: int, topic: str | None, network: str | None) -> dict[str, Any]:
    row: dict[str, Any] = {
        "user_id": state.user_id,
        "score": state.score,
        "trend": model.trend(state, now),
        "last_active": state.last_active,
    }
    if topic is not None or network is not None:
        row["value"] = value
    return row


def merge(parts: Iterable[list[dict[str, Any]]], limit: int) -> list[dict[str, Any]]:
    """The global board from each worker's board (each already its own top `limit`), ranked."""
    rows = [r for part in parts for r in part]
    best = heapq.nsmallest(limit, rows, key=lambda r: (-float(r.get("value", r["score"])), r["user_id"]))
    return [{"rank": i + 1, **r} for i, r in enumerate(best)]
