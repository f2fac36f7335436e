"""Turn raw bytes from `interactions` into a normalised event, or a precise reason to reject them.

The rules live in schemas/interaction.schema.json; this module only applies them (jsonschema),
adds what a schema cannot say (size before parsing, RFC 3339 that Python can read, clock skew),
and normalises (`ts` -> epoch ms, topics lowercased and de-duplicated).
"""

from __future__ import annotations

import json
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any, NamedTuple

import jsonschema
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from stream.codec import DecodeError, loads
from stream.events.compiled import Check, compile_schema

SCHEMAS = Path(__file__).resolve().parent.parent.parent / "schemas"
MAX_EVENT_BYTES = 64 * 1024

Event = dict[str, Any]


class Rejected(NamedTuple):
    """Why a record cannot be scored; goes to the DLQ verbatim."""

    reason: str


@cache
def load_schema(name: str) -> dict[str, Any]:
    with (SCHEMAS / f"{name}.schema.json").open() as f:
        schema: dict[str, Any] = json.load(f)
    return schema


@cache
def validator(name: str) -> Draft202012Validator:
    schema = load_schema(name)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


@cache
def fast_check(name: str) -> Check:
    """The schema compiled to one predicate (compiled.py): the fast path for the (common)
    valid record; jsonschema explains the invalid ones."""
    return compile_schema(load_schema(name))


def _describe(error: jsonschema.ValidationError) -> str:
    where = ".".join(str(p) for p in error.absolute_path) or "event"
    if error.absolute_path and error.absolute_path[0] == "ts":
        got = f"{error.instance!r:.80}"
        return f"ts: must be integer epoch milliseconds >= 0 or an RFC 3339 string, got {got}"
    return f"{where}: {error.message[:300]}"


def parse_ts(value: int | float | str) -> int:
    """Epoch ms from an int or an RFC 3339 string (which the schema has already checked).

    JSON Schema counts 1767225600000.0 as an integer, so integral floats arrive here too."""
    if isinstance(value, int | float):
        return int(value)
    text = value.strip()
    if text[-1:] in "zZ":
        text = text[:-1] + "+00:00"
    return int(datetime.fromisoformat(text).timestamp() * 1000)


def _normalise_topics(topics: list[str]) -> list[str]:
    seen: dict[str, None] = {}
    for topic in topics:
        clean = topic.strip().lstrip("#").lower()
        if clean:
            seen.setdefault(clean, None)
    return list(seen)


def validate_event(
    raw: bytes, now_ms: int | None = None, max_future_ms: int = 86_400_000
) -> Event | Rejected:
    """Normalised event dict, or the reason it is not one. Never raises on any input."""
    if len(raw) > MAX_EVENT_BYTES:
        return Rejected(f"too large: {len(raw)} bytes > {MAX_EVENT_BYTES} (not parsed)")
    if not raw:
        return Rejected("empty record")
    try:
        data = loads(raw)
    except DecodeError as exc:
        return Rejected(f"malformed JSON: {exc}"[:300])
    except RecursionError:
        return Rejected("malformed JSON: nested too deeply")
    if not isinstance(data, dict):
        return Rejected(f"event: must be a JSON object, got {type(data).__name__}")
    try:
        valid = fast_check("interaction")(data)
    except RecursionError:
        return Rejected("event: nested too deeply")
    errors: list[jsonschema.ValidationError] = []
    if not valid:
        try:
            errors = list(validator("interaction").iter_errors(data))
        except RecursionError:
            return Rejected("event: nested too deeply")
        # no errors: the two validators disagree; the reference is trusted, and says valid
    if errors:
        # the "target_id unless post" rule is only meaningful once `type` itself is valid
        direct = [e for e in errors if not e.schema_path or e.schema_path[0] != "then"]
        error = best_match(direct or errors)
        assert error is not None
        return Rejected(_describe(error))
    try:
        ts = parse_ts(data["ts"])
    except (ValueError, OverflowError, TypeError):
        return Rejected(f"ts: not a valid RFC 3339 time: {data['ts']!r:.80}")
    if ts < 0:
        return Rejected(f"ts: before 1970: {data['ts']!r:.80}")
    if now_ms is not None and ts > now_ms + max_future_ms:
        return Rejected(f"ts: {ts} is more than {max_future_ms // 1000}s in the future")
    event: Event = {
        "event_id": data["event_id"],
        "type": data["type"],
        "network": data["network"],
        "actor_id": data["actor_id"],
        "ts": ts,
    }
    if data["type"] != "post" or "target_id" in data:
        event["target_id"] = data.get("target_id", data["actor_id"])
    for key in ("content_id", "sentiment"):
        if key in data:
            event[key] = data[key]
    if data.get("topics"):
        event["topics"] = _normalise_topics(data["topics"])
    return event
