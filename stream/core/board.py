"""Leaderboards: the best users of one worker's partitions, and the merge of every worker's.

Why pure and per worker: each worker owns whole users (co-partitioned tables), so the global
top N is the top N of the union of every worker's top N. No worker needs a copy of all scores.

Why an index: ranking every user per request (`rank`) cost 200 ms of the event loop at 60 k users,
so the board answered 30 requests a second and held up everything else meanwhile. `Index` keeps
each partition's published users in score order as the score stage stores them: O(log n) per
stored user, and a board is the merge of a few sorted heads. Topic and network boards still rank
(their values decay with each user's own read factor, so no order can be kept between events).
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from typing import Any

from sortedcontainers import SortedList

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


class Index:
    """Per partition, the published users ordered by score (best first, then by id): what
    `rank` would pick for the plain board, kept up to date instead of recomputed."""

    def __init__(self) -> None:
        self._parts: dict[int, Any] = {}  # partition -> SortedList of (-score, user_id)
        self._keys: dict[str, tuple[int, float]] = {}  # user -> (partition, score) as indexed

    @property
    def partitions(self) -> frozenset[int]:
        """The partitions indexed (the score stage's, once their tables are recovered)."""
        return frozenset(self._parts)

    def rebuild(self, partitions: Iterable[int], states: Iterable[tuple[int, UserState]]) -> None:
        """Index exactly these partitions, from (partition, state) of their users."""
        self._parts = {p: SortedList() for p in partitions}
        self._keys = {}
        for partition, state in states:
            if partition in self._parts:
                self.put(partition, state.user_id, state)

    def put(self, partition: int, user_id: str, state: UserState | None) -> None:
        """The user's state as just stored (None: deleted)."""
        part = self._parts.get(partition)
        if part is None:
            return  # not this worker's, or not recovered yet (rebuild reads it then)
        old = self._keys.pop(user_id, None)
        if old is not None:
            part.remove((-old[1], user_id))
        if state is not None and state.emitted != 0.0 and state.score > 0:
            part.add((-state.score, user_id))
            self._keys[user_id] = (partition, state.score)

    def top(self, limit: int) -> list[str]:
        """The best `limit` users over every indexed partition."""
        heads: list[Iterator[tuple[float, str]]] = [islice(p, limit) for p in self._parts.values()]
        return [user_id for _, user_id in islice(heapq.merge(*heads), limit)]

    def board(self, limit: int, get: Callable[[str], UserState | None], now: int) -> list[dict[str, Any]]:
        """`rank(...)` for the plain board, from the index."""
        rows = []
        for user_id in self.top(limit):
            state = get(user_id)
            if state is not None:
                rows.append(_row(state.score, state, now, None, None))
        return rows
