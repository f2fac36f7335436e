"""Reading replay files: JSON Lines in the contract format, or the SNAP Higgs activity format.

SNAP lines `userA userB unix_seconds RT|MT|RE` become retweet/mention/reply events on twitter
with event ids `higgs-<line number>`, so replaying the same file twice is idempotent.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Literal

import orjson

from stream.codec import dumps

Format = Literal["auto", "jsonl", "snap"]
SNAP_KINDS = {"RT": "retweet", "MT": "mention", "RE": "reply"}

Record = tuple[bytes | None, bytes]  # (key, value) as sent to `interactions`


def open_text(path: Path) -> IO[bytes]:
    with path.open("rb") as probe:
        magic = probe.read(2)
    return gzip.open(path, "rb") if magic == b"\x1f\x8b" else path.open("rb")


def detect(path: Path) -> Literal["jsonl", "snap"]:
    with open_text(path) as f:
        for line in f:
            text = line.strip()
            if not text or text.startswith(b"#"):
                continue
            parts = text.split()
            if len(parts) == 4 and parts[3].decode(errors="replace") in SNAP_KINDS:
                return "snap"
            return "jsonl"
    return "jsonl"


def snap_event(line: bytes, number: int, network: str = "twitter") -> bytes | None:
    """The contract event for one SNAP line, or None if the line is not in that format."""
    parts = line.split()
    if len(parts) != 4:
        return None
    kind = SNAP_KINDS.get(parts[3].decode(errors="replace"))
    if kind is None or not parts[2].isdigit():
        return None
    actor, target = parts[0].decode(errors="replace"), parts[1].decode(errors="replace")
    return dumps(
        {
            "event_id": f"higgs-{number}",
            "type": kind,
            "network": network,
            "actor_id": actor,
            "target_id": target,
            "ts": int(parts[2]) * 1000,
        }
    )


def _key_of(value: bytes) -> bytes | None:
    try:
        data = orjson.loads(value)
    except orjson.JSONDecodeError:
        return None
    actor = data.get("actor_id") if isinstance(data, dict) else None
    return actor.encode() if isinstance(actor, str) else None


def records(path: Path, fmt: Format = "auto", limit: int | None = None) -> Iterator[Record]:
    """(key, value) for every non-empty line; invalid lines are passed through untouched so the
    worker's DLQ sees them (nothing is dropped on the way in)."""
    kind = detect(path) if fmt == "auto" else fmt
    count = 0
    with open_text(path) as f:
        for number, line in enumerate(f, start=1):
            if limit is not None and count >= limit:
                return
            text = line.rstrip(b"\r\n")
            if not text.strip() or (kind == "snap" and text.startswith(b"#")):
                continue  # blank lines, and SNAP's comment header, are not records
            count += 1
            if kind == "snap":
                value = snap_event(text, number)
                if value is None:
                    yield None, text
                else:
                    yield text.split()[0], value
            else:
                yield _key_of(text), text


def count_lines(path: Path, limit: int | None = None) -> int:
    total = 0
    if limit is not None and limit <= 0:
        return 0
    with open_text(path) as f:
        for line in f:
            if line.strip() and not line.startswith(b"#"):
                total += 1
                if limit is not None and total >= limit:
                    break
    return total
