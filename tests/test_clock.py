"""Stream time: follows event time, moves with the wall clock only while the stream is idle."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from stream.clock import PartitionClocks, StreamClock

WALL0 = 1_800_000_000.0  # seconds
DAY_MS = 86_400_000


class FakeWall:
    def __init__(self, t: float = WALL0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


def make(max_future_ms: int = DAY_MS) -> tuple[StreamClock, FakeWall]:
    wall = FakeWall()
    return StreamClock(wall, max_future_ms=max_future_ms), wall


def test_before_any_event_stream_time_is_wall_time() -> None:
    clock, wall = make()
    assert not clock.started
    assert clock.now() == int(WALL0 * 1000)
    wall.advance(2.5)
    assert clock.now() == int(WALL0 * 1000) + 2500


def test_follows_the_latest_event_time_even_in_the_past() -> None:
    clock, _wall = make()
    replayed = 1_341_100_972_000  # July 2012
    assert clock.observe(replayed) == replayed
    assert clock.started
    assert clock.observe(replayed + 5000) == replayed + 5000
    assert clock.now() == replayed + 5000


def test_advances_with_wall_time_while_idle() -> None:
    clock, wall = make()
    clock.observe(1_000_000)
    wall.advance(60)
    assert clock.now() == 1_060_000
    wall.advance(0.25)
    assert clock.now() == 1_060_250


def test_old_event_never_moves_it_backwards() -> None:
    clock, wall = make()
    clock.observe(5_000_000)
    assert clock.observe(1_000_000) == 5_000_000
    wall.advance(10)
    assert clock.observe(5_001_000) == 5_010_000  # idle advance beats a slightly newer event
    assert clock.now() == 5_010_000
    assert clock.observe(5_020_000) == 5_020_000


def test_event_far_in_the_future_is_ignored() -> None:
    clock, _wall = make(max_future_ms=60_000)
    now_ms = int(WALL0 * 1000)
    clock.observe(now_ms - 1000)
    assert clock.is_too_far_in_future(now_ms + 60_001)
    assert not clock.is_too_far_in_future(now_ms + 60_000)
    assert clock.observe(now_ms + 10 * DAY_MS) == now_ms - 1000
    assert clock.observe(now_ms + 30_000) == now_ms + 30_000  # within max_future: accepted


def test_future_event_as_first_event_does_not_start_the_clock() -> None:
    clock, _wall = make()
    bogus = int(WALL0 * 1000) + 365 * DAY_MS
    assert clock.observe(bogus) == int(WALL0 * 1000)
    assert not clock.started


def test_seed_applies_only_before_the_first_event() -> None:
    clock, wall = make()
    clock.seed(2_000_000)
    assert clock.started
    assert clock.now() == 2_000_000
    wall.advance(1)
    assert clock.now() == 2_001_000
    clock.seed(9_000_000)  # a second seed is ignored
    assert clock.now() == 2_001_000
    assert clock.observe(1_500_000) == 2_001_000

    other, _ = make()
    other.observe(3_000_000)
    other.seed(7_000_000)
    assert other.now() == 3_000_000


@settings(max_examples=100, deadline=None, database=None)
@given(st.lists(st.tuples(st.floats(0, 3600), st.integers(0, 4_000_000_000_000)), max_size=30))
def test_stream_time_never_goes_backwards(steps: list[tuple[float, int]]) -> None:
    """Once started (the first event may be far in the past: a replay), time only moves forward,
    and is never behind any event it accepted."""
    clock, wall = make()
    previous: int | None = None
    latest_ok: int | None = None
    for idle, event_ms in steps:
        wall.advance(idle)
        if previous is not None:
            assert clock.now() >= previous
        now = clock.observe(event_ms)
        assert now == clock.now()
        if previous is not None:
            assert now >= previous
        if not clock.is_too_far_in_future(event_ms):
            latest_ok = event_ms if latest_ok is None else max(latest_ok, event_ms)
        if latest_ok is not None:
            assert now >= latest_ok
        if clock.started:
            previous = now


def test_wall_clock_stepping_back_does_not_move_stream_time_back() -> None:
    """Idle time is read from a monotonic clock, so an NTP step of the wall clock is harmless."""
    wall, mono = FakeWall(), FakeWall(0.0)
    clock = StreamClock(wall, max_future_ms=DAY_MS, monotonic=mono)
    clock.observe(1_000_000)
    wall.advance(10)
    mono.advance(10)
    assert clock.now() == 1_010_000
    wall.advance(-5)  # NTP steps the wall clock back; monotonic time keeps going
    mono.advance(1)
    assert clock.now() == 1_011_000


def test_each_partition_keeps_its_own_stream_time() -> None:
    """A lagging partition scores its events at their own time, not at the worker's latest."""
    wall = FakeWall()
    clocks = PartitionClocks(wall, max_future_ms=DAY_MS)
    replayed = 1_341_100_972_000
    assert not clocks.started
    clocks[0].observe(replayed + 40 * DAY_MS)
    clocks[1].observe(replayed)
    assert clocks[1].now() == replayed  # not 40 days ahead with partition 0
    assert clocks.now() == replayed + 40 * DAY_MS  # the worker's view: its latest partition
    assert clocks.times() == {0: replayed + 40 * DAY_MS, 1: replayed}
    wall.advance(1.0)  # both idle: both move with the wall
    assert clocks[1].now() == replayed + 1000
