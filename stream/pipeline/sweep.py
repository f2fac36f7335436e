"""The decay sweep: find idle accounts whose score has moved, and ask the score stage to emit.

Why a message and not a table write: Faust changelogs (and the RocksDB store) write a key in the
partition of the event being processed, so state may only change inside stream iteration. The
sweep therefore only reads, and sends `{"sweep": now, "user_id": ...}` items, batched per
partition, to `sway-by-target`; the score agent applies them in order with that partition's
events (see score.py). Each partition is swept with its own stream time.
"""

from __future__ import annotations

import faust

from stream.core import stages
from stream.core.state import UserState
from stream.pipeline import batches
from stream.pipeline.runtime import Runtime
from stream.pipeline.score import last_action
from stream.pipeline.topology import owned_partitions, partition_of

#: A scan of the users table for partitions whose clock has not started runs at most this often
#: (the HTTP API calls resume_clock on every request; partitions of other workers never start).
RESCAN_S = 5.0


def resume_clock(rt: Runtime) -> bool:
    """After a restart, resume each partition's stream time from its recovered users, not from
    wall time (which would age a replayed history by years). False while nothing is known."""
    latest: dict[int, int] = {}
    partitions = rt.settings.partitions
    pending = [p for p in range(partitions) if not rt.clocks[p].started]
    if not pending or not rt.clocks.may_rescan(RESCAN_S):
        return rt.clocks.started
    for user_id, state in rt.topology.users.items():
        if isinstance(state, UserState):
            p = partition_of(user_id, partitions)
            if not rt.clocks[p].started and state.as_of > latest.get(p, -1):
                latest[p] = state.as_of
    for p, ts in latest.items():
        rt.clocks[p].seed(ts)
    return rt.clocks.started


def decayed_users(rt: Runtime, active: set[int] | None) -> dict[int, tuple[int, list[str]]]:
    """Per partition (of `active`, or all): its stream time, and its idle users (past grace)
    whose score moved since last emitted."""
    users, params = rt.topology.users, rt.params
    out: dict[int, tuple[int, list[str]]] = {}
    if not resume_clock(rt):
        return out
    partitions = rt.settings.partitions
    for user_id, state in list(users.items()):
        if not isinstance(state, UserState):
            continue
        p = partition_of(user_id, partitions)
        if active is not None and p not in active:
            continue
        clock = rt.clocks[p]
        if not clock.started:
            continue
        now = clock.now()
        if now - state.last_active <= params.grace_ms:
            continue
        seen = last_action(rt, user_id)
        if stages.decay_user(state, now, seen, params, rt.settings.emit_min_delta).emit:
            out.setdefault(p, (now, []))[1].append(user_id)
    return out


def register(app: faust.App, rt: Runtime) -> None:
    by_target = rt.topology.by_target

    @app.timer(interval=rt.settings.decay_sweep_interval, name="sway.sweep", on_leader=False)
    async def sweep() -> None:
        if app.rebalancing or app.in_recovery:
            return
        active = owned_partitions(app, rt.topology)
        found = decayed_users(rt, None if len(active) == rt.settings.partitions else active)
        for partition, (now, moved) in found.items():
            items = ({"sweep": now, "user_id": user_id} for user_id in moved)
            for value in batches.encode(items):
                await by_target.send(value=value, partition=partition)
