"""The fetch loop after a rebalance: no record is marked read unless the streams took it.

Faust's own loop marks a record read when a rebalance cut its hand-over short, and hands over a
record fetched before a rebalance that one of the loop's awaits (a commit) spanned; the records
refetched from the committed offset are then dropped as already read and the partition never
commits again. These tests drive the loop with a scripted consumer (no broker) and check both the
patched loop and, for the record, that Faust's original really does this.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from types import SimpleNamespace
from typing import Any

import pytest
from faust.transport.consumer import Consumer
from mode import Service

from stream.pipeline import durability

TP = ("interactions", 0)
ORIGINAL = Consumer._drain_messages


class Scripted:
    """Just enough of a Faust consumer for `_drain_messages`: one batch, then stop."""

    wait_first = Service.wait_first

    def __init__(self, batch: list[int], *, commit_every: int | None = None) -> None:
        self.batch = batch
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
        self._read_offset: dict[Any, int | None] = defaultdict(lambda: None)
        self._commit_every = commit_every
        self._n_acked = 0
        self.should_stop = False
        self.consumer_stopped_errors: tuple[type[BaseException], ...] = ()
        self.diag = SimpleNamespace(set_flag=lambda flag: None, unset_flag=lambda flag: None)
        self.log = logging.getLogger("scripted-consumer")
        self.handed: list[int] = []
        self.on_commit: Callable[[], None] = lambda: None
        self.on_hand_over: Callable[[int], Any] = lambda offset: None

    def message(self, offset: int) -> Any:
        return SimpleNamespace(
            topic=TP[0], partition=TP[1], offset=offset, generation_id=self.app.consumer_generation_id
        )

    async def getmany(self, timeout: float) -> AsyncIterator[tuple[Any, Any]]:
        batch, self.batch = self.batch, []
        generation = self.app.consumer_generation_id
        for offset in batch:
            if not self.flow_active or self.app.consumer_generation_id != generation:
                break  # what Faust's getmany does between records
            yield TP, SimpleNamespace(**{**vars(self.message(offset)), "generation_id": generation})
        self._stopped.set()

    async def callback(self, message: Any) -> None:
        waiting = self.on_hand_over(message.offset)
        if waiting is not None:
            await waiting
        self.handed.append(message.offset)

    async def commit(self) -> None:
        self.on_commit()

    async def _add_gap(self, tp: Any, start: int, end: int) -> None:
        return None

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    def rebalance(self, committed: int) -> None:
        """A whole rebalance: new generation, flow back on, read offset set by the seek."""
        self.app.consumer_generation_id += 1
        self._read_offset[TP] = committed


async def drain(consumer: Scripted, loop: Any = durability._drain_messages) -> None:
    await asyncio.wait_for(loop(consumer, SimpleNamespace(_stopped=asyncio.Event())), timeout=5)


async def test_every_record_of_a_quiet_batch_is_handed_over_and_read() -> None:
    c = Scripted([0, 1, 2])
    await drain(c)
    assert c.handed == [0, 1, 2]
    assert c._read_offset[TP] == 2


async def test_a_commit_that_spans_a_rebalance_does_not_hand_over_the_stale_record() -> None:
    c = Scripted([3, 4], commit_every=1)
    c._n_acked = 1  # the next record starts a commit...
    c.on_commit = lambda: c.rebalance(committed=1)  # ...during which a rebalance completes
    await drain(c)
    assert c.handed == []
    assert c._read_offset[TP] == 1  # the refetch from offset 1 is not dropped as already read


async def test_faust_s_own_loop_hands_over_the_stale_record_and_moves_the_read_offset() -> None:
    """Why the patch exists: offsets 1 and 2 would now be dropped when fetched again."""
    c = Scripted([3, 4], commit_every=1)
    c._n_acked = 1
    c.on_commit = lambda: c.rebalance(committed=1)
    await drain(c, ORIGINAL)
    assert c.handed == [3]
    assert c._read_offset[TP] == 3


@pytest.mark.parametrize("loop", [durability._drain_messages, ORIGINAL], ids=["patched", "faust"])
async def test_a_hand_over_cut_short_by_a_rebalance(loop: Any) -> None:
    c = Scripted([0, 1, 2])
    never = asyncio.Event()

    def stuck_at_one(offset: int) -> Any:
        if offset != 1:
            return None
        c.flow_active = False  # the rebalance starts while the stream's buffer is full
        c.loop.call_soon(c.suspend_flow.set)
        return never.wait()

    c.on_hand_over = stuck_at_one
    await drain(c, loop)
    assert c.handed == [0]
    # Faust marks the abandoned record read; the patched loop leaves it for the refetch
    assert c._read_offset[TP] == (0 if loop is durability._drain_messages else 1)
