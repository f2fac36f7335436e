"""The decay sweep: re-score idle accounts on a timer and emit `cause: decay` when they moved.

Only accounts idle longer than the grace period can have moved, so the rest cost a comparison.
"""

from __future__ import annotations

import faust
from aiokafka.partitioner import murmur2

from stream.core import model
from stream.core.state import UserState
from stream.pipeline.runtime import Runtime
from stream.pipeline.score import emit, with_activity


def partition_of(user_id: str, partitions: int) -> int:
    """The partition the producer's default partitioner picks for this key (Java-compatible)."""
    return (murmur2(user_id.encode()) & 0x7FFFFFFF) % partitions


async def sweep_once(rt: Runtime, active: set[int] | None) -> int:
    """One pass over this worker's users; returns how many decay updates were emitted."""
    users, params = rt.topology.users, rt.params
    if not rt.clock.started:
        latest = max((s.as_of for s in users.values() if s is not None), default=None)
        if latest is None:
            return 0
        rt.clock.seed(latest)  # after a restart: resume from recovered state, not wall time
    now = rt.clock.now()
    rt.metrics.stream_time.set(now / 1000)
    emitted = 0
    for user_id, state in list(users.items()):
        if not isinstance(state, UserState) or now - state.last_active <= params.grace_ms:
            continue
        if active is not None and partition_of(user_id, rt.settings.partitions) not in active:
            continue
        state = with_activity(state, rt)
        result = model.score(state, now, params)
        if abs(result.score - state.emitted) < rt.settings.emit_min_delta:
            continue
        state = model.record(state, result, now, None, params)
        users[user_id] = await emit(rt, state, result, "decay", now)
        emitted += 1
    rt.metrics.users.set(len(users))
    rt.metrics.actors.set(len(rt.topology.actors))
    return emitted


def register(app: faust.App, rt: Runtime) -> None:
    by_target = rt.settings.topic("sway-by-target")

    @app.timer(interval=rt.settings.decay_sweep_interval, name="sway.sweep", on_leader=False)
    async def sweep() -> None:
        if app.rebalancing or app.in_recovery:
            return
        assigned = app.assignor.assigned_actives()
        active = {tp.partition for tp in assigned if tp.topic == by_target}
        await sweep_once(rt, None if len(active) == rt.settings.partitions else active)
