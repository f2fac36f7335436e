"""The batch fold (fold.py) against the per-event reference: a batch is an optimisation, not a
different model."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stream.core import model, stages
from stream.core.params import DEFAULT
from stream.core.state import UserState
from tests.test_core.test_model_properties import T0, USER, streams, wire

PROPS = settings(max_examples=150, deadline=None, database=None)


def enriched(e: model.Engagement) -> dict[str, object]:
    return {**wire(e), "q": e.quality, "actor_score": e.actor_score}


@PROPS
@given(streams(max_size=40), st.integers(1, 40))
def test_a_batch_folds_to_what_one_event_at_a_time_gives(events: list[model.Engagement], size: int) -> None:
    """Same signals, engagers, topics and score whatever the batch size, when every event is in
    the same settling period (a period's turn closes a batch early, as a test below shows)."""
    ordered = sorted(events, key=lambda e: e.ts)
    one: UserState | None = None
    now = T0
    for e in ordered:
        now = max(now, e.ts)
        one = stages.score_event(one, enriched(e), now, None, DEFAULT, 0.0).state
    batched: UserState | None = None
    now = T0
    for i in range(0, len(ordered), size):
        batch = stages.TargetBatch(lambda _u, s=batched: s, lambda _u: None, DEFAULT, 0.0)
        for e in ordered[i : i + size]:
            now = max(now, e.ts)
            batch.add(enriched(e), now)
        for scored in batch.close():
            batched = scored.state
    if not events:
        return
    assert one is not None and batched is not None
    for name in ("reach", "interactions", "amplifying", "network", "posts", "events", "as_of"):
        assert getattr(batched, name) == pytest.approx(getattr(one, name), rel=1e-9, abs=1e-12), name
    assert batched.engagers.keys() == one.engagers.keys()
    assert batched.topics.keys() == one.topics.keys()
    assert batched.suspects == pytest.approx(one.suspects, rel=1e-9, abs=1e-9)
    after = model.score(batched, now, DEFAULT).score
    assert after == pytest.approx(model.score(one, now, DEFAULT).score, abs=1e-9)


def test_a_batch_that_spans_a_period_turn_records_the_close_of_the_period() -> None:
    """Others read a user's *settled* score (the close of the previous day): a batch whose
    events straddle midnight must record the score as the day closed, as one event at a time
    would, not only the score after the whole batch."""
    day = DEFAULT.settle_ms
    midnight = (T0 // day + 1) * day
    events = [
        model.Engagement(f"e{i}", "retweet", "twitter", f"fan{i}", USER, midnight - 1000 + i)
        for i in range(5)
    ] + [
        model.Engagement(f"n{i}", "retweet", "twitter", f"new{i}", USER, midnight + 1000 + i)
        for i in range(5)
    ]
    batch = stages.TargetBatch(lambda _u: None, lambda _u: None, DEFAULT, 0.0)
    for e in events:
        batch.add(enriched(e), e.ts)
    (scored,) = batch.close()
    state = scored.state
    one: UserState | None = None  # the first five, one at a time: the day as it closed
    for e in events[:5]:
        one = stages.score_event(one, enriched(e), e.ts, None, DEFAULT, 0.0).state
    assert one is not None and one.score > 1.0
    assert state.settled == one.score  # the close of the day before the turn
    assert [d for d, _ in state.history] == [(midnight - 1) // 86_400_000, midnight // 86_400_000]
    assert model.settled_score(state, midnight + 2000, DEFAULT) == one.score
