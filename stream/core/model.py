"""The influence model: how one engagement changes a user's state, and how state becomes a score.

score = 1 + 99 * (w_r * reach + w_a * amplification + w_n * network) / 100, where each
component is 100 * log1p(x / x0) / log1p(ref / x0) (capped at 100) of a decayed signal:
  reach          x = distinct quality-weighted engagers,
  amplification  x = (amplifying actions + 0.1 * other interactions) / (posts + prior posts),
  network        x = interactions weighted by the engager's own score.
Every contribution is multiplied by the engager's quality (from enrich), the type and network
weights, a sentiment factor, and 1 / (1 + earlier interactions from the same engager).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from stream.core.decay import growth, needs_rebase, shrink, too_old
from stream.core.dedup import remember
from stream.core.params import AMPLIFYING, DAY_MS, REACH_CAP, TONED, Params
from stream.core.state import EngagerStat, Reason, TopicStat, UserState


@dataclass(frozen=True, slots=True)
class Engagement:
    """An interaction as the score stage sees it: validated, enriched with the actor's quality."""

    event_id: str
    type: str
    network: str
    actor_id: str
    target_id: str
    ts: int
    quality: float = 1.0
    actor_score: float = 1.0
    content_id: str | None = None
    topics: tuple[str, ...] = ()
    sentiment: float | None = None
    quality_reason: str | None = None

    @classmethod
    def from_event(cls, event: dict[str, Any]) -> Engagement:
        return cls(
            event_id=event["event_id"],
            type=event["type"],
            network=event["network"],
            actor_id=event["actor_id"],
            target_id=event.get("target_id", event["actor_id"]),
            ts=event["ts"],
            quality=float(event.get("q", 1.0)),
            actor_score=float(event.get("actor_score", 1.0)),
            content_id=event.get("content_id"),
            topics=tuple(event.get("topics", ())),
            sentiment=event.get("sentiment"),
            quality_reason=event.get("q_why"),
        )


@dataclass(frozen=True, slots=True)
class Outcome:
    """The new state, and what happened (for metrics and explain)."""

    state: UserState
    applied: bool
    why: str  # "applied", "duplicate", "self"


@dataclass(frozen=True, slots=True)
class Score:
    user_id: str
    score: float
    reach: float
    amplification: float
    network: float
    signals: dict[str, float]
    networks: dict[str, float]
    topics: list[dict[str, Any]]
    at: int  # the (grace-adjusted) time the signals were read at


def sentiment_factor(sentiment: float | None, params: Params) -> float:
    """Negative tone earns far less than positive: -1 -> 0.05, 0 -> 1, +1 -> 1.5."""
    if sentiment is None or sentiment >= 0:
        return 1.0 + 0.5 * (sentiment or 0.0)
    return max(params.min_sentiment_factor, (1.0 + sentiment) ** 2)


def _rebased(state: UserState, t: int, params: Params) -> UserState:
    """Move the landmark to t so stored values stay finite over decades of stream time."""
    if state.events == 0 and not state.engagers:
        return state.with_(landmark=t)
    if not needs_rebase(t, state.landmark, params.half_life_ms):
        return state
    k = shrink(t, state.landmark, params.half_life_ms)
    return state.with_(
        landmark=t,
        reach=state.reach * k,
        interactions=state.interactions * k,
        amplifying=state.amplifying * k,
        network=state.network * k,
        posts=state.posts * k,
        engagers={
            e: EngagerStat(s.reach * k, s.count * k, s.weight * k, s.last_ts, s.amp * k, s.net * k, s.quality)
            for e, s in state.engagers.items()
        },
        contents={c: v * k for c, v in state.contents.items()},
        networks={n: (r * k, i * k) for n, (r, i) in state.networks.items()},
        topics={t_: TopicStat(s.interactions * k, s.engagers, s.contents) for t_, s in state.topics.items()},
    )


def _bounded(engagers: dict[str, EngagerStat], cap: int) -> dict[str, EngagerStat]:
    """Forget the least engaged once a quarter over the cap (amortised: not a sort per event)."""
    if len(engagers) <= cap + cap // 4:
        return engagers
    keep = sorted(engagers.items(), key=lambda kv: (kv[1].weight, kv[1].last_ts))[-cap:]
    return dict(keep)


def apply(state: UserState, e: Engagement, params: Params) -> Outcome:
    """Fold one engagement (or the user's own post) into the state of its target."""
    if e.event_id in state.seen:
        return Outcome(state, False, "duplicate")
    seen = remember(state.seen, e.event_id, e.ts, params.dedup_horizon_ms, params.max_seen_ids)
    state = _rebased(state, e.ts, params)
    if too_old(e.ts, state.landmark, params.half_life_ms):
        return Outcome(state.with_(seen=seen), True, "applied")  # decayed to nothing already
    g = growth(e.ts, state.landmark, params.half_life_ms)
    common = {
        "seen": seen,
        "as_of": max(state.as_of, e.ts),
        "last_active": max(state.last_active, e.ts),
        "events": state.events + 1,
    }
    if e.type == "post":
        topics = dict(state.topics)
        for topic in e.topics:
            known = topics.get(topic, TopicStat(0.0))
            topics[topic] = TopicStat(
                known.interactions,
                known.engagers,
                _add_capped(known.contents, e.content_id, params.topic_track),
            )
        return Outcome(state.with_(posts=state.posts + g, topics=topics, **common), True, "applied")
    if e.actor_id == state.user_id:
        discounts = dict(state.discounts)
        discounts["self"] = discounts.get("self", 0) + 1
        return Outcome(state.with_(seen=seen, discounts=discounts), False, "self")

    prior = state.engagers.get(e.actor_id)
    n_before = prior.count / g if prior else 0.0
    reach_before = prior.reach / g if prior else 0.0
    diminishing = 1.0 / (1.0 + n_before)
    tone = sentiment_factor(e.sentiment, params) if e.type in TONED else 1.0
    weight = (
        params.type_weights.get(e.type, 1.0)
        * params.network_weight(e.network)
        * e.quality
        * tone
        * diminishing
    )
    # an engager's share of reach: their best engagement so far, but never more than their latest
    # quality (a bot keeps full weight only until it is recognised); hostile tone counts squared
    reach_target = e.quality * REACH_CAP.get(e.type, 1.0) * min(1.0, tone) ** 2
    reach_gain = min(max(reach_before, reach_target), e.quality) - reach_before
    amp_add = weight * g if e.type in AMPLIFYING else 0.0
    net_add = weight * (e.actor_score / 100.0) * g
    # recognised late (a bot past its first actions, a pod member): what this engager added at a
    # higher quality is scaled down to the quality it has now, so early actions buy nothing lasting
    keep = e.quality / prior.quality if prior and 0.0 < e.quality < prior.quality else 1.0
    if prior and e.quality <= 0.0 < prior.quality:
        keep = 0.0
    old_w, old_a, old_n = (prior.weight, prior.amp, prior.net) if prior else (0.0, 0.0, 0.0)
    stat = EngagerStat(
        reach=(reach_before + reach_gain) * g,
        count=(prior.count if prior else 0.0) + g,
        weight=old_w * keep + weight * g,
        last_ts=max(e.ts, prior.last_ts if prior else e.ts),
        amp=old_a * keep + amp_add,
        net=old_n * keep + net_add,
        quality=min(prior.quality, e.quality) if prior else e.quality,
    )
    cut_w, cut_a, cut_n = old_w * (1 - keep), old_a * (1 - keep), old_n * (1 - keep)
    engagers = dict(state.engagers)
    engagers[e.actor_id] = stat
    networks = dict(state.networks)
    net_reach, net_inter = networks.get(e.network, (0.0, 0.0))
    networks[e.network] = (net_reach + reach_gain * g, max(0.0, net_inter + weight * g - cut_w))
    topics = state.topics
    if e.topics:
        topics = dict(topics)
        for topic in e.topics:
            t_stat = topics.get(topic, TopicStat(0.0))
            topics[topic] = TopicStat(
                t_stat.interactions + weight * g,
                # only engagement that counted is evidence (bots and trolls are not)
                _add_capped(
                    t_stat.engagers,
                    e.actor_id if e.quality * tone >= 0.5 else None,
                    params.topic_track,
                ),
                _add_capped(t_stat.contents, e.content_id, params.topic_track),
            )
    contents = state.contents
    if e.content_id is not None:
        contents = dict(contents)
        contents[e.content_id] = contents.get(e.content_id, 0.0) + weight * g
        contents = _top_values(contents, params.content_track)
    discounts = state.discounts
    why = _discount(e, tone, diminishing)
    if why is not None:
        discounts = dict(discounts)
        discounts[why] = discounts.get(why, 0) + 1
    new = state.with_(
        reach=state.reach + reach_gain * g,
        interactions=max(0.0, state.interactions + weight * g - cut_w),
        amplifying=max(0.0, state.amplifying + amp_add - cut_a),
        network=max(0.0, state.network + net_add - cut_n),
        engagers=_bounded(engagers, params.max_engagers),
        networks=networks,
        topics=topics,
        contents=contents,
        discounts=discounts,
        **common,
    )
    return Outcome(new, True, "applied")


def _top_values(values: dict[str, float], cap: int) -> dict[str, float]:
    """Keep the `cap` largest once a quarter over it (amortised, like `_bounded`)."""
    if len(values) <= cap + cap // 4:
        return values
    return dict(sorted(values.items(), key=lambda kv: kv[1])[-cap:])


def _discount(e: Engagement, tone: float, diminishing: float) -> str | None:
    """Why this engagement counted for less than its face value, if it did (for explain)."""
    if e.quality < 1.0 and e.quality_reason is not None:
        return e.quality_reason
    if e.quality < 0.5:
        return "low_quality"
    if tone < 0.5:
        return "negative"
    if diminishing < 0.5:
        return "repeat"
    return None


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


def _add_capped(items: tuple[str, ...], item: str | None, cap: int) -> tuple[str, ...]:
    if item is None or item in items or len(items) >= cap:
        return items
    return (*items, item)


def touch(state: UserState, ts: int) -> UserState:
    """The user acted (seen by enrich): activity that holds the score through the grace period."""
    return state if ts <= state.last_active else state.with_(last_active=ts)


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


def bought_audience(state: UserState, params: Params) -> EngagerStat | None:
    """The summed contributions of suspected engagers, when they are most of the audience."""
    if len(state.engagers) < params.bought_min_suspects:  # too few to hold enough suspects
        return None
    suspects = [s for s in state.engagers.values() if s.quality < params.suspect_quality]
    if len(suspects) < params.bought_min_suspects or 2 * len(suspects) <= len(state.engagers):
        return None
    return EngagerStat(
        reach=sum(s.reach for s in suspects),
        count=sum(s.count for s in suspects),
        weight=sum(s.weight for s in suspects),
        last_ts=max(s.last_ts for s in suspects),
        amp=sum(s.amp for s in suspects),
        net=sum(s.net for s in suspects),
        quality=0.0,
    )


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


def read_factor(state: UserState, now: int, params: Params) -> float:
    """The decay factor to read stored values with at stream time `now` (grace applied)."""
    return shrink(effective_time(state, now, params), state.landmark, params.half_life_ms)


def forget(state: UserState, engager_id: str) -> UserState | None:
    """The state without anything an erased engager contributed (None if they never engaged).

    Totals lose exactly the engager's stored share. The per-network and per-topic breakdowns do
    not keep per-engager parts, so they lose the same fraction of their totals, and the engager
    is dropped from topic evidence and from the reasons explain shows."""
    stat = state.engagers.get(engager_id)
    if stat is None:
        return None
    engagers = {e: s for e, s in state.engagers.items() if e != engager_id}
    reach_left = 1.0 - stat.reach / state.reach if state.reach > 0 else 1.0
    inter_left = 1.0 - stat.weight / state.interactions if state.interactions > 0 else 1.0
    reach_left, inter_left = max(0.0, reach_left), max(0.0, inter_left)
    return state.with_(
        reach=max(0.0, state.reach - stat.reach),
        interactions=max(0.0, state.interactions - stat.weight),
        amplifying=max(0.0, state.amplifying - stat.amp),
        network=max(0.0, state.network - stat.net),
        engagers=engagers,
        reasons=tuple(r for r in state.reasons if f" by {engager_id} on " not in r.text),
        contents={c: v * inter_left for c, v in state.contents.items()},
        networks={n: (r * reach_left, i * inter_left) for n, (r, i) in state.networks.items()},
        topics={
            t: TopicStat(
                s.interactions * inter_left,
                tuple(e for e in s.engagers if e != engager_id),
                s.contents,
            )
            for t, s in state.topics.items()
        },
    )


def curve(x: float, x0: float, ref: float) -> float:
    """0 at 0, 100 at ref, logarithmic in between: each point costs more near the top."""
    if x <= 0:
        return 0.0
    return min(100.0, 100.0 * math.log1p(x / x0) / math.log1p(ref / x0))


def score(state: UserState, now: int, params: Params) -> Score:
    """The score of a user at stream time `now` (grace applied); pure."""
    at = effective_time(state, now, params)
    k = shrink(at, state.landmark, params.half_life_ms)
    reach_x = state.reach * k
    inter_x = state.interactions * k
    amp_x = state.amplifying * k
    net_x = state.network * k
    posts_x = state.posts * k
    bought = bought_audience(state, params)
    if bought is not None:  # an audience made mostly of suspected accounts counts for nothing
        reach_x = max(0.0, reach_x - bought.reach * k)
        inter_x = max(0.0, inter_x - bought.weight * k)
        amp_x = max(0.0, amp_x - bought.amp * k)
        net_x = max(0.0, net_x - bought.net * k)
    amp_rate = (amp_x + 0.1 * (inter_x - amp_x)) / (posts_x + params.prior_posts)
    reach = curve(reach_x, params.reach_x0, params.reach_ref)
    amplification = curve(amp_rate, params.amplification_x0, params.amplification_ref)
    network = curve(net_x, params.network_x0, params.network_ref)
    total = 1.0 + 0.99 * (
        params.w_reach * reach + params.w_amplification * amplification + params.w_network * network
    )
    networks = {n: network_score(state, n, k, params) for n in state.networks}
    topics: list[dict[str, Any]] = [
        {"topic": t, "score": round(curve(s.interactions * k, params.reach_x0, params.reach_ref), 2)}
        for t, s in state.topics.items()
        if has_evidence(s, params)
    ]
    topics.sort(key=lambda t: -float(t["score"]))
    return Score(
        user_id=state.user_id,
        score=round(min(100.0, max(1.0, total)), 2),
        reach=round(reach, 2),
        amplification=round(amplification, 2),
        network=round(network, 2),
        signals={
            "engagers": round(reach_x, 3),
            "interactions": round(inter_x, 3),
            "posts": round(posts_x, 3),
            "amplifying": round(amp_x, 3),
            "network": round(net_x, 3),
        },
        networks=dict(sorted(networks.items(), key=lambda kv: -kv[1])),
        topics=topics[:10],
        at=at,
    )


def record(state: UserState, result: Score, now: int, reason: str | None, params: Params) -> UserState:
    """Remember the score: the daily history point (for trend), and why it moved (for explain)."""
    hour = now // params.settle_ms  # the settling period (named `hour` in the state: it was one)
    settled = state.settled if hour == state.hour else state.score
    day = now // DAY_MS
    history = [p for p in state.history if p[0] != day and p[0] > day - params.history_days]
    history.append((day, result.score))
    history.sort()
    reasons = state.reasons
    delta = round(result.score - state.score, 2)
    if reason is not None and delta != 0:
        reasons = (*state.reasons, Reason(now, delta, reason))[-params.reasons_kept :]
    return state.with_(
        score=result.score,
        history=tuple(history),
        reasons=reasons,
        hour=max(hour, state.hour),
        settled=settled,
    )


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


def describe(e: Engagement) -> str:
    """One line for explain: what moved the score."""
    text = f"{e.type} by {e.actor_id} on {e.network}"
    if e.quality < 0.5:
        text += f" (quality {e.quality:.2f})"
    if e.sentiment is not None and e.type in TONED:
        text += f" (sentiment {e.sentiment:+.1f})"
    return text
