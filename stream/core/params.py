"""Every constant of the score, named and set in one place (README: "How the score works")."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

DAY_MS = 86_400_000
HOUR_MS = 3_600_000

#: How much one interaction of each type is worth before quality, sentiment and diminishing returns.
TYPE_WEIGHTS: Mapping[str, float] = MappingProxyType(
    {
        "like": 1.0,
        "retweet": 3.0,
        "share": 3.0,
        "quote": 3.5,
        "reply": 2.0,
        "comment": 2.0,
        "mention": 1.5,
        "follow": 0.2,
        "unfollow": 0.0,
        "post": 0.0,
    }
)
#: Actions that carry the user's content to a new audience (Klout's "amplification").
AMPLIFYING = frozenset({"retweet", "share", "quote"})
#: Actions whose tone matters; `sentiment` is read only for these.
TONED = frozenset({"reply", "comment", "mention"})
#: How much a single engager can add to distinct reach per type (a follow is a weak signal).
REACH_CAP = MappingProxyType({"follow": 0.0, "unfollow": 0.0})
NETWORK_WEIGHTS: Mapping[str, float] = MappingProxyType(
    {"twitter": 1.0, "facebook": 1.0, "instagram": 1.0, "youtube": 1.1, "linkedin": 1.1}
)


@dataclass(frozen=True)
class Params:
    """Knobs of the model; environment overrides only the time constants (docs/contract.md)."""

    half_life_ms: int = 30 * DAY_MS
    grace_ms: int = 7 * DAY_MS
    dedup_horizon_ms: int = 3_600_000
    type_weights: Mapping[str, float] = field(default_factory=lambda: TYPE_WEIGHTS)
    network_weights: Mapping[str, float] = field(default_factory=lambda: NETWORK_WEIGHTS)
    default_network_weight: float = 1.0
    #: Engagers remembered by identity per user; beyond it the least engaged are forgotten and,
    #: if they return, counted again (an over-count bounded by evictions; see README).
    max_engagers: int = 256
    max_seen_ids: int = 4096
    #: Posts assumed before any are seen, so one post with one retweet is not "100%".
    prior_posts: float = 3.0
    #: Component curves: 100 * log1p(x / x0) / log1p(ref / x0) — x0 sets where points come
    #: cheaply, ref is the value worth 100 (each point is harder to earn near the top).
    reach_x0: float = 0.05
    reach_ref: float = 100_000.0
    amplification_x0: float = 0.05
    amplification_ref: float = 2_000.0
    network_x0: float = 0.02
    network_ref: float = 20_000.0
    #: Weights of the three components in the final score (sum to 1). Reach dominates: on the
    #: Higgs evaluation (3 cuts) distinct engagers predict future engagers best, and heavier
    #: amplification/network weights lowered accuracy at every cut (README, evaluation).
    w_reach: float = 0.70
    w_amplification: float = 0.10
    w_network: float = 0.20
    #: Topic evidence: distinct engagers and distinct posts needed before a topic is listed.
    topic_min_engagers: int = 3
    topic_min_content: int = 2
    topic_track: int = 16
    #: Pieces of content remembered per user with their contribution (explain's top content).
    content_track: int = 16
    #: Behaviour of engagers (enrich stage). Quality is 1 up to these action rates, then
    #: (limit / rate)^2: 120 actions a day keep 0.25 of their weight, 300 a day keep 0.04.
    bot_day_rate: float = 60.0
    bot_hour_rate: float = 30.0
    #: The lifetime average rate is taken over at least this long (a binge of likes is not a bot).
    rate_window_ms: int = 6 * 3_600_000
    #: Accounts that never post but have acted this often look like engagement for hire.
    lurker_actions: int = 200
    lurker_weight: float = 0.2
    #: A fresh account (younger than fresh_ms) that never posts and already acted this often.
    fresh_ms: int = 2 * DAY_MS
    fresh_actions: int = 50
    fresh_weight: float = 0.3
    #: Engaging someone who engages you back (pods, reciprocity rings) counts this much.
    reciprocal_weight: float = 0.25
    #: A repeat engager's n-th engagement counts 1/n (integrity.diminishing); off only to
    #: measure what the rule costs (`sway evaluate census`).
    repeat_discount: bool = True
    #: An engager counted below this quality is a suspect; when suspects are most of a user's
    #: audience (a bought audience), their contributions are dropped altogether.
    suspect_quality: float = 0.5
    #: ...and they number at least this many (one doubtful fan is not a bought audience).
    bought_min_suspects: int = 10
    history_days: int = 31
    #: The network component reads an engager's score as the last closed period of this length
    #: ended (yesterday's score), not the live one: the same in stream and batch, and after a
    #: crash or failover, whenever the score stage lags enrich by less than a period.
    settle_ms: int = DAY_MS
    reasons_kept: int = 5
    min_sentiment_factor: float = 0.05

    def network_weight(self, network: str) -> float:
        return self.network_weights.get(network, self.default_network_weight)


DEFAULT = Params()


def params_from(
    half_life_s: float,
    grace_s: float,
    dedup_horizon_s: float = 3600.0,
    network_weights: Mapping[str, float] | None = None,
) -> Params:
    """Params from the environment's time constants and per-network weight overrides."""
    return Params(
        half_life_ms=max(1, int(half_life_s * 1000)),
        grace_ms=max(0, int(grace_s * 1000)),
        dedup_horizon_ms=max(0, int(dedup_horizon_s * 1000)),
        network_weights=MappingProxyType({**NETWORK_WEIGHTS, **(network_weights or {})}),
    )
