"""Table writes must be on their way to Kafka before the offsets that caused them are committed.

Why: Faust sends table changelog writes through its producer buffer (`send_soon`), and commits
after `producer.flush()`. faust-streaming 0.15's `ProducerBuffer.flush` returns early in two
cases: when one message takes longer than 0.1 s to hand over (a busy or reconnecting worker), and
while the message just taken off the queue is still being handed to aiokafka (the queue is already
empty). Offsets were then committed past events whose table writes had not been sent, and a worker
killed at that moment lost those events for good: the successor neither recovers the write nor
receives the event again (found by tests/reliability/test_crash.py: one action missing from
several actors, one engagement from a user, after two SIGKILLs).

`install()` replaces that flush with one that waits until the queue is empty *and* nothing is
being handed over; aiokafka's own flush, which Faust calls next, then waits for delivery.

Sway's batch outputs go through a producer of its own (writes.py); `before_commit` lets it wait
here, in the same flush, until the broker acknowledged everything it sent. So a stage never waits
for acknowledgements per batch, and an offset is still committed only after what it caused.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

from faust.transport.producer import ProducerBuffer

_ORIGINAL_SEND = ProducerBuffer._send_pending
#: Awaited by every flush before a commit, after Faust's own buffer is empty.
_BEFORE_COMMIT: list[Callable[[], Awaitable[None]]] = []


def before_commit(hook: Callable[[], Awaitable[None]]) -> None:
    """Have every commit wait for `hook()` (e.g. a producer's outstanding acknowledgements)."""
    if hook not in _BEFORE_COMMIT:
        _BEFORE_COMMIT.append(hook)


async def _send_pending(self: Any, fut: Any) -> None:
    self._sway_in_hand = getattr(self, "_sway_in_hand", 0) + 1
    try:
        await _ORIGINAL_SEND(self, fut)
    finally:
        self._sway_in_hand -= 1


async def _flush(self: Any) -> None:
    """Wait until every buffered message has been handed to the Kafka client."""
    while self.size or getattr(self, "_sway_in_hand", 0):
        if self.state != "running" and self.size:
            raise RuntimeError("Cannot flush: Producer not Running")
        self.message_sent.clear()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self.message_sent.wait(), timeout=0.1)
    await before_commit_hooks()


async def before_commit_hooks() -> None:
    """Await every hook, in the order they were registered (the hops' commits call it too)."""
    for hook in list(_BEFORE_COMMIT):
        await hook()


def install() -> None:
    """Idempotent; applies to every Faust app in this process."""
    ProducerBuffer._send_pending = _send_pending  # type: ignore[method-assign]
    ProducerBuffer.flush = _flush  # type: ignore[method-assign]
