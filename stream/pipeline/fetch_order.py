"""Records of an input partition reach the agents in offset order, each once per fetch position.

Why: faust-streaming 0.15's fetch loop (`Consumer._drain_messages`) hands over whatever a fetch
returned as long as its offset is not below the partition's read offset. Three ways that went
wrong were found by tests/reliability (a worker that looked healthy while its group's commit
stayed stuck, and later events counted as redeliveries and dropped):

- a batch fetched before the seek that ends recovery (or a rebalance) kept being handed over
  after the seek moved the partition back to its committed offset: the stale records jumped past
  a record never handed over, Faust registered the jump as a gap (acknowledged, so committable),
  and the records fetched again from the committed offset were then dropped as already read;
- a record whose hand-over a rebalance cut short was still marked read;
- a record fetched before a rebalance was handed over when one of the loop's awaits (a commit)
  spanned the whole rebalance (faust-streaming issue #221 describes this half).

`install()` replaces the loop with Faust's, changed in one respect: on Sway's input topics
(the acknowledged ones, which are neither compacted nor transactional, so their offsets have no
holes) a record is handed over only when it is the next one expected, and a record is marked read
only once the streams took it. A jump ahead is skipped for the rest of that batch and the partition
is sought back to the expected offset, so the next fetch starts there. A jump that a fresh fetch
repeats is real (records deleted by retention) and goes through as Faust would. Changelog
partitions, read by recovery, keep Faust's behaviour.

Limit: a platform that writes `interactions` in Kafka transactions leaves an offset for each
transaction marker; each one costs an extra fetch here, not a lost record.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from faust.transport.consumer import CONSUMER_FETCHING, Consumer

_ORIGINAL_PERFORM_SEEK = Consumer.perform_seek
_ORIGINAL_SEEK = Consumer.seek


def _expected(self: Any) -> dict[Any, int]:
    """Per partition, the offset the next record handed over must have (absent: unknown)."""
    expected: dict[Any, int] | None = getattr(self, "_sway_expected", None)
    if expected is None:
        expected = self._sway_expected = {}
    return expected


def _sought(self: Any) -> int:
    """How many seeks this consumer has done: one that lands during a hand-over wins over it."""
    return int(getattr(self, "_sway_seeks", 0))


async def _perform_seek(self: Any) -> None:
    await _ORIGINAL_PERFORM_SEEK(self)
    self._sway_seeks = _sought(self) + 1
    expected = _expected(self)
    for tp, offset in self._read_offset.items():
        if offset is None:
            expected.pop(tp, None)  # no committed offset: the client's reset policy decides
        else:
            expected[tp] = offset


async def _seek(self: Any, partition: Any, offset: int) -> None:
    await _ORIGINAL_SEEK(self, partition, offset)
    self._sway_seeks = _sought(self) + 1
    _expected(self)[partition] = offset


def _current(self: Any, message: Any) -> bool:
    """Whether the record belongs to this generation and the flow may take it now."""
    return bool(self.flow_active and message.generation_id == self.app.consumer_generation_id)


def _left(self: Any, message: Any, why: str) -> None:
    self.log.info(
        "Left %s[%s]@%s unread (%s); it is fetched again",
        message.topic,
        message.partition,
        message.offset,
        why,
    )


async def _drain_messages(self: Any, fetcher: Any) -> None:  # pragma: no cover - a worker loop
    """Faust 0.15's fetch loop, with the ordering rule above."""
    callback = self.callback
    getmany = self.getmany
    consumer_should_stop = self._stopped.is_set
    fetcher_should_stop = fetcher._stopped.is_set
    read_offsets = self._read_offset
    expected = _expected(self)
    set_flag = self.diag.set_flag
    unset_flag = self.diag.unset_flag
    commit_every = self._commit_every
    acks_enabled_for = self.app.topics.acks_enabled_for
    yield_every = 100
    since_yield = 0
    #: partition -> the expected offset a jump was skipped at, in an earlier batch
    jumped: dict[Any, int] = {}
    try:
        while not (consumer_should_stop() or fetcher_should_stop()):
            set_flag(CONSUMER_FETCHING)
            batch = getmany(timeout=1.0)
            skipping: set[Any] = set()
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
                    if tp in skipping:
                        continue
                    offset = message.offset
                    ordered = acks_enabled_for(message.topic)
                    want = expected.get(tp)
                    gap: tuple[int, int] | None = None  # offsets with no record, to acknowledge
                    if ordered and want is not None and read_offsets[tp] is not None:
                        if offset < want:
                            continue  # already read at this position
                        if offset > want:
                            if jumped.get(tp) != want:
                                jumped[tp] = want
                                skipping.add(tp)
                                _left(self, message, f"expected offset {want} first")
                                if tp in self.assignment():  # fetch from there, whatever moved us
                                    with contextlib.suppress(Exception):
                                        await self.seek(tp, want)
                                continue
                            # one missing offset is what a transaction marker leaves: no alarm
                            say = self.log.info if offset - want == 1 else self.log.warning
                            say(
                                "%s[%s]: no records at offsets %s..%s; going on at %s",
                                message.topic, message.partition, want, offset - 1, offset,
                            )  # fmt: skip
                            gap = (want, offset)
                    else:
                        r_offset = read_offsets[tp]
                        if r_offset is not None and offset < r_offset:
                            continue  # Faust's rule, for changelogs and unknown positions
                        if r_offset and offset - r_offset > 1 and ordered:
                            gap = (r_offset + 1, offset)
                    if gap is not None:
                        await self._add_gap(tp, *gap)
                        if not _current(self, message):
                            _left(self, message, "fetched before a rebalance")
                            break
                    seeks = _sought(self)
                    handing = asyncio.ensure_future(callback(message))
                    await self.wait_first(handing, self.suspend_flow.wait())
                    if not handing.done() or handing.cancelled():
                        _left(self, message, "hand-over cut short by a rebalance")
                        break
                    handing.result()
                    if _sought(self) == seeks:  # else the seek's position stands
                        read_offsets[tp] = offset
                        expected[tp] = offset + 1
                        jumped.pop(tp, None)
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
    Consumer.perform_seek = _perform_seek  # type: ignore[method-assign]
    Consumer.seek = _seek  # type: ignore[method-assign]
