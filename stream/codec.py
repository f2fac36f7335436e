"""orjson in one place: bytes on the wire, plain dicts in code."""

from __future__ import annotations

from typing import Any

import orjson

DecodeError = orjson.JSONDecodeError


def dumps(value: Any) -> bytes:
    return orjson.dumps(value)


def loads(data: bytes | str) -> Any:
    return orjson.loads(data)
