"""Stream time: the latest event time seen, advanced by wall time while the stream is idle."""

from __future__ import annotations

import time
from collections.abc import Callable

WallClock = Callable[[], float]


class StreamClock:
    """Why: replaying history must give the same scores as living through it, so scoring never
    reads the wall clock directly; only idle periods let wall time move stream time forward."""

    def __init__(
        self,
        wall: WallClock = time.time,
        max_future_ms: int = 86_400_000,
        monotonic: WallClock | None = None,
    ) -> None:
        self._wall = wall
        # idle time is measured on a monotonic clock, so an NTP step back never rewinds stream time
        self._mono = monotonic or (time.monotonic if wall is time.time else wall)
        self._max_future_ms = max_future_ms
        self._event_ms: int | None = None
        self._wall_at_event = 0.0

    def observe(self, event_ms: int) -> int:
        """Advance on an event; a timestamp beyond wall time + max_future never moves the clock
        (one bad event must not age every account)."""
        if self.is_too_far_in_future(event_ms):
            return self.now()
        if self._event_ms is None or event_ms > self.now():
            self._event_ms = event_ms
            self._wall_at_event = self._mono()
        return self.now()

    def seed(self, event_ms: int) -> None:
        """Start from recovered state after a restart, so an idle sweep does not jump to wall time."""
        if self._event_ms is None:
            self._event_ms = event_ms
            self._wall_at_event = self._mono()

    @property
    def started(self) -> bool:
        return self._event_ms is not None

    def now(self) -> int:
        """Current stream time in epoch ms (wall time if no event was ever seen)."""
        if self._event_ms is None:
            return int(self._wall() * 1000)
        idle = max(0.0, self._mono() - self._wall_at_event)
        return self._event_ms + int(idle * 1000)

    def is_too_far_in_future(self, event_ms: int) -> bool:
        return event_ms > int(self._wall() * 1000) + self._max_future_ms


class PartitionClocks:
    """Stream time per partition (Kafka Streams' per-task stream time).

    Why: with one clock per worker, a lagging partition's events were scored with a clock days
    ahead of them (an account idle for the last 40 days of a replay ended with no decay at all).
    Each partition's clock is the latest event time *that partition* processed, so a lagging
    partition scores its events at their own time and its sweep decays with its own clock."""

    def __init__(self, wall: WallClock = time.time, max_future_ms: int = 86_400_000) -> None:
        self._wall = wall
        self._max_future_ms = max_future_ms
        self._clocks: dict[int, StreamClock] = {}
        self._scanned_at = float("-inf")

    def may_rescan(self, every_s: float) -> bool:
        """True at most once per `every_s` (monotonic): when to look for clocks to resume."""
        now = time.monotonic()
        if now - self._scanned_at < every_s:
            return False
        self._scanned_at = now
        return True

    def __getitem__(self, partition: int) -> StreamClock:
        clock = self._clocks.get(partition)
        if clock is None:
            clock = self._clocks[partition] = StreamClock(self._wall, self._max_future_ms)
        return clock

    @property
    def started(self) -> bool:
        return any(c.started for c in self._clocks.values())

    def now(self) -> int:
        """The worker's view for reports (/health, the stream-time gauge): its latest partition."""
        started = [c.now() for c in self._clocks.values() if c.started]
        return max(started) if started else int(self._wall() * 1000)

    def times(self) -> dict[int, int]:
        """Stream time of every started partition."""
        return {p: c.now() for p, c in sorted(self._clocks.items()) if c.started}
