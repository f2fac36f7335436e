"""`sway replay FILE`: SNAP Higgs lines and JSON Lines become (key, value) records for
`interactions`; nothing is dropped on the way in."""

from __future__ import annotations

import gzip
import itertools
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest

from stream.events.validate import Rejected, validate_event
from stream.producers.replay import count_lines, detect, records, snap_event

# ../shared/data relative to the project root (shared/data/README.md)
HIGGS = Path(__file__).resolve().parents[2].parent / "shared/data/higgs-activity_time.txt.gz"
Writer = Callable[[bytes], Path]

SNAP = (
    b"223789 213163 1341100972 MT\n"
    b"223789 213163 1341100972 RE\n"
    b"\n"
    b"376989 50329 1341101181 RT\n"
    b"this line is broken\n"
    b"1 2 notatime RT\n"
    b"1 2 1341101183 XX\n"
    b"26375 168366 1341101183 MT\r\n"
)

EVENT_A = {
    "event_id": "j1",
    "type": "like",
    "network": "twitter",
    "actor_id": "alice",
    "target_id": "bob",
    "ts": 1767225600000,
}
EVENT_B = {
    "event_id": "j2",
    "type": "post",
    "network": "youtube",
    "actor_id": "bob",
    "content_id": "v1",
    "ts": "2026-01-01T00:00:00Z",
}
JSONL = (
    orjson.dumps(EVENT_A)
    + b"\n"
    + b"   \n"
    + orjson.dumps(EVENT_B)
    + b"\n"
    + b"{not json\n"
    + b"[1, 2]\n"
    + b'{"actor_id": 42}\n'
)


@pytest.fixture(params=["plain", "gzip"])
def write(request: pytest.FixtureRequest, tmp_path: Path) -> Writer:
    """Write bytes to a temporary file, plain or gzip-compressed (detected by magic, not name)."""

    def _write(content: bytes) -> Path:
        path = tmp_path / "data.txt"
        path.write_bytes(gzip.compress(content) if request.param == "gzip" else content)
        return path

    return _write


# --- SNAP -------------------------------------------------------------------------------------


def test_snap_line_becomes_a_contract_event() -> None:
    value = snap_event(b"223789 213163 1341100972 RT", 17)
    assert value is not None
    event = validate_event(value)
    assert not isinstance(event, Rejected), event
    assert event == {
        "event_id": "higgs-17",
        "type": "retweet",
        "network": "twitter",
        "actor_id": "223789",
        "target_id": "213163",
        "ts": 1341100972000,
    }


@pytest.mark.parametrize(
    ("kind", "event_type"), [("RT", "retweet"), ("MT", "mention"), ("RE", "reply")]
)
def test_snap_kinds(kind: str, event_type: str) -> None:
    value = snap_event(f"1 2 1341100972 {kind}".encode(), 1)
    assert value is not None
    assert orjson.loads(value)["type"] == event_type


@pytest.mark.parametrize(
    "line",
    [
        b"",
        b"1 2 1341100972",
        b"1 2 1341100972 RT extra",
        b"1 2 13411x0972 RT",
        b"1 2 -5 RT",
        b"1 2 1341100972 rt",
        b"1 2 1341100972 LIKE",
    ],
)
def test_non_snap_lines_are_not_converted(line: bytes) -> None:
    assert snap_event(line, 1) is None


def test_detect(write: Writer) -> None:
    assert detect(write(SNAP)) == "snap"
    assert detect(write(b"\n\n" + SNAP)) == "snap"
    assert detect(write(JSONL)) == "jsonl"
    assert detect(write(b"")) == "jsonl"


def test_snap_records(write: Writer) -> None:
    got = list(records(write(SNAP)))
    assert len(got) == 7  # every non-empty line, broken ones included
    good = [(k, orjson.loads(v)) for k, v in got if k is not None]
    assert [e["event_id"] for _, e in good] == ["higgs-1", "higgs-2", "higgs-4", "higgs-8"]
    assert [e["type"] for _, e in good] == ["mention", "reply", "retweet", "mention"]
    for key, event in good:
        assert key == event["actor_id"].encode()
        assert event["ts"] % 1000 == 0
        checked = validate_event(orjson.dumps(event))
        assert not isinstance(checked, Rejected), checked
    assert good[0][1]["ts"] == 1341100972000
    assert good[3][1]["target_id"] == "168366"  # CRLF stripped
    broken = [v for k, v in got if k is None]
    assert broken == [b"this line is broken", b"1 2 notatime RT", b"1 2 1341101183 XX"]
    for value in broken:
        assert isinstance(validate_event(value), Rejected)  # so the worker's DLQ sees them


def test_replaying_twice_gives_the_same_records(write: Writer) -> None:
    path = write(SNAP)
    assert list(records(path)) == list(records(path))


def test_jsonl_records_are_keyed_by_actor_and_passed_untouched(write: Writer) -> None:
    got = list(records(write(JSONL)))
    assert got == [
        (b"alice", orjson.dumps(EVENT_A)),
        (b"bob", orjson.dumps(EVENT_B)),
        (None, b"{not json"),
        (None, b"[1, 2]"),
        (None, b'{"actor_id": 42}'),
    ]
    assert not isinstance(validate_event(got[1][1]), Rejected)


def test_format_can_be_forced(write: Writer) -> None:
    as_jsonl = list(records(write(SNAP), fmt="jsonl"))
    assert len(as_jsonl) == 7
    assert all(key is None for key, _ in as_jsonl)
    assert as_jsonl[0][1] == b"223789 213163 1341100972 MT"


@pytest.mark.parametrize("limit", [0, 1, 3, 7, 100])
def test_limit_is_respected(write: Writer, limit: int) -> None:
    path = write(SNAP)
    got = list(records(path, limit=limit))
    assert len(got) == min(limit, 7)
    assert got == list(records(path))[:limit]
    assert count_lines(path, limit=limit if limit else None) == (min(limit, 7) if limit else 7)


def test_count_lines_counts_non_empty_lines(write: Writer) -> None:
    assert count_lines(write(SNAP)) == 7
    assert count_lines(write(JSONL)) == 5
    assert count_lines(write(b"")) == 0


def test_snap_file_with_comment_header_is_detected(write: Writer) -> None:
    path = write(b"# Higgs activity: userA userB timestamp interaction\n" + SNAP)
    assert detect(path) == "snap"


# --- the real data set ----------------------------------------------------------------------------


@pytest.mark.skipif(not HIGGS.exists(), reason=f"{HIGGS} not present")
def test_first_thousand_higgs_lines_are_valid_events() -> None:
    assert detect(HIGGS) == "snap"
    got = list(itertools.islice(records(HIGGS), 1000))
    assert len(got) == 1000
    types = set()
    for n, (key, value) in enumerate(got, start=1):
        event = validate_event(value)
        assert not isinstance(event, Rejected), (n, value, event)
        assert event["event_id"] == f"higgs-{n}"
        assert key == event["actor_id"].encode()
        assert 1341100972000 <= event["ts"] <= 1341705593000
        types.add(event["type"])
    assert types <= {"retweet", "mention", "reply"}
    assert list(records(HIGGS, limit=5)) == got[:5]
