"""Concrete situations a user of the score would recognise: fans, bots, trolls, posts, topics,
decay, trend and explain."""

from __future__ import annotations

import math

import pytest

from stream.core import model
from stream.core.decay import REBASE_AFTER_HALF_LIVES, decayed, growth, needs_rebase, too_old
from stream.core.model import Engagement, apply, effective_time, score
from stream.core.params import DAY_MS, DEFAULT, Params, params_from
from stream.core.state import UserState, from_json, to_json
from stream.events.validate import validate_event

USER = "u"
T0 = 1_767_225_600_000
HOUR = 3_600_000


def fold(
    events: list[Engagement], params: Params = DEFAULT, state: UserState | None = None
) -> UserState:
    state = state or UserState(USER)
    for e in events:
        state = apply(state, e, params).state
    return state


def eng(
    i: int | str,
    kind: str = "like",
    actor: str = "fan",
    ts: int = T0,
    *,
    network: str = "twitter",
    quality: float = 1.0,
    actor_score: float = 1.0,
    content_id: str | None = None,
    topics: tuple[str, ...] = (),
    sentiment: float | None = None,
) -> Engagement:
    """An engagement of USER."""
    return Engagement(
        f"e{i}", kind, network, actor, USER, ts, quality, actor_score, content_id, topics, sentiment
    )


def value(state: UserState, name: str, now: int, params: Params = DEFAULT) -> float:
    at = effective_time(state, now, params)
    return decayed(getattr(state, name), at, state.landmark, params.half_life_ms)


# --- the basics -------------------------------------------------------------------------------


def test_nobody_starts_at_one() -> None:
    result = score(UserState(USER), T0, DEFAULT)
    assert result.score == 1.0
    assert (result.reach, result.amplification, result.network) == (0.0, 0.0, 0.0)
    assert result.topics == [] and result.networks == {}


def test_engagement_raises_the_score_and_is_explained() -> None:
    state = fold([eng(i, "retweet", f"fan{i}", T0 + i, actor_score=40.0) for i in range(20)])
    result = score(state, T0 + 20, DEFAULT)
    assert result.score > 1.0
    assert result.reach > 0 and result.amplification > 0 and result.network > 0
    assert result.signals["engagers"] == pytest.approx(20.0, abs=1e-2)
    assert result.signals["interactions"] == pytest.approx(60.0, abs=1e-2)
    assert result.signals["amplifying"] == pytest.approx(60.0, abs=1e-2)
    assert result.signals["network"] == pytest.approx(60.0 * 0.4, abs=1e-2)
    assert list(result.networks) == ["twitter"]
    assert state.events == 20


def test_more_distinct_fans_score_higher_but_with_diminishing_points() -> None:
    def score_with(fans: int) -> float:
        events = [eng(i, "retweet", f"fan{i}", T0, actor_score=30.0) for i in range(fans)]
        return score(fold(events), T0, DEFAULT).score

    s10, s100, s1000 = score_with(10), score_with(100), score_with(1000)
    assert 1.0 < s10 < s100 < s1000 <= 100.0
    # log-like: ten times the audience is worth a bounded number of points, not ten times more
    assert s1000 - s100 < 2 * (s100 - s10)
    assert s1000 < 10 * s10


def test_engagement_from_a_validated_event() -> None:
    event = validate_event(
        b'{"event_id":"x1","type":"reply","network":"youtube","actor_id":"fan","target_id":"u",'
        b'"content_id":"p1","topics":["#Coffee"],"sentiment":0.5,"ts":"2026-01-01T00:00:00Z"}'
    )
    assert isinstance(event, dict)
    e = Engagement.from_event({**event, "q": 0.5, "actor_score": 70})
    assert e == Engagement(
        "x1", "reply", "youtube", "fan", "u", T0, 0.5, 70.0, "p1", ("coffee",), 0.5
    )
    post = validate_event(
        b'{"event_id":"x2","type":"post","network":"twitter","actor_id":"u","ts":1}'
    )
    assert isinstance(post, dict)
    p = Engagement.from_event(post)
    assert p.target_id == "u" and p.quality == 1.0 and p.topics == ()


# --- hard to game -------------------------------------------------------------------------------


def test_one_fan_liking_fifty_times_is_worth_far_less_than_fifty_fans() -> None:
    one_fan = fold([eng(i, "like", "superfan", T0 + i * 60_000) for i in range(50)])
    fifty = fold([eng(i, "like", f"fan{i}", T0 + i * 60_000) for i in range(50)])
    now = T0 + 50 * 60_000
    assert value(one_fan, "interactions", now) < value(fifty, "interactions", now) / 5
    assert value(one_fan, "reach", now) == pytest.approx(1.0, abs=0.01)
    assert value(fifty, "reach", now) == pytest.approx(50.0, rel=0.01)
    assert score(one_fan, now, DEFAULT).score < score(fifty, now, DEFAULT).score
    assert one_fan.discounts.get("repeat", 0) > 0


def test_zero_quality_engagement_adds_nothing() -> None:
    bots = fold(
        [eng(i, "retweet", f"bot{i}", T0, quality=0.0, actor_score=100.0) for i in range(100)]
    )
    result = score(bots, T0, DEFAULT)
    assert result.score == 1.0
    assert result.signals["engagers"] == 0 and result.signals["interactions"] == 0
    assert bots.discounts.get("low_quality") == 100


def test_low_quality_counts_proportionally_less() -> None:
    good = fold([eng(i, "retweet", f"a{i}", quality=1.0) for i in range(10)])
    half = fold([eng(i, "retweet", f"a{i}", quality=0.5) for i in range(10)])
    assert value(half, "interactions", T0) == pytest.approx(value(good, "interactions", T0) / 2)
    assert value(half, "reach", T0) == pytest.approx(value(good, "reach", T0) / 2)


def test_negative_reply_adds_much_less_than_positive() -> None:
    angry = fold([eng(1, "reply", "troll", sentiment=-1.0)])
    happy = fold([eng(1, "reply", "friend", sentiment=1.0)])
    neutral = fold([eng(1, "reply", "friend", sentiment=None)])
    assert value(angry, "interactions", T0) < value(happy, "interactions", T0) / 10
    assert value(angry, "reach", T0) < value(happy, "reach", T0) / 10
    assert value(neutral, "interactions", T0) < value(happy, "interactions", T0)
    assert score(angry, T0, DEFAULT).score < score(happy, T0, DEFAULT).score
    assert angry.discounts.get("negative") == 1


def test_sentiment_only_matters_for_toned_types() -> None:
    liked = fold([eng(1, "like", "f", sentiment=-1.0)])
    plain = fold([eng(1, "like", "f")])
    assert value(liked, "interactions", T0) == value(plain, "interactions", T0)


@pytest.mark.parametrize(
    ("sentiment", "factor"),
    [(-1.0, 0.05), (-0.5, 0.25), (0.0, 1.0), (None, 1.0), (0.5, 1.25), (1.0, 1.5)],
)
def test_sentiment_factor(sentiment: float | None, factor: float) -> None:
    assert model.sentiment_factor(sentiment, DEFAULT) == pytest.approx(factor)


def test_follow_is_a_weak_signal_and_unfollow_none() -> None:
    follows = fold([eng(i, "follow", f"f{i}") for i in range(10)])
    retweets = fold([eng(i, "retweet", f"f{i}") for i in range(10)])
    unfollows = fold([eng(i, "unfollow", f"f{i}") for i in range(10)])
    assert value(follows, "reach", T0) == 0.0  # a follow buys no reach (bought followers)
    assert value(follows, "interactions", T0) < value(retweets, "interactions", T0) / 10
    assert score(unfollows, T0, DEFAULT).score == 1.0


def test_self_interaction_is_counted_as_discount_not_score() -> None:
    state = fold([eng(1, "retweet", "fan")])
    outcome = apply(state, eng(2, "retweet", USER), DEFAULT)
    assert (outcome.applied, outcome.why) == (False, "self")
    assert outcome.state.reach == state.reach
    assert outcome.state.interactions == state.interactions
    assert outcome.state.discounts["self"] == 1


def test_famous_engagers_raise_network_more() -> None:
    famous = fold([eng(i, "retweet", f"f{i}", actor_score=100.0) for i in range(5)])
    nobody = fold([eng(i, "retweet", f"f{i}", actor_score=1.0) for i in range(5)])
    assert score(famous, T0, DEFAULT).network > score(nobody, T0, DEFAULT).network
    assert value(famous, "reach", T0) == value(nobody, "reach", T0)


def test_network_weights_and_unknown_networks() -> None:
    def inter(network: str) -> float:
        return value(fold([eng(1, "retweet", "f", network=network)]), "interactions", T0)

    assert inter("youtube") == pytest.approx(1.1 * inter("twitter"))
    assert inter("mastodon") == pytest.approx(inter("twitter"))  # default weight
    state = fold([eng(1, "like", "a", network="twitter"), eng(2, "like", "b", network="youtube")])
    assert set(score(state, T0, DEFAULT).networks) == {"twitter", "youtube"}


# --- posts ----------------------------------------------------------------------------------------


def test_posts_are_counted_and_spread_amplification() -> None:
    engaged = [eng(i, "retweet", f"f{i}") for i in range(10)]
    posts = [
        Engagement(f"p{i}", "post", "twitter", USER, USER, T0, content_id=f"c{i}")
        for i in range(10)
    ]
    few = fold(engaged)
    many = fold(posts, state=few)
    assert score(few, T0, DEFAULT).signals["posts"] == 0
    assert score(many, T0, DEFAULT).signals["posts"] == pytest.approx(10.0)
    # the same engagement over more posts is a lower amplification rate
    assert score(many, T0, DEFAULT).amplification < score(few, T0, DEFAULT).amplification
    assert value(many, "reach", T0) == value(few, "reach", T0)
    assert many.events == 20


def test_single_post_with_one_retweet_is_not_full_amplification() -> None:
    state = fold(
        [Engagement("p", "post", "twitter", USER, USER, T0, content_id="c"), eng(1, "retweet", "f")]
    )
    assert score(state, T0, DEFAULT).amplification < 50


# --- topics ---------------------------------------------------------------------------------------


def topic_events(engagers: int, contents: int, topic: str = "coffee") -> list[Engagement]:
    return [
        eng(
            f"{topic}{i}-{c}",
            "retweet",
            f"{topic}-f{i}",
            content_id=f"{topic}-c{c}",
            topics=(topic,),
        )
        for i in range(engagers)
        for c in range(contents)
    ]


@pytest.mark.parametrize(
    ("engagers", "contents", "listed"),
    [(1, 5, False), (2, 5, False), (5, 1, False), (3, 2, True), (5, 5, True)],
)
def test_topic_needs_several_engagers_on_several_posts(
    engagers: int, contents: int, listed: bool
) -> None:
    result = score(fold(topic_events(engagers, contents)), T0, DEFAULT)
    assert (["coffee"] if listed else []) == [t["topic"] for t in result.topics]


def test_topics_best_first_and_at_most_ten() -> None:
    events = []
    for k in range(12):
        events += topic_events(3 + k, 2, topic=f"t{k:02d}")
    result = score(fold(events), T0, DEFAULT)
    assert len(result.topics) == 10
    assert [t["topic"] for t in result.topics] == [f"t{k:02d}" for k in range(11, 1, -1)]


def test_posts_on_a_topic_count_as_its_content() -> None:
    posts = [
        Engagement(f"p{c}", "post", "twitter", USER, USER, T0, content_id=f"c{c}", topics=("jazz",))
        for c in range(2)
    ]
    fans = [eng(i, "like", f"f{i}", topics=("jazz",)) for i in range(3)]  # no content id
    assert [t["topic"] for t in score(fold(posts + fans), T0, DEFAULT).topics] == ["jazz"]
    assert score(fold(fans), T0, DEFAULT).topics == []


# --- time -----------------------------------------------------------------------------------------


def test_decay_math() -> None:
    h = 1000
    assert growth(5000, 5000, h) == 1.0
    assert growth(6000, 5000, h) == 2.0
    assert decayed(8.0, 8000, 5000, h) == 1.0
    assert not needs_rebase(5000 + int(REBASE_AFTER_HALF_LIVES) * h, 5000, h)
    assert needs_rebase(5001 + int(REBASE_AFTER_HALF_LIVES) * h, 5000, h)
    # far in the past is not rebased: such an event has decayed to nothing (too_old)
    assert not needs_rebase(4999 - int(REBASE_AFTER_HALF_LIVES) * h, 5000, h)
    assert too_old(4999 - int(REBASE_AFTER_HALF_LIVES) * h, 5000, h)


def test_idle_account_is_held_through_grace_then_halves_every_half_life() -> None:
    state = fold([eng(i, "retweet", f"f{i}", actor_score=50.0) for i in range(30)])
    p = DEFAULT
    base = score(state, T0, p)
    assert score(state, T0 + p.grace_ms, p) == base
    later = score(state, T0 + p.grace_ms + p.half_life_ms, p)
    assert later.signals["engagers"] == pytest.approx(base.signals["engagers"] / 2, abs=1e-3)
    assert later.score < base.score
    much_later = score(state, T0 + p.grace_ms + 30 * p.half_life_ms, p)
    assert much_later.score == 1.0


def test_effective_time() -> None:
    state = UserState(USER, last_active=T0, as_of=T0)
    p = Params(grace_ms=DAY_MS)
    assert effective_time(state, T0 - 5, p) == T0 - 5
    assert effective_time(state, T0 + DAY_MS, p) == T0
    assert effective_time(state, T0 + DAY_MS + 7, p) == T0 + 7
    assert effective_time(model.touch(state, T0 + 100), T0 + DAY_MS, p) == T0 + 100
    assert model.touch(state, T0 - 1) is state


def test_late_event_counts_less_than_a_fresh_one() -> None:
    p = Params(grace_ms=0)
    base = fold([eng(1, "retweet", "a", T0 + 10 * DAY_MS)], p)
    fresh = apply(base, eng(2, "retweet", "b", T0 + 10 * DAY_MS), p).state
    late = apply(base, eng(2, "retweet", "b", T0 - 20 * DAY_MS), p).state
    now = T0 + 10 * DAY_MS
    gain_fresh = value(fresh, "interactions", now, p) - value(base, "interactions", now, p)
    gain_late = value(late, "interactions", now, p) - value(base, "interactions", now, p)
    assert gain_fresh == pytest.approx(3.0)
    assert gain_late == pytest.approx(3.0 / 2, rel=1e-9)  # one half-life old


def test_params_from_environment_seconds() -> None:
    p = params_from(30 * 86400, 7 * 86400)
    assert (p.half_life_ms, p.grace_ms, p.dedup_horizon_ms) == (30 * DAY_MS, 7 * DAY_MS, HOUR)
    assert params_from(0, -5).half_life_ms == 1 and params_from(0, -5).grace_ms == 0
    assert DEFAULT.half_life_ms == 30 * DAY_MS and DEFAULT.grace_ms == 7 * DAY_MS
    assert math.isclose(DEFAULT.w_reach + DEFAULT.w_amplification + DEFAULT.w_network, 1.0)


# --- trend and explain ----------------------------------------------------------------------------


def test_trend_is_the_change_since_earlier_days() -> None:
    p = DEFAULT
    state = fold([eng(i, "retweet", f"a{i}") for i in range(5)])
    s0 = score(state, T0, p)
    state = model.record(state, s0, T0, "five retweets", p)
    day7 = T0 + 7 * DAY_MS
    state = fold([eng(f"b{i}", "retweet", f"b{i}", day7) for i in range(50)], state=state)
    s7 = score(state, day7, p)
    state = model.record(state, s7, day7, "fifty more", p)
    assert s7.score > s0.score
    t = model.trend(state, day7)
    assert t["d7"] == pytest.approx(s7.score - s0.score, abs=0.011)
    assert t["d1"] == t["d7"]  # the latest point a day or more back is day 0
    assert t["d30"] == 0.0  # no point that old
    assert [d for d, _ in state.history] == [T0 // DAY_MS, day7 // DAY_MS]
    assert [r.text for r in state.reasons] == ["five retweets", "fifty more"]


def test_record_keeps_one_point_a_day_and_a_month_of_history() -> None:
    p = DEFAULT
    state = UserState(USER)
    for day in range(40):
        for hour in (1, 5):
            now = T0 + day * DAY_MS + hour * HOUR
            fake = model.Score(USER, float(1 + day + hour / 10), 0, 0, 0, {}, {}, [], now)
            state = model.record(state, fake, now, f"d{day}h{hour}", p)
    days = [d for d, _ in state.history]
    assert len(days) == len(set(days)) == p.history_days
    assert days == sorted(days)
    assert state.history[-1][1] == pytest.approx(1 + 39 + 0.5)  # the day's latest score
    assert len(state.reasons) == p.reasons_kept
    assert state.reasons[-1].text == "d39h5"


def test_record_without_change_adds_no_reason() -> None:
    state = UserState(USER)
    result = score(state, T0, DEFAULT)
    assert model.record(state, result, T0, "nothing", DEFAULT).reasons == ()


def test_describe() -> None:
    assert model.describe(eng(1, "retweet", "bob")) == "retweet by bob on twitter"
    assert "quality 0.20" in model.describe(eng(1, "like", "bot", quality=0.2))
    assert "sentiment -0.8" in model.describe(eng(1, "reply", "troll", sentiment=-0.8))


# --- bugs ---------------------------------------------------------------------------------------


@pytest.mark.xfail(
    strict=True,
    reason="BUG: on new activity effective_time() jumps from last_active to now, so a retweet "
    "received after a few quiet days (inside grace) lowers the score",
)
def test_retweet_after_quiet_days_does_not_lower_the_score() -> None:
    state = fold([eng(i, "retweet", f"f{i}", T0 + i * 1000, actor_score=50.0) for i in range(200)])
    now = T0 + 3 * DAY_MS  # inside the 7 day grace: the score is held
    before = score(state, now, DEFAULT).score
    after = score(
        apply(state, eng("new", "retweet", "newcomer", now), DEFAULT).state, now, DEFAULT
    ).score
    assert after >= before


@pytest.mark.parametrize("idle_days", [45, 60])
def test_long_idle_user_with_short_half_life_decays_to_one(idle_days: int) -> None:
    p = Params(half_life_ms=HOUR, grace_ms=0)
    state = fold([eng(1, "retweet", "fan")], p)
    assert score(state, T0 + idle_days * DAY_MS, p).score == 1.0


def test_fresh_user_scores_one_with_two_week_half_life() -> None:
    assert score(UserState(USER), T0, Params(half_life_ms=14 * DAY_MS)).score == 1.0


def test_user_returning_after_long_absence_with_short_half_life() -> None:
    p = Params(half_life_ms=HOUR)
    state = fold([eng(1, "retweet", "fan")], p)
    outcome = apply(state, eng(2, "retweet", "fan2", T0 + 45 * DAY_MS), p)
    assert outcome.applied
    assert score(outcome.state, T0 + 45 * DAY_MS, p).signals["engagers"] == pytest.approx(1.0)


def test_very_late_event_with_short_half_life() -> None:
    p = Params(half_life_ms=HOUR)
    state = fold([eng(1, "retweet", "fan", T0 + 50 * DAY_MS)], p)
    outcome = apply(state, eng(2, "retweet", "late", T0), p)
    assert outcome.applied
    now = T0 + 50 * DAY_MS
    assert score(outcome.state, now, p).signals["engagers"] == pytest.approx(1.0)


def test_content_is_credited_with_the_engagement_it_earned() -> None:
    """Explain's top content: the post that drew retweets from many fans ranks above one like."""
    events = [eng(i, "retweet", f"fan{i}", T0 + i, content_id="hit") for i in range(5)]
    events += [eng("x", "like", "fan9", T0 + 10, content_id="dud"), eng("y", "like", "fan8", T0 + 11)]
    state = fold(events)
    assert set(state.contents) == {"hit", "dud"}  # no content id, nothing to credit
    assert state.contents["hit"] > 5 * state.contents["dud"] > 0
    assert from_json(to_json(state)).contents == state.contents


def test_content_memory_is_bounded() -> None:
    events = [eng(i, "like", f"fan{i}", T0 + i, content_id=f"p{i}") for i in range(200)]
    assert len(fold(events).contents) <= DEFAULT.content_track + DEFAULT.content_track // 4


def test_the_settled_score_read_late_is_the_one_read_on_time() -> None:
    """An engagement enriched again after a restart reads the engager's score for the day the
    engagement happened, even when the engager's state has since moved on to later days."""
    state, on_time = UserState(USER), {}
    for day in range(4):
        for i in range(3 * day + 1):
            ts = T0 + day * DAY_MS + (i + 1) * 3_600_000
            on_time[ts] = model.settled_score(state, ts, DEFAULT)  # what enrich reads right then
            state = apply(state, eng(f"{day}-{i}", "retweet", f"fan{day}-{i}", ts), DEFAULT).state
            state = model.record(state, score(state, ts, DEFAULT), ts, "engaged", DEFAULT)
    assert len(set(on_time.values())) == 4  # one close per day: 1.0, then three different scores
    for ts, expected in on_time.items():
        assert model.settled_score(state, ts, DEFAULT) == expected
