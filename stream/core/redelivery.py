"""Recognising a record delivered again after a crash or a rebalance, exactly and without a horizon.

Why not only event ids: the memory of event ids is bounded by `SWAY_DEDUP_HORIZON` of *stream*
time. At-least-once delivery repeats whatever a worker had done since its last commit, which is a
span of *processing* time; in a replay of history one second of processing covers hours of stream
time, so ids of repeated records had often been forgotten and were counted twice (found by
tests/reliability/test_crash.py: a bot's actions counted 178 times instead of 116).

How: the edge stamps every event with its origin, `src = [partition, offset]` of the record in
`interactions`, and its lane, the partition of `sway-by-actor` its actor hashes to. Along one path
order is kept: the edge reads an `interactions` partition in order and writes each actor's events
to one lane in order; enrich reads a lane in order and writes to each target's partition in order
(one producer, one in-flight request per partition). So each stage keeps, per user, the highest
origin offset applied for each (origin partition[, lane]): a record at or below it was applied
before. Platform duplicates (the same `event_id` sent twice) are still caught by event ids.
"""

from __future__ import annotations

from typing import Any


def path_of(event: dict[str, Any], lane: bool) -> tuple[str, int] | None:
    """(path, origin offset) of an event, parsed once: the score stage's path (`lane`: origin
    partition and lane) or the enrich stage's (origin partition). None: no origin known."""
    src = event.get("src")
    if not isinstance(src, (list, tuple)) or len(src) != 2:
        return None
    if not lane:
        return str(int(src[0])), int(src[1])
    if "lane" not in event:
        return None
    return f"{int(src[0])}:{int(event['lane'])}", int(src[1])
