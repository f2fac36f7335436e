"""Hostile input through the real ingest path: a worker that never crashes, a DLQ entry with a
reason for every invalid record, and every valid one counted."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import orjson
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from stream.events.validate import Rejected, validate_event
from tests.integration.conftest import reading
from tests.reliability.harness import (
    FULL,
    Deployment,
    drained,
    final_state,
    producing,
    started,
    stopping,
)

RECORDS = 100_000 if FULL else 10_000
DAY = 86_400_000
NOW = int(time.time() * 1000)
TYPES = ["post", "like", "retweet", "share", "quote", "reply", "comment", "mention", "follow", "unfollow"]

text = st.text(st.characters(codec="utf-8"), max_size=20)  # emoji, RTL, zero-width, NUL, ...
scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | text
json_values = st.recursive(
    scalars, lambda c: st.lists(c, max_size=4) | st.dictionaries(text, c, max_size=4), max_leaves=12
)


@st.composite
def valid(draw: st.DrawFn, i: int) -> dict[str, Any]:
    """A contract event with a unique id, actor and target (so each counts exactly once)."""
    kind = draw(st.sampled_from(TYPES))
    event: dict[str, Any] = {
        "event_id": f"fz-{i}",
        "type": kind,
        "network": draw(st.sampled_from(["twitter", "youtube", "mastodon", "x"])),
        "actor_id": f"fz-a-{i}",
        "ts": draw(st.integers(NOW - 30 * DAY, NOW)),
    }
    if kind != "post":
        event["target_id"] = f"fz-t-{i}"
    if draw(st.booleans()):
        event["topics"] = draw(st.lists(text.filter(str.strip), max_size=3))
    if draw(st.booleans()):
        event["sentiment"] = draw(st.floats(-1, 1))
    return event


def breakage(event: dict[str, Any]) -> st.SearchStrategy[bytes]:
    """Ways to turn a valid event into an invalid record."""
    absurd_future = st.integers(NOW + 10 * DAY, 10**15).map(lambda ts: {**event, "ts": ts})
    absurd_future_text = st.sampled_from(["9999-12-31T23:59:59Z", "3000-01-01T00:00:00+00:00"]).map(
        lambda ts: {**event, "ts": ts}
    )
    absurd_past = st.sampled_from([-1, -(10**15), "1900-01-01T00:00:00Z", "0001-01-01T00:00:00Z"]).map(
        lambda ts: {**event, "ts": ts}
    )
    wrong_type = st.sampled_from(["event_id", "type", "network", "actor_id", "ts"]).flatmap(
        lambda k: st.sampled_from([None, [], {}, True, 1.5]).map(lambda v: {**event, k: v})
    )
    missing = st.sampled_from(["event_id", "type", "network", "actor_id", "ts"]).map(
        lambda k: {f: v for f, v in event.items() if f != k}
    )
    bad_sentiment = st.sampled_from([2, -1.5, "happy", 1e308]).map(lambda s: {**event, "sentiment": s})
    return st.one_of(absurd_future, absurd_future_text, absurd_past, wrong_type, missing, bad_sentiment).map(
        _dumps
    )


def _dumps(data: Any) -> bytes:
    """stdlib json: it writes integers of any size (orjson stops at 64 bits), and Infinity."""
    return json.dumps(data, ensure_ascii=False).encode() if not isinstance(data, bytes) else data


garbage = st.one_of(
    st.binary(max_size=300),  # random bytes, invalid UTF-8
    json_values.map(_dumps),  # well-formed JSON of the wrong shape
    st.integers(2, 30_000).map(lambda d: b"[" * d + b"]" * d),  # deep nesting
    st.integers(2, 5_000).map(lambda d: b'{"a":' * d + b"1" + b"}" * d),
    st.integers(310, 2000).map(lambda n: b'{"ts": 1' + b"0" * n + b"}"),  # huge numbers
    st.sampled_from([b'"\\ud800"', b'{"event_id": "\\udfff"}', b"\xef\xbb\xbf{}", b"\x00", b"NaN"]),
    st.integers(64 * 1024 + 1, 80 * 1024).map(lambda n: b'{"event_id": "' + b"x" * n + b'"}'),  # oversize
)


def corpus(n: int) -> list[tuple[bytes, bool]]:
    """n records from Hypothesis, each with whether it is meant to be valid (about a third)."""
    out: list[tuple[bytes, bool]] = []

    @settings(
        max_examples=n // 50 + 1,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(st.data())
    def generate(data: st.DataObject) -> None:
        for _ in range(50):  # always 50 draws: Hypothesis wants the same shape every time
            i = len(out)
            event = data.draw(valid(i))
            choice = data.draw(st.integers(0, 5))
            if choice < 2:
                out.append((orjson.dumps(event), True))
            elif choice < 4:
                out.append((data.draw(breakage(event)), False))
            else:
                out.append((data.draw(garbage), False))

    while len(out) < n:
        generate()
    return out[:n]


async def test_hostile_records_never_crash_a_worker_and_each_lands_where_it_should(
    broker: str, tmp_path: Path
) -> None:
    """Every record of a Hypothesis corpus (random bytes, deep nesting, huge numbers, wrong types,
    unicode edge cases, values over 64 KiB, events stamped in year 9999 or before 1970) goes
    through a real worker's ingest. Invalid records: each in the DLQ exactly once, with a reason.
    Valid ones: each applied exactly once (each has its own target, whose `events` is then 1).

    Far-future timestamps: ingest rejects an event stamped more than SWAY_MAX_FUTURE (default 1 d)
    after wall time, so it never reaches the stream clock; within that window it moves stream time
    forward by at most SWAY_MAX_FUTURE, less than the decay grace (7 d), so one bad event can
    neither age every account nor make anyone decay. The clock has the same rule on its own
    (stream/clock.py). The test checks that stream time at the end is not ahead of wall time plus
    the time the run took."""
    records = corpus(RECORDS)
    intended = [ok for _, ok in records]
    judged = [not isinstance(validate_event(r, now_ms=NOW), Rejected) for r, _ in records]
    assert judged == intended, "the generators and the validator disagree"
    dep = Deployment(tmp_path)
    w = dep.worker("fuzz")
    began = time.monotonic()
    with stopping(w):
        await started(w)
        async with reading(dep.settings) as published, producing(dep.settings) as producer:
            topic = dep.settings.topic("interactions")
            futures = [await producer.send(topic, value=r) for r, _ in records]
            where = [(m.partition, m.offset) for m in [await f for f in futures]]
            await drained(dep.settings, 900)
            invalid = {where[i] for i, ok in enumerate(intended) if not ok}
            dlq = published.dlq
            assert w.proc is not None and w.proc.poll() is None, w.tail()
            status, health = w.get("/health")
        final = await final_state(dep.settings)
    log = w.log.read_text(errors="replace")
    assert "Traceback" not in log and "crashed" not in log.lower(), w.tail()
    assert status == 200 and health["ready"]
    assert health["stream_time"] <= int(time.time() * 1000) + 1000, "stream time ran ahead"
    assert all(isinstance(d["error"], str) and d["error"] for d in dlq)
    assert len(dlq) == len(invalid), (len(dlq), len(invalid))
    assert {(d["partition"], d["offset"]) for d in dlq} == invalid
    counted = {u: s.events for u, s in final.users.items() if u.startswith("fz-")}
    want = {}
    for i, ok in enumerate(intended):
        if ok:
            event = orjson.loads(records[i][0])
            want[event.get("target_id", event["actor_id"])] = 1
    assert counted == want
    print(
        f"\nfuzz: {len(records)} records, {len(invalid)} to the DLQ with reasons, {len(want)} counted, "
        f"0 crashes, {time.monotonic() - began:.0f}s through one worker"
    )
