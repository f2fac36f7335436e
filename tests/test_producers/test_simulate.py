"""Behaviour of the synthetic world that a demo user or the scorer relies on."""

from __future__ import annotations

import itertools
import statistics
from collections import Counter, defaultdict

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stream.producers.simulate import DAY_MS, EVENT_TYPES, World, WorldConfig

Event = dict[str, object]

REACTIONS = {"like", "retweet", "share", "quote", "reply", "comment", "mention"}
SENTIMENT_TYPES = {"reply", "comment", "mention"}
ALLOWED_KEYS = {
    "event_id",
    "type",
    "network",
    "actor_id",
    "target_id",
    "content_id",
    "topics",
    "sentiment",
    "ts",
}


@pytest.fixture(scope="module")
def default_world() -> World:
    return World(WorldConfig())


@pytest.fixture(scope="module")
def default_events(default_world: World) -> list[Event]:
    return list(default_world.events())


def ts_of(ev: Event) -> int:
    ts = ev["ts"]
    assert isinstance(ts, int)
    return ts


def small(seed: int = 0) -> WorldConfig:
    return WorldConfig(users=300, days=2.0, seed=seed, bots=5)


def assert_contract(events: list[Event], cfg: WorldConfig, end_ms: int | None) -> None:
    """Every event is a well-formed contract event; the stream is time-ordered."""
    seen_ids: set[str] = set()
    last_ts = cfg.start_ms
    for ev in events:
        assert set(ev) <= ALLOWED_KEYS, ev
        for key in ("event_id", "type", "network", "actor_id", "ts"):
            assert key in ev, (key, ev)
        assert ev["type"] in EVENT_TYPES, ev
        assert isinstance(ev["event_id"], str)
        assert ev["event_id"] not in seen_ids, ev
        seen_ids.add(ev["event_id"])
        net = ev["network"]
        assert isinstance(net, str) and net == net.lower() and net in cfg.networks
        assert isinstance(ev["actor_id"], str) and ev["actor_id"]
        if ev["type"] == "post":
            assert "target_id" not in ev, ev
            assert isinstance(ev["content_id"], str)
        else:
            assert isinstance(ev["target_id"], str) and ev["target_id"], ev
            assert ev["target_id"] != ev["actor_id"], ev
        if "content_id" in ev:
            assert isinstance(ev["content_id"], str) and ev["content_id"]
        if "topics" in ev:
            topics = ev["topics"]
            assert isinstance(topics, list) and topics
            assert all(isinstance(t, str) and t in cfg.topics for t in topics)
        if "sentiment" in ev:
            assert ev["type"] in SENTIMENT_TYPES, ev
            s = ev["sentiment"]
            assert isinstance(s, float) and -1.0 <= s <= 1.0, ev
        ts = ev["ts"]
        assert type(ts) is int, ev
        assert ts >= last_ts, ev
        last_ts = ts
        if end_ms is not None:
            assert ts < end_ms, ev


# --- determinism -------------------------------------------------------------


def test_same_seed_gives_identical_events() -> None:
    a = list(World(small(seed=7)).events())
    b = list(World(small(seed=7)).events())
    assert a
    assert a == b


def test_events_is_repeatable_on_the_same_world() -> None:
    world = World(small(seed=3))
    assert list(world.events()) == list(world.events())


def test_different_seed_gives_different_world_and_events() -> None:
    wa, wb = World(small(seed=1)), World(small(seed=2))
    assert wa.users != wb.users
    a, b = list(wa.events()), list(wb.events())
    strip = [(e["type"], e["actor_id"], e.get("target_id"), e["ts"]) for e in a]
    other = [(e["type"], e["actor_id"], e.get("target_id"), e["ts"]) for e in b]
    assert strip != other
    assert all(str(e["event_id"]).startswith("sim-1-") for e in a)
    assert all(str(e["event_id"]).startswith("sim-2-") for e in b)


# --- contract ----------------------------------------------------------------


def test_default_world_events_match_contract(default_events: list[Event]) -> None:
    cfg = WorldConfig()
    assert_contract(default_events, cfg, cfg.start_ms + int(cfg.days * DAY_MS))
    assert {e["type"] for e in default_events} == EVENT_TYPES


def test_sentiment_is_mostly_positive_on_replies(default_events: list[Event]) -> None:
    tones = [
        s
        for e in default_events
        if e["type"] in {"reply", "comment"} and isinstance(s := e.get("sentiment"), float)
    ]
    assert tones
    assert statistics.mean(tones) > 0.1
    assert min(tones) < 0.0  # but not uniformly cheerful


def test_reactions_point_at_the_post_author(default_events: list[Event]) -> None:
    author = {e["content_id"]: e["actor_id"] for e in default_events if e["type"] == "post"}
    posted_at = {e["content_id"]: ts_of(e) for e in default_events if e["type"] == "post"}
    checked = 0
    for e in default_events:
        if e["type"] in REACTIONS and "content_id" in e:
            assert e["target_id"] == author[e["content_id"]], e
            assert ts_of(e) >= posted_at[e["content_id"]], e
            checked += 1
    assert checked > 10_000


def test_network_specific_reaction_names(default_events: list[Event]) -> None:
    by_net: dict[str, set[str]] = defaultdict(set)
    for e in default_events:
        by_net[str(e["network"])].add(str(e["type"]))
    assert "retweet" in by_net["twitter"] and "share" not in by_net["twitter"]
    for net in ("facebook", "linkedin", "instagram", "youtube"):
        assert "retweet" not in by_net[net]
    for net in ("youtube", "instagram", "facebook"):
        assert "reply" not in by_net[net] and "comment" in by_net[net]
    for net in ("twitter", "linkedin"):
        assert "comment" not in by_net[net] and "reply" in by_net[net]


@settings(max_examples=15, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    users=st.integers(1, 60),
    bots=st.integers(0, 3),
    days=st.floats(0.05, 2.5),
    start_ms=st.integers(0, 2_000_000_000_000),
)
def test_any_small_world_matches_contract(
    seed: int, users: int, bots: int, days: float, start_ms: int
) -> None:
    cfg = WorldConfig(users=users, bots=bots, days=days, seed=seed, start_ms=start_ms)
    assert_contract(list(World(cfg).events()), cfg, start_ms + int(days * DAY_MS))


def test_config_rejects_broken_worlds() -> None:
    with pytest.raises(ValueError):
        WorldConfig(users=0)
    with pytest.raises(ValueError):
        WorldConfig(days=0)
    with pytest.raises(ValueError):
        WorldConfig(networks=("Twitter",))


# --- population ----------------------------------------------------------------


def test_population_shape(default_world: World) -> None:
    users = default_world.users
    humans = [u for u in users if not u.is_bot]
    bots = [u for u in users if u.is_bot]
    assert len(humans) == 2000 and len(bots) == 20
    assert humans[123].user_id == "u0000123"
    assert bots[0].user_id == "bot0001"
    assert len({u.user_id for u in users}) == len(users)
    infl = sorted(u.influence for u in humans)
    assert all(0.0 < x <= 1.0 for x in infl)
    # Power law: the median is small, the top is far above it.
    assert statistics.median(infl) < 0.1
    assert infl[-1] > 10 * statistics.median(infl)
    assert all(1 <= u.followers <= 100_000 for u in users)
    assert all(1 <= len(u.topics) <= 3 for u in users)


# --- dynamics a user would notice --------------------------------------------------


def _ranks(xs: list[float]) -> list[float]:
    order = sorted(range(len(xs)), key=xs.__getitem__)
    ranks = [0.0] * len(xs)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and xs[order[j + 1]] == xs[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2.0
        i = j + 1
    return ranks


def test_influential_users_attract_more_distinct_engagers(
    default_world: World, default_events: list[Event]
) -> None:
    engagers: dict[str, set[str]] = defaultdict(set)
    for e in default_events:
        if e["type"] in REACTIONS and not str(e["actor_id"]).startswith("bot"):
            engagers[str(e["target_id"])].add(str(e["actor_id"]))
    humans = sorted((u for u in default_world.users if not u.is_bot), key=lambda u: u.influence)
    counts = [float(len(engagers[u.user_id])) for u in humans]
    top = counts[-len(humans) // 10 :]
    bottom = counts[: len(humans) // 2]
    assert statistics.mean(top) > 3 * statistics.mean(bottom)
    rho = statistics.correlation(_ranks([u.influence for u in humans]), _ranks(counts))
    assert rho > 0.3


def test_bots_are_machine_fast_and_never_post(
    default_world: World, default_events: list[Event]
) -> None:
    cfg = default_world.config
    per_actor: Counter[str] = Counter()
    first: dict[str, int] = {}
    last: dict[str, int] = {}
    bot_targets: dict[str, Counter[str]] = defaultdict(Counter)
    for e in default_events:
        actor, ts = str(e["actor_id"]), ts_of(e)
        per_actor[actor] += 1
        first.setdefault(actor, ts)
        last[actor] = ts
        if actor.startswith("bot"):
            assert e["type"] != "post", e
            bot_targets[actor][str(e["target_id"])] += 1

    human_rate = statistics.median(
        per_actor[u.user_id] / cfg.days for u in default_world.users if not u.is_bot
    )
    bots = [u for u in default_world.users if u.is_bot]
    for bot in bots:
        uid = bot.user_id
        assert first[uid] > cfg.start_ms  # a fresh account, born inside the world
        active_days = max((last[uid] - first[uid]) / DAY_MS, 0.25)
        rate = per_actor[uid] / active_days
        assert rate >= 100, (uid, rate)
        assert rate > 20 * human_rate, (uid, rate, human_rate)
        # A bot hammers a tiny set of clients.
        top3 = sum(n for _, n in bot_targets[uid].most_common(3))
        assert top3 / per_actor[uid] > 0.5


def test_posts_carry_topics_of_their_author(
    default_world: World, default_events: list[Event]
) -> None:
    topics_of = {u.user_id: set(u.topics) for u in default_world.users}
    posts = [e for e in default_events if e["type"] == "post"]
    assert len(posts) > 1000
    for p in posts:
        topics = p["topics"]
        assert isinstance(topics, list) and 1 <= len(topics) <= 2
        assert set(topics) <= topics_of[str(p["actor_id"])], p
    assert len({p["content_id"] for p in posts}) == len(posts)


def test_follows_favour_influential_users(
    default_world: World, default_events: list[Event]
) -> None:
    influence = {u.user_id: u.influence for u in default_world.users}
    followed = [
        influence[str(e["target_id"])]
        for e in default_events
        if e["type"] == "follow" and not str(e["actor_id"]).startswith("bot")
    ]
    population = statistics.mean(u.influence for u in default_world.users if not u.is_bot)
    assert statistics.mean(followed) > 2 * population
    n_unfollow = sum(1 for e in default_events if e["type"] == "unfollow")
    assert 0 < n_unfollow < len(followed) / 5


def test_default_volume_in_documented_range(default_events: list[Event]) -> None:
    assert 50_000 <= len(default_events) <= 150_000


# --- live stream ---------------------------------------------------------------------


def test_live_stream_keeps_going_in_time_order() -> None:
    cfg = small(seed=5)
    world = World(cfg)
    start = 1_800_000_000_000
    horizon = start + int(2.5 * DAY_MS)
    events = list(itertools.takewhile(lambda e: ts_of(e) < horizon, world.live(start)))
    assert events
    assert ts_of(events[0]) >= start
    assert_contract(events, WorldConfig(**{**cfg.__dict__, "start_ms": start}), None)
    assert max(ts_of(e) for e in events) > start + 2 * DAY_MS
    # Every simulated day stays busy, not just the first.
    per_day = Counter((ts_of(e) - start) // DAY_MS for e in events)
    assert per_day[0] > 0 and per_day[1] > 0 and per_day[2] > 0
    assert per_day[1] > per_day[0] / 3
    # Deterministic for a seed and start, and ids never collide with events().
    again = list(itertools.islice(world.live(start), len(events)))
    assert again == events
    backfill_ids = {e["event_id"] for e in world.events()}
    assert backfill_ids.isdisjoint(e["event_id"] for e in events)
