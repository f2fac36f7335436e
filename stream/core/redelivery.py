"""Recognising a record delivered again after a crash or a rebalance, exactly and without a horizon.

Why not only event ids: the memory of event ids is bounded by `SWAY_DEDUP_HORIZON` of *stream*
time. At-least-once delivery repeats whatever a worker had done since its last commit, which is a
span of *processing* time; in a replay of history one second of processing covers hours of stream
time, so ids of repeated records had often been forgotten and were counted twice (found by
tests/reliability/test_crash.py: a bot's actions counted 178 times instead of 116).

How: ingest stamps every event with its origin, `src = [partition, offset]` of the record in
`interactions`, and its lane, the partition of `sway-by-actor` its actor hashes to. Along one path
order is kept: ingest reads an `interactions` partition in order and writes each actor's events
to one lane in order; enrich reads a lane in order and writes to each target's partition in order
(one producer, one in-flight request per partition). So each stage keeps, per user, the highest
origin offset applied for each (origin partition[, lane]): a record at or below it was applied
before. Platform duplicates (the same `event_id` sent twice) are still caught by event ids.
"""

from __future__ import annotations

from typing import Any


def origin(event: dict[str, Any]) -> tuple[int, int] | None:
    """(partition, offset) in `interactions` of the record this event came from, if known."""
    src = event.get("src")
    if isinstance(src, list | tuple) and len(src) == 2:
        return int(src[0]), int(src[1])
    return None


def actor_key(event: dict[str, Any]) -> str | None:
    """The actor's events from one `interactions` partition arrive at enrich in offset order."""
    where = origin(event)
    return None if where is None else str(where[0])


def target_key(event: dict[str, Any]) -> str | None:
    """A target's events from one `interactions` partition and one lane arrive in offset order."""
    where = origin(event)
    if where is None or "lane" not in event:
        return None
    return f"{where[0]}:{int(event['lane'])}"


def already_applied(marks: dict[str, int], key: str | None, event: dict[str, Any]) -> bool:
    where = origin(event)
    return key is not None and where is not None and where[1] <= marks.get(key, -1)


def mark(marks: dict[str, int], key: str | None, event: dict[str, Any]) -> None:
    """Record (in place) this event's origin offset as the highest applied on its path."""
    where = origin(event)
    if key is not None and where is not None and where[1] > marks.get(key, -1):
        marks[key] = where[1]
