"""What a platform sees when it publishes to `interactions`: accepted events come out normalised,
everything else is rejected with a reason that names the problem (CONTRACT.md, schemas/)."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import stream.events.validate as validate_mod
from stream.events.validate import MAX_EVENT_BYTES, Rejected, validate_event

TYPES = (
    "post",
    "like",
    "retweet",
    "share",
    "quote",
    "reply",
    "comment",
    "mention",
    "follow",
    "unfollow",
)
REQUIRED = ("event_id", "type", "network", "actor_id", "ts")
TS = 1_767_225_600_000  # 2026-01-01T00:00:00Z

BASE: dict[str, Any] = {
    "event_id": "tw-9f3a",
    "type": "retweet",
    "network": "twitter",
    "actor_id": "u123",
    "target_id": "u42",
    "content_id": "p77",
    "topics": ["coffee"],
    "sentiment": 0.4,
    "ts": TS,
}

DROP = object()  # marks a field to leave out


def raw(**changes: Any) -> bytes:
    event = {**BASE, **changes}
    return orjson.dumps({k: v for k, v in event.items() if v is not DROP})


def accepted(result: dict[str, Any] | Rejected) -> dict[str, Any]:
    assert not isinstance(result, Rejected), result
    return result


# --- valid events ---------------------------------------------------------------------------


@pytest.mark.parametrize("event_type", TYPES)
def test_every_contract_type_is_accepted(event_type: str) -> None:
    event = accepted(validate_event(raw(type=event_type)))
    assert event["type"] == event_type
    assert event["ts"] == TS
    assert event["target_id"] == "u42"


def test_contract_example_is_accepted_unchanged() -> None:
    event = accepted(validate_event(orjson.dumps(BASE)))
    assert event == BASE


@pytest.mark.parametrize(
    ("ts", "expected"),
    [
        (TS, TS),
        (0, 0),
        ("2026-01-01T00:00:00Z", TS),
        ("2026-01-01T00:00:00z", TS),
        ("2026-01-01T00:00:00.250Z", TS + 250),
        ("2026-01-01T00:00:00.001Z", TS + 1),
        ("2026-01-01T01:00:00+01:00", TS),
        ("2025-12-31T19:00:00-05:00", TS),
        ("2026-01-01T00:00:00+00:00", TS),
    ],
)
def test_ts_is_normalised_to_int_epoch_ms(ts: int | str, expected: int) -> None:
    event = accepted(validate_event(raw(ts=ts)))
    assert type(event["ts"]) is int
    assert event["ts"] == expected


def test_post_without_target_is_accepted_and_gets_no_target() -> None:
    event = accepted(validate_event(raw(type="post", target_id=DROP, content_id="p1")))
    assert event["type"] == "post"
    assert "target_id" not in event
    assert event["actor_id"] == "u123"
    assert event["content_id"] == "p1"


def test_optional_fields_may_be_absent() -> None:
    event = accepted(validate_event(raw(content_id=DROP, topics=DROP, sentiment=DROP)))
    assert set(event) == {"event_id", "type", "network", "actor_id", "target_id", "ts"}


def test_topics_are_lowercased_stripped_of_hash_and_deduplicated() -> None:
    event = accepted(validate_event(raw(topics=["#Coffee", "coffee", " #COFFEE ", "Tea", "#tea"])))
    assert event["topics"] == ["coffee", "tea"]


def test_unknown_network_is_accepted() -> None:
    event = accepted(validate_event(raw(network="mastodon")))
    assert event["network"] == "mastodon"


def test_unknown_extra_fields_are_dropped() -> None:
    event = accepted(validate_event(raw(colour="blue")))
    assert "colour" not in event


@pytest.mark.parametrize("sentiment", [-1, -1.0, 0, 1, 0.999])
def test_sentiment_bounds_are_inclusive(sentiment: float) -> None:
    assert accepted(validate_event(raw(sentiment=sentiment)))["sentiment"] == sentiment


def test_event_just_inside_max_future_is_accepted() -> None:
    now = TS - 60_000
    assert accepted(validate_event(raw(), now_ms=now, max_future_ms=60_000))["ts"] == TS


def test_event_of_exactly_max_bytes_is_accepted() -> None:
    unpadded = len(raw(pad=""))
    record = raw(pad="x" * (MAX_EVENT_BYTES - unpadded))
    assert len(record) == MAX_EVENT_BYTES
    accepted(validate_event(record))


# --- rejected records -------------------------------------------------------------------------


def _too_large() -> bytes:
    return raw(pad="x" * MAX_EVENT_BYTES)


INVALID: list[tuple[str, bytes, tuple[str, ...]]] = [
    *[(f"missing {f}", raw(**{f: DROP}), (f,)) for f in REQUIRED],
    ("missing target_id on a like", raw(type="like", target_id=DROP), ("target_id",)),
    ("unknown type", raw(type="boost"), ("type",)),
    ("uppercase type", raw(type="LIKE"), ("type",)),
    ("uppercase network", raw(network="Twitter"), ("network",)),
    ("empty network", raw(network=""), ("network",)),
    ("empty event_id", raw(event_id=""), ("event_id",)),
    ("numeric actor_id", raw(actor_id=7), ("actor_id",)),
    ("sentiment above 1", raw(sentiment=1.5), ("sentiment",)),
    ("sentiment below -1", raw(sentiment=-1.01), ("sentiment",)),
    ("sentiment as text", raw(sentiment="good"), ("sentiment",)),
    ("topics not a list", raw(topics="coffee"), ("topics",)),
    ("ts garbage", raw(ts="yesterday"), ("ts",)),
    ("ts naive datetime", raw(ts="2026-01-01T00:00:00"), ("ts",)),
    ("ts with a space", raw(ts="2026-01-01 00:00:00Z"), ("ts",)),
    ("ts negative", raw(ts=-1), ("ts",)),
    ("ts boolean", raw(ts=True), ("ts",)),
    ("ts fractional", raw(ts=1.5), ("ts",)),
    ("ts leap second", raw(ts="2026-01-01T00:00:60Z"), ("ts",)),
    ("ts before 1970", raw(ts="1969-12-31T23:00:00Z"), ("ts",)),
    ("ts after year 9999", raw(ts=253_402_300_800_000), ("ts",)),
    ("huge integer ts", raw(ts=DROP)[:-1] + b',"ts":' + b"9" * 40 + b"}", ("ts",)),
    (
        "huge integer sentiment",
        raw(sentiment=DROP)[:-1] + b',"sentiment":' + b"9" * 400 + b"}",
        ("sentiment", "infinity", "malformed"),
    ),
    ("array", b"[1, 2, 3]", ("object",)),
    ("string", b'"hello"', ("object",)),
    ("number", b"42", ("object",)),
    ("null", b"null", ("object",)),
    ("malformed JSON", b'{"event_id": "e1", ', ("malformed",)),
    ("two documents", raw() + raw(), ("malformed",)),
    ("NaN literal", raw(sentiment=DROP)[:-1] + b',"sentiment":NaN}', ("malformed",)),
    ("invalid UTF-8", b'{"event_id": "\xff\xfe"}', ("utf-8",)),
    ("invalid UTF-8 alone", b"\xff\xfe\xfd", ("utf-8", "malformed")),
    ("deeply nested JSON", b"[" * 5000 + b"]" * 5000, ("depth", "nested")),
    (
        "deeply nested field",
        raw(topics=DROP)[:-1] + b',"topics":' + b"[" * 1000 + b"]" * 1000 + b"}",
        ("nested", "topics", "depth"),
    ),
    ("empty bytes", b"", ("empty",)),
    ("whitespace only", b"   \n", ("empty", "malformed")),
    ("too large", _too_large(), ("too large",)),
]


@pytest.mark.parametrize(
    ("record", "mentions"), [(r, m) for _, r, m in INVALID], ids=[name for name, _, _ in INVALID]
)
def test_invalid_record_is_rejected_with_a_reason(record: bytes, mentions: tuple[str, ...]) -> None:
    result = validate_event(record)
    assert isinstance(result, Rejected), result
    assert result.reason.strip()
    assert any(m.lower() in result.reason.lower() for m in mentions), result.reason


def test_ts_too_far_in_the_future_is_rejected() -> None:
    now = TS - 3_600_001
    result = validate_event(raw(), now_ms=now, max_future_ms=3_600_000)
    assert isinstance(result, Rejected)
    assert "ts" in result.reason and "future" in result.reason


def test_future_check_applies_to_rfc3339_times_too() -> None:
    result = validate_event(raw(ts="2026-01-03T00:00:00Z"), now_ms=TS)  # default: 1 day ahead max
    assert isinstance(result, Rejected)
    assert "future" in result.reason


def test_no_future_check_without_now() -> None:
    accepted(validate_event(raw(ts=253_402_300_799_999)))


def test_oversized_record_is_rejected_without_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    def explode(_: bytes) -> Any:
        raise AssertionError("parsed an oversized record")

    monkeypatch.setattr(validate_mod, "loads", explode)
    result = validate_event(b"{" + b" " * (10 * 1024 * 1024) + b"}")
    assert isinstance(result, Rejected)
    assert "too large" in result.reason
    assert len(result.reason) < 200


def test_reason_is_short_even_for_huge_values() -> None:
    result = validate_event(raw(type="x" * 60_000))
    assert isinstance(result, Rejected)
    assert "type" in result.reason
    assert len(result.reason) <= 400


@pytest.mark.parametrize("ts", [float(TS), 0.0, 1.7672256e12])
def test_integral_float_ts_is_accepted_as_int_ms(ts: float) -> None:
    # JSON Schema counts 1767225600000.0 as an integer; it must come out as an int, not crash
    event = accepted(validate_event(raw(ts=ts)))
    assert type(event["ts"]) is int
    assert event["ts"] == int(ts)


# --- never raises (Hypothesis) ----------------------------------------------------------------


def check_outcome(result: dict[str, Any] | Rejected) -> None:
    if isinstance(result, Rejected):
        assert isinstance(result.reason, str) and result.reason.strip()
        return
    assert isinstance(result, dict)
    for key in REQUIRED:
        assert key in result, (key, result)
    assert type(result["ts"]) is int and result["ts"] >= 0
    assert result["type"] in TYPES
    if result["type"] != "post":
        assert isinstance(result.get("target_id"), str)
    if "topics" in result:
        assert all(t == t.lower() and not t.startswith("#") for t in result["topics"])
        assert len(set(result["topics"])) == len(result["topics"])


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5)
    ),
    max_leaves=25,
)


def encode(value: Any) -> bytes:
    # stdlib json: can write huge integers, NaN and lone surrogates that orjson would refuse
    return json.dumps(value).encode("utf-8", errors="surrogatepass")


@settings(max_examples=150, deadline=None, database=None)
@given(st.binary(max_size=300))
def test_never_raises_on_arbitrary_bytes(data: bytes) -> None:
    check_outcome(validate_event(data))


@settings(
    max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(json_values)
def test_never_raises_on_arbitrary_json(value: Any) -> None:
    check_outcome(validate_event(encode(value)))


def _field(valid: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """A valid value most of the time, anything JSON-ish otherwise."""
    return st.integers(0, 4).flatmap(lambda i: json_values if i == 0 else valid)


_ts_ok = st.one_of(
    st.integers(min_value=0, max_value=253_402_300_799_999),
    st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat()),
    st.datetimes().map(lambda d: d.isoformat() + "Z"),
    st.integers(),
    st.text(max_size=30),
    st.floats(allow_nan=False),
    st.integers(0, 253_402_300_799_999).map(float),
)


@st.composite
def near_valid_events(draw: st.DrawFn) -> dict[str, Any]:
    """Contract-shaped events where any field may be broken or missing."""
    event = draw(
        st.fixed_dictionaries(
            {
                "event_id": _field(st.text(min_size=1, max_size=20)),
                "type": _field(st.sampled_from(TYPES)),
                "network": _field(st.sampled_from(["twitter", "youtube", "x.social", "a-b_c"])),
                "actor_id": _field(st.text(min_size=1, max_size=10)),
                "target_id": _field(st.text(min_size=1, max_size=10)),
                "ts": _ts_ok,
            },
            optional={
                "content_id": _field(st.text(min_size=1, max_size=10)),
                "topics": _field(st.lists(st.text(min_size=1, max_size=10), max_size=5)),
                "sentiment": _field(st.floats(-1, 1)),
            },
        )
    )
    for key in draw(st.lists(st.sampled_from(sorted(event)), max_size=1)):
        event.pop(key, None)
    return event


@settings(
    max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(near_valid_events(), st.none() | st.integers(0, 2 * TS))
def test_never_raises_on_near_valid_events(event: dict[str, Any], now: int | None) -> None:
    result = validate_event(encode(event), now_ms=now)
    check_outcome(result)
    if not isinstance(result, Rejected) and now is not None:
        assert result["ts"] <= now + 86_400_000
