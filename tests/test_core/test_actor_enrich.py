"""The enrich stage's view of an actor: what it remembers, and how much its engagement weighs."""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from stream.core.actor import observe, quality
from stream.core.params import DEFAULT, Params
from stream.core.state import ActorState, actor_from_json, actor_to_json


def observed(actor: ActorState, event: dict[str, Any], params: Params) -> tuple[ActorState, bool]:
    """observe() on a copy: the actor after the action, and whether it was new."""
    after = actor.copy()
    return after, observe(after, event, params)


T0 = 1_767_225_600_000


def ev(
    i: int | str, ts: int = T0, kind: str = "like", actor: str = "a", target: str | None = "b"
) -> dict[str, Any]:
    event: dict[str, Any] = {
        "event_id": f"e{i}",
        "type": kind,
        "network": "twitter",
        "actor_id": actor,
        "ts": ts,
    }
    if target is not None:
        event["target_id"] = target
    return event


def test_first_action_is_remembered() -> None:
    actor, new = observed(ActorState("a"), ev(1, T0 + 5), DEFAULT)
    assert new
    assert (actor.first_seen, actor.last_action, actor.actions, actor.posts) == (
        T0 + 5,
        T0 + 5,
        1,
        0,
    )


def test_counts_grow_and_times_span_the_actions() -> None:
    actor = ActorState("a")
    for i, ts in enumerate([T0 + 50, T0 + 10, T0 + 90, T0 + 30]):
        actor, new = observed(actor, ev(i, ts, "post" if i % 2 else "like", target=None), DEFAULT)
        assert new
    assert actor.actions == 4
    assert actor.posts == 2
    assert actor.first_seen == T0 + 10
    assert actor.last_action == T0 + 90


def test_duplicate_action_is_detected_and_changes_nothing() -> None:
    actor, _ = observed(ActorState("a"), ev(1), DEFAULT)
    again, new = observed(actor, ev(1, T0 + 999, "retweet"), DEFAULT)
    assert new is False
    assert again == actor


def test_duplicates_within_the_horizon_are_caught_among_many_actions() -> None:
    params = Params(dedup_horizon_ms=3_600_000)
    actor = ActorState("a")
    for i in range(500):
        actor, _ = observed(actor, ev(i, T0 + i * 1000), params)
    assert actor.actions == 500
    assert len(actor.seen) <= 500
    # the last hour of ids is still remembered
    for i in (499, 400, 0):
        assert observed(actor, ev(i, T0 + i * 1000), params)[1] is False


def test_memory_of_ids_is_bounded() -> None:
    params = Params(dedup_horizon_ms=60_000, max_seen_ids=100)
    actor = ActorState("a")
    for i in range(2000):
        actor, _ = observed(actor, ev(i, T0 + i * 1000), params)
    assert len(actor.seen) <= 100
    assert actor.actions == 2000
    assert observed(actor, ev(1999, T0 + 1999 * 1000), params)[1] is False


def test_quality_is_zero_for_self_interaction_and_one_otherwise() -> None:
    actor = ActorState("a")
    assert quality(actor, ev(1, actor="a", target="a"), None, DEFAULT) == (0.0, "self")
    assert quality(actor, ev(1, actor="a", target="b"), None, DEFAULT) == (1.0, None)
    assert quality(actor, ev(1, kind="post", actor="a", target=None), None, DEFAULT).weight == 0.0


@settings(max_examples=60, deadline=None, database=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 30),
            st.integers(T0, T0 + 10**7),
            st.sampled_from(["like", "post", "reply"]),
        ),
        max_size=60,
    )
)
def test_actions_count_distinct_ids_and_round_trip(
    actions: list[tuple[int, int, str]],
) -> None:
    actor = ActorState("a")
    ids: set[int] = set()
    times: list[int] = []
    remember_all = Params(dedup_horizon_ms=10**8)  # longer than the actions span: none forgotten
    for i, ts, kind in actions:
        actor, new = observed(actor, ev(i, ts, kind), remember_all)
        assert new == (i not in ids)
        if new:
            ids.add(i)
            times.append(ts)
    assert actor.actions == len(ids)
    if times:
        assert actor.first_seen == min(times) and actor.last_action == max(times)
    assert 0 <= actor.posts <= actor.actions
    data = orjson.loads(orjson.dumps(actor_to_json(actor)))
    assert actor_from_json(data) == actor
