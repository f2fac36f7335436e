"""Per-user state of the score and enrich stages, and its plain-JSON form for changelogs.

All decayed quantities are *stored* forward-decayed against `landmark` (see decay.py): the value
at time T is `stored / growth(T, landmark)`. Containers are small and bounded (see Params).

Why mutable: a stage copies a state **once per batch** (`copy()`), folds the batch's events into
the copy in place, and assigns it back. Nothing outside a fold mutates a state, so a value read
from a table is never changed under its reader.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, NamedTuple

from stream.core.params import DEFAULT


class EngagerStat(NamedTuple):
    """One engager of a user: their decayed distinct-reach share (<= 1) and interaction count."""

    reach: float
    times: float  # decayed number of interactions
    weight: float  # decayed weighted contribution, for "top engagers" in explain
    last_ts: int
    amp: float = 0.0  # the amplifying part of weight
    net: float = 0.0  # the network-component contribution
    #: The quality the stored contributions were counted at; when the engager is later
    #: recognised as automated or part of a pod, their past contributions are scaled down to it.
    quality: float = 1.0


class TopicStat(NamedTuple):
    """Evidence for a topic: weighted interactions plus a few distinct engagers and posts."""

    interactions: float
    engagers: tuple[str, ...] = ()
    contents: tuple[str, ...] = ()


class Reason(NamedTuple):
    """Why the score last moved, kept for explain."""

    ts: int
    delta: float
    text: str


@dataclass(slots=True)
class UserState:
    """Everything the score of one user is computed from."""

    user_id: str
    landmark: int = 0
    as_of: int = 0
    last_active: int = 0
    events: int = 0
    reach: float = 0.0
    interactions: float = 0.0
    amplifying: float = 0.0
    network: float = 0.0
    posts: float = 0.0
    engagers: dict[str, EngagerStat] = field(default_factory=dict)
    #: content id -> decayed weighted engagement it earned (bounded; explain's "top content")
    contents: dict[str, float] = field(default_factory=dict)
    networks: dict[str, tuple[float, float]] = field(default_factory=dict)
    topics: dict[str, TopicStat] = field(default_factory=dict)
    history: tuple[tuple[int, float], ...] = ()
    reasons: tuple[Reason, ...] = ()
    score: float = 1.0
    emitted: float = 0.0
    discounts: dict[str, float] = field(default_factory=dict)
    #: Period (stream time) of the latest score, and the score as the previous period closed:
    #: what others' network component reads, so it does not depend on how far a stage lags.
    hour: int = 0
    settled: float = 1.0
    #: Highest `interactions` offset applied per (partition:lane): recognises redeliveries
    #: exactly, however much stream time they span (see redelivery.py).
    src: dict[str, int] = field(default_factory=dict)
    #: Running sums over the engagers counted below `suspect_quality` (integrity.py):
    #: [how many, reach, weight, amp, net], so a bought audience is found without a pass over
    #: a star's engagers.
    suspects: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0, 0.0, 0.0])

    def copy(self) -> UserState:
        """The once-per-batch copy a fold mutates: containers copied, their items shared
        (items are immutable, a fold replaces them)."""
        return UserState(
            self.user_id, self.landmark, self.as_of, self.last_active, self.events, self.reach,
            self.interactions, self.amplifying, self.network, self.posts, dict(self.engagers),
            dict(self.contents), dict(self.networks), dict(self.topics), self.history, self.reasons,
            self.score, self.emitted, dict(self.discounts), self.hour, self.settled, dict(self.src),
            list(self.suspects),
        )  # fmt: skip

    def with_(self, **changes: Any) -> UserState:
        """A copy with `changes` (unknown fields raise)."""
        if not changes.keys() <= _USER_FIELD_SET:
            raise TypeError(f"UserState has no field {sorted(changes.keys() - _USER_FIELD_SET)}")
        new = self.copy()
        for name, value in changes.items():
            _SET(new, name, value)
        return new


_USER_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(UserState))
_USER_FIELD_SET = frozenset(_USER_FIELDS)
_SET = object.__setattr__


def to_json(state: UserState) -> dict[str, Any]:
    """Plain JSON-able dict (orjson writes it); compact lists instead of nested objects."""
    return {
        "u": state.user_id,
        "l": state.landmark,
        "a": state.as_of,
        "la": state.last_active,
        "n": state.events,
        "r": state.reach,
        "i": state.interactions,
        "am": state.amplifying,
        "nw": state.network,
        "p": state.posts,
        # tuples are JSON arrays to orjson; NamedTuples are not, so they become plain tuples
        "e": dict(zip(state.engagers, map(tuple, state.engagers.values()), strict=True)),
        "c": state.contents,
        "net": state.networks,
        "t": {k: tuple(v) for k, v in state.topics.items()},
        "h": state.history,
        "why": [tuple(r) for r in state.reasons],
        "sc": state.score,
        "em": state.emitted,
        "d": state.discounts,
        "hr": [state.hour, state.settled],
        "o": state.src,
        "b": state.suspects,
    }


def from_json(data: dict[str, Any]) -> UserState:
    return UserState(
        user_id=data["u"],
        landmark=data["l"],
        as_of=data["a"],
        last_active=data["la"],
        events=data["n"],
        reach=data["r"],
        interactions=data["i"],
        amplifying=data["am"],
        network=data["nw"],
        posts=data["p"],
        engagers={k: EngagerStat(*v) for k, v in data["e"].items()},
        contents=dict(data.get("c", {})),
        networks={k: (v[0], v[1]) for k, v in data["net"].items()},
        topics={k: TopicStat(v[0], tuple(v[1]), tuple(v[2])) for k, v in data["t"].items()},
        history=tuple((int(p[0]), float(p[1])) for p in data["h"]),
        reasons=tuple(Reason(r[0], r[1], r[2]) for r in data["why"]),
        score=data["sc"],
        emitted=data["em"],
        discounts=dict(data.get("d", {})),
        hour=data.get("hr", [0, 1.0])[0],
        settled=data.get("hr", [0, 1.0])[1],
        src=dict(data.get("o", {})),
        suspects=list(data["b"]) if "b" in data else _recount(data["e"].values()),
    )


def _recount(engagers: Any) -> list[float]:
    """The suspects' sums for a state written before they were kept (at the default threshold)."""
    sums = [0.0, 0.0, 0.0, 0.0, 0.0]
    for v in engagers:
        if v[6] < DEFAULT.suspect_quality:
            sums[0] += 1
            sums[1] += v[0]
            sums[2] += v[2]
            sums[3] += v[4]
            sums[4] += v[5]
    return sums


@dataclass(slots=True)
class ActorState:
    """What the enrich stage knows of an account as an actor (its behaviour, not its audience)."""

    user_id: str
    first_seen: int = 0
    last_action: int = 0
    actions: int = 0
    posts: int = 0
    #: Platform duplicates: event ids of this actor's recent actions, oldest first (dedup.py).
    seen: dict[str, int] = field(default_factory=dict)
    #: Tumbling buckets of actions (stream time): this day and the one before, this hour.
    day: int = 0
    today: int = 0
    yesterday: int = 0
    hour: int = 0
    this_hour: int = 0
    #: Highest `interactions` offset applied per partition (see redelivery.py).
    src: dict[str, int] = field(default_factory=dict)
    #: Ids forgotten from the front of `seen` since it was last copied (dedup.compacted); not
    #: stored: a decoded or copied map is compact.
    dropped: int = field(default=0, compare=False)

    def copy(self) -> ActorState:
        """The once-per-batch copy a fold mutates."""
        return ActorState(
            self.user_id, self.first_seen, self.last_action, self.actions, self.posts, dict(self.seen),
            self.day, self.today, self.yesterday, self.hour, self.this_hour, dict(self.src),
        )  # fmt: skip


def actor_to_json(state: ActorState) -> dict[str, Any]:
    return {
        "u": state.user_id,
        "f": state.first_seen,
        "la": state.last_action,
        "n": state.actions,
        "p": state.posts,
        "s": state.seen,
        "b": [state.day, state.today, state.yesterday, state.hour, state.this_hour],
        "o": state.src,
    }


def actor_from_json(data: dict[str, Any]) -> ActorState:
    b = data.get("b", [0, 0, 0, 0, 0])
    return ActorState(
        data["u"],
        data["f"],
        data["la"],
        data["n"],
        data["p"],
        dict(data["s"]),
        b[0],
        b[1],
        b[2],
        b[3],
        b[4],
        dict(data.get("o", {})),
    )
