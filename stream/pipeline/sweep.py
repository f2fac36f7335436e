"""The decay sweep: find idle accounts whose score has moved, and ask the score stage to emit.

Why a message and not a table write: Faust changelogs (and the RocksDB store) write a key in the
partition of the event being processed, so state may only change inside stream iteration. The
sweep therefore only reads, and sends `{"sweep": now}` keyed by the user to `sway-by-target`;
the score agent applies it in order with that user's events (see score.py).
"""

from __future__ import annotations

import faust

from stream.codec import dumps
from stream.core import stages
from stream.core.state import UserState
from stream.pipeline.runtime import Runtime
from stream.pipeline.score import last_action
from stream.pipeline.topology import owned_partitions, partition_of


def resume_clock(rt: Runtime) -> bool:
    """After a restart, resume stream time from the recovered state, not from wall time (which
    would age a replayed history by years). False while there is nothing to resume from."""
    if rt.clock.started:
        return True
    latest = max((s.as_of for s in rt.topology.users.values() if s is not None), default=None)
    if latest is None:
        return False
    rt.clock.seed(latest)
    return True


def decayed_users(rt: Runtime, active: set[int] | None) -> tuple[int, list[str]]:
    """Stream time now, and the idle users (past grace) whose score moved since last emitted."""
    users, params = rt.topology.users, rt.params
    if not resume_clock(rt):
        return 0, []
    now = rt.clock.now()
    moved: list[str] = []
    for user_id, state in list(users.items()):
        if not isinstance(state, UserState) or now - state.last_active <= params.grace_ms:
            continue
        if active is not None and partition_of(user_id, rt.settings.partitions) not in active:
            continue
        seen = last_action(rt, user_id)
        if stages.decay_user(state, now, seen, params, rt.settings.emit_min_delta).emit:
            moved.append(user_id)
    return now, moved


def register(app: faust.App, rt: Runtime) -> None:
    by_target = rt.topology.by_target

    @app.timer(interval=rt.settings.decay_sweep_interval, name="sway.sweep", on_leader=False)
    async def sweep() -> None:
        if app.rebalancing or app.in_recovery:
            return
        active = owned_partitions(app, rt.topology)
        now, moved = decayed_users(rt, None if len(active) == rt.settings.partitions else active)
        for user_id in moved:
            await by_target.send(
                key=user_id.encode(), value=dumps({"sweep": now, "user_id": user_id})
            )
