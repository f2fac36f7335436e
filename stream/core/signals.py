"""How one engagement adds to the signals of its target, in place (a fold's working copy).

Every contribution is multiplied by the engager's quality (from enrich), the type and network
weights, a sentiment factor and diminishing returns (integrity.py), and stored forward-decayed
against the state's landmark (decay.py): O(1) per engagement, whatever the audience's size.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from stream.core import integrity
from stream.core.decay import growth, needs_rebase, shrink, too_old
from stream.core.params import AMPLIFYING, REACH_CAP, TONED, Params
from stream.core.state import EngagerStat, TopicStat, UserState


class Engagement(NamedTuple):
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
        get = event.get
        return cls(
            event["event_id"],
            event["type"],
            event["network"],
            event["actor_id"],
            get("target_id", event["actor_id"]),
            event["ts"],
            float(get("q", 1.0)),
            float(get("actor_score", 1.0)),
            get("content_id"),
            tuple(get("topics", ())),
            get("sentiment"),
            get("q_why"),
        )


def rebase(state: UserState, t: int, params: Params) -> None:
    """Move the landmark to t so stored values stay finite over decades of stream time."""
    if state.events == 0 and not state.engagers:
        state.landmark = t
        return
    if not needs_rebase(t, state.landmark, params.half_life_ms):
        return
    k = shrink(t, state.landmark, params.half_life_ms)
    state.landmark = t
    state.reach *= k
    state.interactions *= k
    state.amplifying *= k
    state.network *= k
    state.posts *= k
    state.engagers = {
        e: EngagerStat(s.reach * k, s.times * k, s.weight * k, s.last_ts, s.amp * k, s.net * k, s.quality)
        for e, s in state.engagers.items()
    }
    state.suspects = [state.suspects[0], *(v * k for v in state.suspects[1:])]
    state.contents = {c: v * k for c, v in state.contents.items()}
    state.networks = {n: (r * k, i * k) for n, (r, i) in state.networks.items()}
    state.topics = {
        name: TopicStat(s.interactions * k, s.engagers, s.contents) for name, s in state.topics.items()
    }


def add(state: UserState, e: Engagement, params: Params) -> str:
    """Fold one engagement (or the user's own post) into `state`: "applied" or "self"."""
    ts, half_life = e.ts, params.half_life_ms
    if state.events == 0 or needs_rebase(ts, state.landmark, half_life):
        rebase(state, ts, params)
    if too_old(ts, state.landmark, half_life):
        return "applied"  # decayed to nothing already
    if e.type != "post" and e.actor_id == state.user_id:
        state.discounts["self"] = state.discounts.get("self", 0) + 1
        return "self"
    g = growth(ts, state.landmark, half_life)
    if ts > state.as_of:
        state.as_of = ts
    if ts > state.last_active:
        state.last_active = ts
    state.events += 1
    if e.type == "post":
        for topic in e.topics:
            known = state.topics.get(topic, _NO_TOPIC)
            contents = _add_capped(known.contents, e.content_id, params.topic_track)
            state.topics[topic] = TopicStat(known.interactions, known.engagers, contents)
        state.posts += g
        return "applied"
    _engage(state, e, g, params)
    return "applied"


_NO_TOPIC = TopicStat(0.0)


def _engage(state: UserState, e: Engagement, g: float, params: Params) -> None:
    actor, etype, quality = e.actor_id, e.type, e.quality
    engagers = state.engagers
    prior = engagers.get(actor)
    if prior is None:
        n_before = reach_before = old_w = old_a = old_n = old_times = 0.0
        last_ts, keep = e.ts, 1.0
    else:
        n_before, reach_before = prior.times / g, prior.reach / g
        old_w, old_a, old_n, old_times = prior.weight, prior.amp, prior.net, prior.times
        last_ts = e.ts if e.ts > prior.last_ts else prior.last_ts
        keep = integrity.kept_share(prior, quality)
    dim = integrity.diminishing(n_before) if params.repeat_discount else 1.0
    tone = integrity.sentiment_factor(e.sentiment, params) if etype in TONED else 1.0
    weight = params.type_weights.get(etype, 1.0) * params.network_weight(e.network) * quality * tone * dim
    # an engager's share of reach: their best engagement so far, but never more than their latest
    # quality (a bot keeps full weight only until it is recognised); hostile tone counts squared
    reach_target = quality * REACH_CAP.get(etype, 1.0) * min(1.0, tone) ** 2
    reach_gain = min(max(reach_before, reach_target), quality) - reach_before
    wg = weight * g
    amp_add = wg if etype in AMPLIFYING else 0.0
    net_add = weight * (e.actor_score / 100.0) * g
    stat = EngagerStat(
        (reach_before + reach_gain) * g,
        old_times + g,
        old_w * keep + wg,
        last_ts,
        old_a * keep + amp_add,
        old_n * keep + net_add,
        quality if prior is None or quality < prior.quality else prior.quality,
    )
    cut = 1 - keep
    cut_w, cut_a, cut_n = old_w * cut, old_a * cut, old_n * cut
    suspect = params.suspect_quality
    if prior is not None and prior.quality < suspect:
        integrity.count_suspect(state, prior, -1.0, params)
    if stat.quality < suspect:
        integrity.count_suspect(state, stat, 1.0, params)
    engagers[actor] = stat
    reach_add = reach_gain * g
    networks = state.networks
    net_reach, net_inter = networks.get(e.network, _NO_NETWORK)
    networks[e.network] = (net_reach + reach_add, max(0.0, net_inter + wg - cut_w))
    if e.topics:
        _engage_topics(state, e, wg, tone, params)
    if e.content_id is not None:
        contents = state.contents
        contents[e.content_id] = contents.get(e.content_id, 0.0) + wg
        if len(contents) > params.content_track + params.content_track // 4:
            _keep_top(contents, params.content_track)
    if quality < 1.0 or tone < 0.5 or dim < 0.5:
        why = integrity.discount_reason(quality, e.quality_reason, tone, dim)
        if why is not None:
            state.discounts[why] = state.discounts.get(why, 0) + 1
    state.reach += reach_add
    state.interactions = max(0.0, state.interactions + wg - cut_w)
    state.amplifying = max(0.0, state.amplifying + amp_add - cut_a)
    state.network = max(0.0, state.network + net_add - cut_n)
    cap = params.max_engagers
    if len(engagers) > cap + cap // 4:
        _bound_engagers(state, params)


_NO_NETWORK = (0.0, 0.0)


def _engage_topics(state: UserState, e: Engagement, wg: float, tone: float, params: Params) -> None:
    # only engagement that counted is evidence (bots and trolls are not)
    engager = e.actor_id if e.quality * tone >= 0.5 else None
    for topic in e.topics:
        t_stat = state.topics.get(topic, _NO_TOPIC)
        state.topics[topic] = TopicStat(
            t_stat.interactions + wg,
            _add_capped(t_stat.engagers, engager, params.topic_track),
            _add_capped(t_stat.contents, e.content_id, params.topic_track),
        )


def _bound_engagers(state: UserState, params: Params) -> None:
    """Forget the least engaged once a quarter over the cap (amortised: not a sort per event)."""
    cap = params.max_engagers
    if len(state.engagers) <= cap + cap // 4:
        return
    ranked = sorted(state.engagers.items(), key=lambda kv: (kv[1].weight, kv[1].last_ts))
    for _, stat in ranked[:-cap]:
        integrity.count_suspect(state, stat, -1.0, params)
    state.engagers = dict(ranked[-cap:])


def _keep_top(values: dict[str, float], cap: int) -> None:
    """Keep the `cap` largest once a quarter over it (amortised, like `_bound_engagers`)."""
    if len(values) > cap + cap // 4:
        top = sorted(values.items(), key=lambda kv: kv[1])[-cap:]
        values.clear()
        values.update(top)


def _add_capped(items: tuple[str, ...], item: str | None, cap: int) -> tuple[str, ...]:
    if item is None or item in items or len(items) >= cap:
        return items
    return (*items, item)
