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

Records fetched before a rebalance must not move the read offset after it.

Why: Faust's fetch loop (`Consumer._drain_messages`) marks a record read (`_read_offset`) after
handing it to the streams even when the hand-over was cut short by the rebalance that suspended
the flow, and it hands over a record from the previous generation when one of its awaits (a
commit, which flushes the producer) spans a whole rebalance. After the rebalance the partition is
fetched again from the committed offset, every record below that stale read offset is dropped as
already read ("DROPPED MESSAGE ROFF"), they are never acknowledged, and the partition's commit
stays stuck for good (found by tests/reliability: the worker looked healthy, the group never
drained; faust-streaming issue #221 describes the prefetched half). `install()` replaces the loop
with the same loop that, after every await, stops reading the batch when the generation changed
or the flow is suspended, and marks a record read only when the streams really took it; the seek
to committed offsets that ends every rebalance fetches the rest again.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from faust.transport.consumer import CONSUMER_FETCHING, Consumer
from faust.transport.producer import ProducerBuffer

_ORIGINAL_SEND = ProducerBuffer._send_pending


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


def _current(self: Any, message: Any) -> bool:
    """Whether the record belongs to this generation and the flow may take it now."""
    return bool(self.flow_active and message.generation_id == self.app.consumer_generation_id)


def _left(self: Any, message: Any, why: str) -> None:
    self.log.info(
        "Left %s[%s]@%s unread (%s); it is fetched again from the committed offset",
        message.topic,
        message.partition,
        message.offset,
        why,
    )


async def _drain_messages(self: Any, fetcher: Any) -> None:  # pragma: no cover - a worker loop
    """Faust 0.15's fetch loop, except that a record is read only once the streams took it."""
    callback = self.callback
    getmany = self.getmany
    consumer_should_stop = self._stopped.is_set
    fetcher_should_stop = fetcher._stopped.is_set
    read_offsets = self._read_offset
    set_flag = self.diag.set_flag
    unset_flag = self.diag.unset_flag
    commit_every = self._commit_every
    acks_enabled_for = self.app.topics.acks_enabled_for
    yield_every = 100
    since_yield = 0
    try:
        while not (consumer_should_stop() or fetcher_should_stop()):
            set_flag(CONSUMER_FETCHING)
            batch = getmany(timeout=1.0)
            await self.sleep(0)
            if not self.should_stop:
                async for tp, message in batch:
                    since_yield += 1
                    if since_yield > yield_every:
                        await asyncio.sleep(0)
                        since_yield = 0
                    if commit_every is not None and self._n_acked >= commit_every:
                        self._n_acked = 0
                        await self.commit()
                    if not _current(self, message):
                        _left(self, message, "fetched before a rebalance")
                        break  # the seek that ends the rebalance fetches it again
                    offset = message.offset
                    r_offset = read_offsets[tp]
                    if r_offset is not None and offset < r_offset:
                        continue  # already read in this generation
                    if r_offset and offset - r_offset > 1 and acks_enabled_for(message.topic):
                        await self._add_gap(tp, r_offset + 1, offset)
                        if not _current(self, message):
                            _left(self, message, "fetched before a rebalance")
                            break
                    handing = asyncio.ensure_future(callback(message))
                    await self.wait_first(handing, self.suspend_flow.wait())
                    if not handing.done() or handing.cancelled():
                        _left(self, message, "hand-over cut short by a rebalance")
                        break
                    handing.result()
                    read_offsets[tp] = offset
            unset_flag(CONSUMER_FETCHING)
    except self.consumer_stopped_errors:
        if self.transport.app.should_stop:
            self.log.info("Broker stopped consumer, shutting down...")
            return
        raise
    except asyncio.CancelledError:
        if self.transport.app.should_stop:
            self.log.info("Consumer shutting down for user cancel.")
            return
        raise
    except Exception as exc:
        self.log.exception("Drain messages raised: %r", exc)
        raise
    finally:
        unset_flag(CONSUMER_FETCHING)


def install() -> None:
    """Idempotent; applies to every Faust app in this process."""
    Consumer._drain_messages = _drain_messages  # type: ignore[method-assign]
    ProducerBuffer._send_pending = _send_pending  # type: ignore[method-assign]
    ProducerBuffer.flush = _flush  # type: ignore[method-assign]
