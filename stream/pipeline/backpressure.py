"""Enrich waits while this worker's score stage is far behind it.

Why: the network component weighs an engagement by the engager's settled score, which enrich
reads from the score stage's table. After a restart, a failover or a broker outage both stages
work off a backlog, and enrich (the cheaper stage) ran far ahead: an engager whose own engagement
was still queued for the score stage was read at the floor score 1.0, where the batch reference
reads their real score (tests/reliability measured up to 4.5 points on one user, 1.2 on average).
Holding enrich within LIMIT records of the score stage keeps that window small. At steady state
the score stage keeps up and enrich never waits.

Enrich must never wait with its own buffer more than half full: one fetch loop hands records to
every agent, and it blocks on a full buffer, so an enrich that stops reading would also stop the
score stage it waits for (`sway bench` found that: 1 record per MAX_WAIT_S). A big backlog
therefore goes through unthrottled; the restart backlogs that caused the jitter fit in the buffer.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import faust
from faust.types import TP

from stream.pipeline.topology import Topology, owned_partitions

#: Records the score stage may owe before enrich waits, and how far it must drain before enrich
#: goes on (hysteresis: enrich does not wake for every record scored). A record is a batch of one
#: partition (batches.py), and each edge poll becomes up to partitions² of them; at 16 a paced
#: 1,000 events/s stalled enrich for seconds at a time (p50 latency over 1 s), at 256 it does not.
LIMIT = 256
RESUME = LIMIT // 2
MAX_WAIT_S = 2.0


class ScoreBacklog:
    """How many by-target records this worker's score stage still owes."""

    def __init__(self, app: faust.App, topology: Topology) -> None:
        self.app = app
        self.topology = topology
        self.topic = topology.by_target.get_topic_name()
        self.scored: dict[int, int] = {}  # partition -> offset of the record being scored
        self._tps: list[TP] = []
        self._tps_at = -1.0
        self._progress = asyncio.Event()

    def scoring(self, partition: int, offset: int) -> None:
        self.scored[partition] = offset
        self._progress.set()

    def _partitions(self) -> list[TP]:
        """The worker's by-target partitions, looked up at most once a second (cheap per event)."""
        now = time.monotonic()
        if now - self._tps_at > 1.0:
            self._tps_at = now
            self._tps = [TP(self.topic, p) for p in owned_partitions(self.app, self.topology)]
        return self._tps

    def owed(self) -> int:
        consumer = self.app.consumer
        total = 0
        committed: dict[Any, int | None] = getattr(consumer, "_committed_offset", {})
        for tp in self._partitions():
            try:
                end = consumer.highwater(tp)
            except Exception:  # noqa: BLE001 - no fetch yet, or no longer assigned
                continue
            done = self.scored.get(tp.partition)
            if done is None:
                start = committed.get(tp)
                done = start - 1 if start is not None else None
            if end is None or done is None:
                continue
            total += max(0, end - 1 - done)
        return total

    async def wait(self, buffer: Any) -> bool:
        """Return at once (False) unless the score stage owes more than LIMIT records and
        enrich's own `buffer` (the agent's queue) has room to spare."""

        def room() -> bool:
            return bool(buffer.qsize() < buffer.maxsize // 2)

        if not room() or self.owed() <= LIMIT:
            return False
        deadline = time.monotonic() + MAX_WAIT_S
        while room() and self.owed() > RESUME:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            self._progress.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._progress.wait(), left)
        return True
