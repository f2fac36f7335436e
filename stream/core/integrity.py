"""How the score resists gaming: what an engagement is discounted for, and a bought audience.

Why here: the signals (signals.py) only add up weighted engagement; every rule that makes an
engagement count for less than its face value is named in this one screen, with the reason
explain shows for it. The actor-side rules (rates, lurkers, reciprocity) are in actor.py, where
an actor's behaviour is known.
"""

from __future__ import annotations

from stream.core.params import Params
from stream.core.state import EngagerStat, UserState


def sentiment_factor(sentiment: float | None, params: Params) -> float:
    """Negative tone earns far less than positive: -1 -> 0.05, 0 -> 1, +1 -> 1.5."""
    if sentiment is None or sentiment >= 0:
        return 1.0 + 0.5 * (sentiment or 0.0)
    return max(params.min_sentiment_factor, (1.0 + sentiment) ** 2)


def diminishing(earlier: float) -> float:
    """A repeat fan counts less each time: the n-th engagement is worth 1 / n."""
    return 1.0 / (1.0 + earlier)


def kept_share(prior: EngagerStat | None, quality: float) -> float:
    """Recognised late (a bot past its first actions, a pod member): what this engager added at
    a higher quality is scaled down to the quality it has now, so early actions buy nothing."""
    if prior is None:
        return 1.0
    if quality <= 0.0 < prior.quality:
        return 0.0
    return quality / prior.quality if 0.0 < quality < prior.quality else 1.0


def discount_reason(quality: float, quality_reason: str | None, tone: float, dim: float) -> str | None:
    """Why this engagement counted for less than its face value, if it did (for explain)."""
    if quality < 1.0 and quality_reason is not None:
        return quality_reason
    if quality < 0.5:
        return "low_quality"
    if tone < 0.5:
        return "negative"
    if dim < 0.5:
        return "repeat"
    return None


def count_suspect(state: UserState, stat: EngagerStat, sign: float, params: Params) -> None:
    """Add (sign 1) or remove (sign -1) an engager from the running sums over suspects."""
    if stat.quality < params.suspect_quality:
        sums = state.suspects
        sums[0] += sign
        sums[1] += sign * stat.reach
        sums[2] += sign * stat.weight
        sums[3] += sign * stat.amp
        sums[4] += sign * stat.net


def bought_audience(state: UserState, params: Params) -> list[float] | None:
    """[n, reach, weight, amp, net] of the suspected engagers, when they are most of the
    audience (a bought audience, whose contributions then count for nothing); O(1)."""
    suspects = state.suspects[0]
    if suspects < params.bought_min_suspects or 2 * suspects <= len(state.engagers):
        return None
    return state.suspects


#: What each discount means, for people reading /users/{id}/explain.
DISCOUNT_TEXT = {
    "automated": "engagements from suspected automated accounts (machine-like rates, or accounts "
    "that never post) counted at reduced weight",
    "reciprocal": "engagements from accounts this user engages back (pods, reciprocity rings) "
    "counted at reduced weight",
    "negative": "negative replies, comments or mentions counted at a quarter or less",
    "repeat": "repeated engagements from the same fans counted with diminishing returns",
    "self": "self-interactions ignored",
    "low_quality": "engagements from low-quality accounts counted at reduced weight",
}


def discount_notes(discounts: dict[str, float]) -> list[str]:
    """'312 engagements from suspected automated accounts ...', largest first."""
    return [
        f"{int(n)} {DISCOUNT_TEXT.get(why, why)}"
        for why, n in sorted(discounts.items(), key=lambda kv: -kv[1])
        if n > 0
    ]
