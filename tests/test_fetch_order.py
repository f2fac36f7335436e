"""The fetch loop around seeks and rebalances: every input record reaches the agents, in order.

Faust's own loop keeps handing over a batch fetched before a seek (recovery's, a rebalance's) after
the seek moved the partition back, then drops the records fetched again as already read; the
reliability tests saw events skipped that way and the group's commit stuck behind them. These
tests drive the loop with a scripted consumer (no broker) and check both the patched loop and,
for the record, what Faust's original does in the same situation.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from types import SimpleNamespace
from typing import Any

from faust.transport.consumer import Consumer
from faust.types import TP as FaustTP
from mode import Service
from mode.utils.logging import CompositeLogger

from stream.pipeline import fetch_order

TP = FaustTP("interactions", 0)
ORIGINAL = Consumer._drain_messages


class Scripted:
    """Just enough of a Faust consumer on one partition for `_drain_messages`: a log of offsets,
    a fetch position that a fetch advances and a seek moves, and batches of `batch` records."""

    wait_first = Service.wait_first
    seek = fetch_order._seek
    perform_seek = fetch_order._perform_seek

    def __init__(self, offsets: list[int], *, batch: int = 100, commit_every: int | None = None) -> None:
        self.log_offsets = offsets
        self.position = offsets[0]
        self.batch = batch
        self.committed = offsets[0]
        self.app = SimpleNamespace(
            consumer_generation_id=1,
            topics=SimpleNamespace(acks_enabled_for=lambda topic: True),
        )
        self.transport = SimpleNamespace(app=SimpleNamespace(should_stop=True))
        self._stopped = asyncio.Event()
        self._crashed = asyncio.Event()
        self.loop = asyncio.get_running_loop()
        self.suspend_flow = asyncio.Event()
        self.flow_active = True
        self.can_resume = asyncio.Event()
        self.can_resume.set()
        self._read_offset: dict[Any, int | None] = defaultdict(lambda: None)
        self._committed_offset: dict[Any, int | None] = {}
        self._commit_every = commit_every
        self._n_acked = 0
        self.should_stop = False
        self.consumer_stopped_errors: tuple[type[BaseException], ...] = ()
        self.diag = SimpleNamespace(set_flag=lambda flag: None, unset_flag=lambda flag: None)
        self.log = CompositeLogger(logging.getLogger("scripted-consumer"))
        self.handed: list[int] = []
        self.gaps: list[tuple[int, int]] = []
        self.on_commit: Callable[[], None] = lambda: None
        self.on_hand_over: Callable[[int], Any] = lambda offset: None

    def assignment(self) -> set[Any]:
        return {TP}

    async def getmany(self, timeout: float) -> AsyncIterator[tuple[Any, Any]]:
        await self.can_resume.wait()  # Faust waits for the flow before fetching
        fetched = [o for o in self.log_offsets if o >= self.position][: self.batch]
        if not fetched:
            self._stopped.set()
            return
        self.position = fetched[-1] + 1
        generation = self.app.consumer_generation_id
        for offset in fetched:
            if not self.flow_active or self.app.consumer_generation_id != generation:
                break  # what Faust's getmany does between records
            yield (
                TP,
                SimpleNamespace(
                    topic=TP[0],
                    partition=TP[1],
                    offset=offset,
                    generation_id=generation,
                    key=None,
                    value=None,
                ),
            )

    async def callback(self, message: Any) -> None:
        waiting = self.on_hand_over(message.offset)
        if waiting is not None:
            await waiting
        self.handed.append(message.offset)

    async def commit(self) -> None:
        self.on_commit()

    async def _add_gap(self, tp: Any, start: int, end: int) -> None:
        self.gaps.append((start, end))

    async def _seek(self, tp: Any, offset: int) -> None:
        self.position = offset

    async def seek_to_committed(self) -> dict[Any, int]:
        self.position = self.committed
        return {TP: self.committed}

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    def rebalance(self) -> None:
        """A whole rebalance while the loop awaited: new generation, position and read offset at
        the committed offset (what recovery's seek does)."""
        self.app.consumer_generation_id += 1
        self.position = self.committed
        self._read_offset[TP] = self.committed
        fetch_order._expected(self)[TP] = self.committed  # what the patched perform_seek does


async def drain(consumer: Scripted, loop: Any = fetch_order._drain_messages) -> None:
    await asyncio.wait_for(loop(consumer, SimpleNamespace(_stopped=asyncio.Event())), timeout=5)


async def test_every_record_of_a_quiet_batch_is_handed_over_once_in_order() -> None:
    c = Scripted(list(range(5)), batch=2)
    await drain(c)
    assert c.handed == [0, 1, 2, 3, 4]
    assert c._read_offset[TP] == 4


def spanning_commit(c: Scripted) -> None:
    """Records 1 and 2 were handed over and not yet processed; 3 and 4 are fetched; the next
    record starts a commit, during which a whole rebalance happens (the buffers are dropped)."""
    c.position, c.committed = 3, 1
    c._read_offset[TP] = 2
    fetch_order._expected(c)[TP] = 3
    c._n_acked = 1

    def once() -> None:
        c.on_commit = lambda: None
        c.rebalance()

    c.on_commit = once


async def test_a_commit_that_spans_a_rebalance_starts_again_at_the_committed_offset() -> None:
    c = Scripted([1, 2, 3, 4], commit_every=1)
    spanning_commit(c)
    await drain(c)
    assert c.handed == [1, 2, 3, 4]


async def test_faust_s_own_loop_loses_the_records_before_a_stale_one() -> None:
    """Why the patch exists (faust-streaming #221): 1 and 2 are never handed over again."""
    c = Scripted([1, 2, 3, 4], commit_every=1)
    spanning_commit(c)
    await drain(c, ORIGINAL)
    assert c.handed == [3, 3, 4]


def seek_at(c: Scripted, at: int) -> None:
    """Recovery ends (seek to the committed offset) while record `at` is being handed over."""

    def hand_over(offset: int) -> Any:
        if offset != at:
            return None
        c.on_hand_over = lambda offset: None
        return c.perform_seek()

    c.on_hand_over = hand_over


async def test_records_fetched_before_a_seek_are_not_handed_over_after_it() -> None:
    c = Scripted(list(range(10)))
    seek_at(c, 3)
    await drain(c)
    assert c.handed == [0, 1, 2, 3, *range(10)]  # after the seek: from the committed offset, in order
    assert c.gaps == []


async def test_faust_s_own_loop_hands_over_the_stale_batch_and_drops_the_refetch() -> None:
    c = Scripted(list(range(10)))
    seek_at(c, 3)
    await drain(c, ORIGINAL)
    # 4.. are handed over after the seek moved the partition back to 0, and the refetch of 0..8
    # is dropped as already read: any record of 0..8 not yet processed at the seek is never seen
    assert c.handed == [*range(10), 9]


async def test_records_really_gone_from_the_broker_are_passed_over_once() -> None:
    c = Scripted([0, 1, 2, 3, 4, 10, 11, 12], batch=3)
    await drain(c)
    assert c.handed == [0, 1, 2, 3, 4, 10, 11, 12]
    assert c.gaps == [(5, 10)]


async def test_a_hand_over_cut_short_by_a_rebalance_is_handed_over_again() -> None:
    c = Scripted([0, 1, 2])
    never = asyncio.Event()

    def finish_rebalance() -> None:
        c.rebalance()
        c.flow_active = True
        c.suspend_flow.clear()
        c.can_resume.set()

    def stuck_at_one(offset: int) -> Any:
        if offset != 1:
            return None
        c.on_hand_over = lambda offset: None
        c.flow_active = False  # the rebalance starts while the stream's buffer is full
        c.can_resume.clear()
        c.loop.call_soon(c.suspend_flow.set)
        c.loop.call_later(0.05, finish_rebalance)
        return never.wait()

    c.on_hand_over = stuck_at_one
    await drain(c)
    assert c.handed == [0, 0, 1, 2]
