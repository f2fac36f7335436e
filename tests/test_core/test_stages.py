"""The per-event stage functions the agents and the batch reference share."""

from __future__ import annotations

from stream.core import stages
from stream.core.params import DAY_MS, DEFAULT
from stream.core.state import UserState

T0 = 1_767_225_600_000


def event(event_id: str, actor: str, target: str, ts: int, kind: str = "retweet") -> dict[str, object]:
    return {
        "event_id": event_id,
        "type": kind,
        "network": "twitter",
        "actor_id": actor,
        "target_id": target,
        "ts": ts,
        "q": 1.0,
        "actor_score": 1.0,
    }


def test_a_user_who_only_engaged_with_themselves_is_never_decayed() -> None:
    scored = stages.score_event(None, event("e1", "narcissus", "narcissus", T0), T0, None, DEFAULT, 0.01)
    assert scored.why == "self" and not scored.emit
    later = stages.decay_user(scored.state, T0 + 60 * DAY_MS, None, DEFAULT, 0.01)
    assert not later.emit, "nothing was ever published, so there is nothing to decay"


def test_an_idle_scored_user_decays_after_grace_and_not_before() -> None:
    state: UserState | None = None
    for i in range(20):
        scored = stages.score_event(
            state, event(f"e{i}", f"fan{i}", "star", T0 + i), T0 + i, None, DEFAULT, 0.01
        )
        state = scored.state
    assert state is not None
    within_grace = stages.decay_user(state, T0 + DEFAULT.grace_ms - 1, None, DEFAULT, 0.01)
    assert not within_grace.emit
    later = stages.decay_user(state, T0 + DEFAULT.grace_ms + 30 * DAY_MS, None, DEFAULT, 0.01)
    assert later.emit and later.result is not None and later.result.score < state.emitted


def test_enrich_drops_a_repeated_event_and_forwards_the_actor_quality() -> None:
    actor, out = stages.enrich(None, event("e1", "fan", "star", T0), None, DEFAULT)
    assert out is not None and out["q"] == 1.0 and out["actor_score"] == 1.0
    again, dup = stages.enrich(actor, event("e1", "fan", "star", T0), None, DEFAULT)
    assert dup is None and again == actor
