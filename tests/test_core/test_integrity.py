"""Signal integrity in the core: what bots, pods, bought followers and trolls can still buy."""

from __future__ import annotations

from typing import Any

from stream.batch import BatchRun
from stream.codec import dumps
from stream.core import model
from stream.core.actor import observe, quality
from stream.core.params import DAY_MS, DEFAULT, HOUR_MS, Params
from stream.core.state import ActorState


def observed(actor: ActorState, event: dict[str, Any], params: Params) -> tuple[ActorState, bool]:
    """observe() on a copy: the actor after the action, and whether it was new."""
    after = actor.copy()
    return after, observe(after, event, params)


T0 = 1_767_225_600_000


def ev(n: int, actor: str, target: str | None, ts: int, kind: str = "like", **extra: Any) -> dict[str, Any]:
    e: dict[str, Any] = {
        "event_id": f"{actor}-{n}",
        "type": kind,
        "network": "twitter",
        "actor_id": actor,
        "ts": ts,
        **extra,
    }
    if target is not None:
        e["target_id"] = target
    return e


def run(events: list[dict[str, Any]]) -> BatchRun:
    batch = BatchRun()
    batch.feed_all((dumps(e) for e in sorted(events, key=lambda e: e["ts"])), DEFAULT)
    return batch


def acted(actor: str, per_day: int, days: int, posts_every: int = 0) -> ActorState:
    state = ActorState(actor)
    n = 0
    for day in range(days):
        for i in range(per_day):
            kind = "post" if posts_every and n % posts_every == 0 else "like"
            state, _ = observed(
                state,
                ev(
                    n,
                    actor,
                    None if kind == "post" else "x",
                    T0 + day * DAY_MS + i * (DAY_MS // per_day),
                    kind,
                ),
                DEFAULT,
            )
            n += 1
    return state


def test_a_human_pace_keeps_full_weight() -> None:
    human = acted("ann", per_day=12, days=3, posts_every=6)
    assert quality(human, ev(0, "ann", "bob", human.last_action), None, DEFAULT) == (1.0, None)


def test_machine_like_rates_get_near_zero_weight() -> None:
    bot = acted("bot", per_day=300, days=2)
    weight, why = quality(bot, ev(0, "bot", "client", bot.last_action), None, DEFAULT)
    assert weight < 0.02 and why == "automated"


def test_a_burst_within_one_hour_is_discounted() -> None:
    state = ActorState("burst")
    for i in range(90):
        state, _ = observed(
            state, ev(i, "burst", "x", T0 + i * (HOUR_MS // 100), "post" if i == 0 else "like"), DEFAULT
        )
    assert quality(state, ev(0, "burst", "y", state.last_action), None, DEFAULT).weight < 0.2


def test_a_fresh_account_that_only_acts_is_discounted() -> None:
    fresh = acted("new", per_day=55, days=1)
    weight, why = quality(fresh, ev(0, "new", "x", fresh.last_action), None, DEFAULT)
    assert weight <= 0.3 and why == "automated"


def test_reciprocal_engagement_counts_less_than_from_a_stranger() -> None:
    pod = run([ev(1, "b", "a", T0), ev(2, "a", "b", T0 + 1000)])  # b engaged a, then a engages b
    stranger = run([ev(1, "c", "z", T0), ev(2, "a", "b", T0 + 1000)])
    assert pod.users["b"].reach < 0.5 * stranger.users["b"].reach
    assert pod.users["b"].discounts.get("reciprocal") == 1


def test_a_bot_farm_cannot_lift_its_client_above_a_few_real_fans() -> None:
    """300 bots acting all day (120 actions each), a quarter of them on one client."""
    events = []
    for b in range(300):
        for i in range(120):
            target = "client" if i % 4 == 0 else f"noise{(b * 7 + i) % 50}"
            events.append(ev(i, f"bot{b}", target, T0 + b * 13 + i * (DAY_MS // 120)))
    fans = [ev(i, f"fan{i}", "real", T0 + i * 60_000, "retweet") for i in range(10)]
    batch = run(events + fans)
    scores = batch.scores(DEFAULT)
    client = scores["client"]
    # an audience made mostly of suspected accounts counts for nothing
    assert client.signals["engagers"] == 0 and client.signals["interactions"] == 0
    assert client.score < scores["real"].score
    notes = model.discount_notes(batch.users["client"].discounts)
    assert notes and "automated" in notes[0]


def test_a_few_suspects_among_real_fans_still_count_at_their_quality() -> None:
    """The bought-audience rule needs suspects to be most of the audience, and many of them."""
    bots = []
    for b in range(12):
        bots += [
            ev(i, f"bot{b}", "popular" if i == 0 else f"x{i % 9}", T0 + b * 11 + i * (DAY_MS // 150))
            for i in range(150)
        ]
    fans = [ev(i, f"fan{i}", "popular", T0 + i * 60_000, "retweet") for i in range(40)]
    state = run(bots + fans).users["popular"]
    assert model.bought_audience(state, DEFAULT) is None
    assert model.score(state, T0 + DAY_MS, DEFAULT).signals["engagers"] > 40


def test_bought_followers_do_not_buy_reach() -> None:
    follows = [ev(i, f"buyer{i}", "vain", T0 + i, "follow") for i in range(1000)]
    fans = [ev(i, f"fan{i}", "honest", T0 + i, "retweet") for i in range(5)]
    scores = run(follows + fans).scores(DEFAULT)
    assert scores["vain"].reach == 0.0
    assert scores["vain"].score < scores["honest"].score


def test_a_negative_storm_earns_far_less_than_a_positive_one() -> None:
    angry = [ev(i, f"troll{i}", "target", T0 + i, "reply", sentiment=-0.9) for i in range(200)]
    happy = [ev(i, f"fan{i}", "liked", T0 + i, "reply", sentiment=0.6) for i in range(200)]
    batch = run(angry + happy)
    s0 = model.score(model.UserState("nobody"), T0, DEFAULT).score
    lift_angry = batch.scores(DEFAULT)["target"].score - s0
    lift_happy = batch.scores(DEFAULT)["liked"].score - s0
    assert lift_angry <= 0.5 * lift_happy
    assert batch.users["target"].discounts.get("negative") == 200
