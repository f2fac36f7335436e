"""The compiled fast path (stream/events/compiled.py) and the reference validator (jsonschema)
must agree on what is valid."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from stream.events.validate import fast_check, validator

GOOD: dict[str, Any] = {
    "event_id": "e",
    "type": "like",
    "network": "twitter",
    "actor_id": "a",
    "target_id": "b",
    "ts": 1_767_225_600_000,
}
VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False),
    st.text(max_size=30),
    st.sampled_from(
        [
            "post",
            "like",
            "reply",
            "Twitter",
            "twitter",
            "",
            "2026-01-01T00:00:00Z",
            "2026-01-01T00:00:00",
            "2026-02-30T10:00:00+02:00",
            "1e3",
        ]
    ),
    st.lists(st.text(max_size=5), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)
FIELDS = st.sampled_from(
    [
        "event_id",
        "type",
        "network",
        "actor_id",
        "target_id",
        "content_id",
        "topics",
        "sentiment",
        "ts",
        "extra",
    ]
)


def fast_valid(event: dict[str, Any]) -> bool:
    return fast_check("interaction")(event)


@settings(max_examples=400, deadline=None, database=None)
@given(st.dictionaries(FIELDS, VALUES, max_size=4), st.lists(FIELDS, max_size=2))
def test_fast_and_reference_validators_agree(changes: dict[str, Any], drop: list[str]) -> None:
    event = {**GOOD, **changes}
    for name in drop:
        event.pop(name, None)
    reference = validator("interaction").is_valid(event)
    assert fast_valid(event) == reference, event
