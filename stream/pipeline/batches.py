"""Batch records of Sway's internal topics: the events of one partition in one Kafka record.

Why: faust-streaming pays ~75 µs to consume a record and more to produce one, per hop; one record
per interaction held the pipeline under 1,000 events/s. A record of `sway-by-actor` or
`sway-by-target` holds a JSON list of items (events, and the control records sweep, erase and
forget) that all belong to the partition it is written to, bounded in count and bytes.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from stream.codec import dumps, loads

#: Items per record, and bytes per record (well under the producer's and broker's 1 MB limits).
MAX_ITEMS = 500
MAX_BYTES = 256 * 1024


def encode(items: Iterable[Any]) -> Iterator[bytes]:
    """Records of at most MAX_ITEMS items and (unless one item alone is larger) MAX_BYTES.

    Each MAX_ITEMS items are encoded in one call (the usual case: well under MAX_BYTES); only a
    chunk that comes out larger is split item by item."""
    chunk: list[Any] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == MAX_ITEMS:
            yield from _encoded(chunk)
            chunk = []
    if chunk:
        yield from _encoded(chunk)


def _encoded(chunk: list[Any]) -> Iterator[bytes]:
    raw = dumps(chunk)
    if len(raw) <= MAX_BYTES or len(chunk) == 1:
        yield raw
        return
    parts: list[bytes] = []
    size = 0
    for item in chunk:
        one = dumps(item)
        if parts and size + len(one) + 1 > MAX_BYTES:
            yield b"[" + b",".join(parts) + b"]"
            parts, size = [], 0
        parts.append(one)
        size += len(one) + 1
    if parts:
        yield b"[" + b",".join(parts) + b"]"


def decode(raw: bytes) -> list[dict[str, Any]]:
    """The items of a record; a lone JSON object (a record written one item at a time, as
    before batching) is one item."""
    value = loads(raw)
    return value if isinstance(value, list) else [value]


def by_partition(items: Iterable[tuple[int, Any]]) -> dict[int, list[Any]]:
    """Group (partition, item) pairs, keeping each partition's order."""
    groups: dict[int, list[Any]] = {}
    for partition, item in items:
        groups.setdefault(partition, []).append(item)
    return groups
