"""Faust codecs for Sway's table values and keys: orjson over the core's plain-JSON forms."""

from __future__ import annotations

from typing import Any

from faust.serializers import codecs

from stream.codec import dumps, loads
from stream.core.state import ActorState, UserState, actor_from_json, actor_to_json, from_json, to_json


class Utf8(codecs.Codec):
    """User ids as UTF-8, so recovered keys are str like live ones (not bytes)."""

    def _dumps(self, obj: Any) -> bytes:
        return obj.encode() if isinstance(obj, str) else bytes(obj)

    def _loads(self, s: bytes) -> Any:
        return s.decode()


def encode_user(state: UserState) -> bytes:
    """A users-table value as its changelog holds it (Faust's codec and writes.py share it)."""
    return dumps(to_json(state))


def encode_actor(state: ActorState) -> bytes:
    """An actors-table value as its changelog holds it."""
    return dumps(actor_to_json(state))


class UserStateCodec(codecs.Codec):
    def _dumps(self, obj: Any) -> bytes:
        return encode_user(obj)

    def _loads(self, s: bytes) -> Any:
        return from_json(loads(s))


class ActorStateCodec(codecs.Codec):
    def _dumps(self, obj: Any) -> bytes:
        return encode_actor(obj)

    def _loads(self, s: bytes) -> Any:
        return actor_from_json(loads(s))


class JsonCodec(codecs.Codec):
    """Plain JSON values (the erased table's erase times)."""

    def _dumps(self, obj: Any) -> bytes:
        return dumps(obj)

    def _loads(self, s: bytes) -> Any:
        return loads(s)


def register() -> None:
    codecs.register("sway_json", JsonCodec())
    codecs.register("sway_utf8", Utf8())
    codecs.register("sway_user", UserStateCodec())
    codecs.register("sway_actor", ActorStateCodec())
