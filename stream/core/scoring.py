"""How a state becomes a score: three components on log curves, weighted, with grace applied.

score = 1 + 99 * (w_r * reach + w_a * amplification + w_n * network) / 100, where each
component is 100 * log1p(x / x0) / log1p(ref / x0) (capped at 100) of a decayed signal:
  reach          x = distinct quality-weighted engagers,
  amplification  x = (amplifying actions + 0.1 * other interactions) / (posts + prior posts),
  network        x = interactions weighted by the engager's own score.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

from stream.core.decay import shrink
from stream.core.integrity import bought_audience
from stream.core.params import Params
from stream.core.state import TopicStat, UserState


class Score(NamedTuple):
    user_id: str
    score: float
    reach: float
    amplification: float
    network: float
    signals: dict[str, float]
    networks: dict[str, float]
    topics: list[dict[str, Any]]
    at: int  # the (grace-adjusted) time the signals were read at


def curve(x: float, x0: float, ref: float) -> float:
    """0 at 0, 100 at ref, logarithmic in between: each point costs more near the top."""
    if x <= 0:
        return 0.0
    top = _TOPS.get((x0, ref))
    if top is None:
        top = _TOPS[(x0, ref)] = math.log1p(ref / x0)
    return min(100.0, 100.0 * math.log1p(x / x0) / top)


#: log1p(ref / x0) per curve: the same float every time, computed once
_TOPS: dict[tuple[float, float], float] = {}


def effective_time(state: UserState, now: int, params: Params) -> int:
    """Grace: an idle account is read as of its last activity until `grace` has passed, then
    decays as if the clock started `grace` later (so a holiday shorter than grace costs nothing
    while away)."""
    idle = now - state.last_active
    if idle <= 0:
        return now
    if idle <= params.grace_ms:
        return max(state.last_active, state.as_of)
    return now - params.grace_ms


def read_factor(state: UserState, now: int, params: Params) -> float:
    """The decay factor to read stored values with at stream time `now` (grace applied)."""
    return shrink(effective_time(state, now, params), state.landmark, params.half_life_ms)


def network_score(state: UserState, network: str, k: float, params: Params) -> float:
    """The per-network breakdown (0-100): reach and interactions on that network alone.

    `k` is the decay factor at read time (shrink(at, landmark)); 0.0 for an unseen network."""
    r, i = state.networks.get(network, (0.0, 0.0))
    return round(
        0.6 * curve(r * k, params.reach_x0, params.reach_ref)
        + 0.4 * curve(i * k, params.network_x0, params.network_ref),
        2,
    )


def has_evidence(topic: TopicStat, params: Params) -> bool:
    """A topic is listed only with several distinct engagers on several posts."""
    return (
        len(topic.engagers) >= params.topic_min_engagers
        and len(topic.contents) >= params.topic_min_content
    )


def topic_score(state: UserState, topic: str, k: float, params: Params) -> float | None:
    """The user's score on one topic (0-100), or None without enough evidence."""
    stat = state.topics.get(topic)
    if stat is None or not has_evidence(stat, params):
        return None
    return round(curve(stat.interactions * k, params.reach_x0, params.reach_ref), 2)


def _components(state: UserState, now: int, params: Params) -> tuple[int, float, list[float]]:
    """(read time, decay factor, [reach, interactions, amplifying, network, posts] as read)."""
    at = effective_time(state, now, params)
    k = shrink(at, state.landmark, params.half_life_ms)
    x = [state.reach * k, state.interactions * k, state.amplifying * k, state.network * k, state.posts * k]
    bought = bought_audience(state, params)
    if bought is not None:  # an audience made mostly of suspected accounts counts for nothing
        for i in range(4):
            x[i] = max(0.0, x[i] - bought[i + 1] * k)
    return at, k, x


def _curves(x: list[float], params: Params) -> tuple[float, float, float, float]:
    """(reach, amplification, network, the unrounded total) from the signals as read."""
    reach_x, inter_x, amp_x, net_x, posts_x = x
    amp_rate = (amp_x + 0.1 * (inter_x - amp_x)) / (posts_x + params.prior_posts)
    reach = curve(reach_x, params.reach_x0, params.reach_ref)
    amplification = curve(amp_rate, params.amplification_x0, params.amplification_ref)
    network = curve(net_x, params.network_x0, params.network_ref)
    total = 1.0 + 0.99 * (
        params.w_reach * reach + params.w_amplification * amplification + params.w_network * network
    )
    return reach, amplification, network, total


def _final(total: float) -> float:
    """The published score: the weighted total within 1..100, to two decimals."""
    return round(min(100.0, max(1.0, total)), 2)


def total(state: UserState, now: int, params: Params) -> float:
    """`score(state, now, params).score` without the breakdown: what a fold records."""
    return _final(_curves(_components(state, now, params)[2], params)[3])


def score(state: UserState, now: int, params: Params) -> Score:
    """The score of a user at stream time `now` (grace applied); pure."""
    at, k, x = _components(state, now, params)
    reach, amplification, network, total = _curves(x, params)
    networks = {n: network_score(state, n, k, params) for n in state.networks}
    topics: list[dict[str, Any]] = [
        {"topic": t, "score": round(curve(s.interactions * k, params.reach_x0, params.reach_ref), 2)}
        for t, s in state.topics.items()
        if has_evidence(s, params)
    ]
    topics.sort(key=lambda t: -float(t["score"]))
    return Score(
        state.user_id,
        _final(total),
        round(reach, 2),
        round(amplification, 2),
        round(network, 2),
        {
            "engagers": round(x[0], 3),
            "interactions": round(x[1], 3),
            "posts": round(x[4], 3),
            "amplifying": round(x[2], 3),
            "network": round(x[3], 3),
        },
        networks if len(networks) < 2 else dict(sorted(networks.items(), key=lambda kv: -kv[1])),
        topics[:10],
        at,
    )
