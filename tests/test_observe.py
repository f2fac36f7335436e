"""The stall check behind /health's `processing`: a worker that owes records must move."""

from __future__ import annotations

from stream.pipeline.observe import STALL_SECONDS, Progress


def test_a_worker_that_owes_records_and_moves_none_is_stalled() -> None:
    p = Progress()
    p.observe(processed=100, owed=50, now=1000.0, recovering=False)
    p.observe(processed=100, owed=50, now=1000.0 + STALL_SECONDS / 2, recovering=False)
    assert not p.stalled(1000.0 + STALL_SECONDS / 2)
    p.observe(processed=100, owed=60, now=1000.0 + STALL_SECONDS + 1, recovering=False)
    assert p.stalled(1000.0 + STALL_SECONDS + 1)
    p.observe(processed=101, owed=60, now=1000.0 + STALL_SECONDS + 2, recovering=False)  # it moved
    assert not p.stalled(1000.0 + STALL_SECONDS + 2)


def test_idle_or_recovering_is_not_stalled() -> None:
    p = Progress()
    for t in range(0, 10 * int(STALL_SECONDS), 10):
        p.observe(processed=7, owed=0, now=float(t), recovering=False)  # nothing owed: idle
    assert not p.stalled(10 * STALL_SECONDS)
    q = Progress()
    for t in range(0, 10 * int(STALL_SECONDS), 10):
        q.observe(processed=7, owed=99, now=float(t), recovering=True)  # tables still recovering
    assert not q.stalled(10 * STALL_SECONDS)
    assert not Progress().stalled(1e9)  # never observed
