"""Crash equality: SIGKILL the worker at random points while the event file streams in, restart
it each time, and compare every user's final state with the undisturbed runs."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from tests.reliability.conftest import Baseline
from tests.reliability.harness import (
    FULL,
    RATE,
    Deployment,
    drained,
    final_state,
    kill,
    producing,
    rng,
    send_paced,
    started,
    stopping,
)

KILLS = 6 if FULL else 2


async def test_sigkill_at_random_points_loses_nothing_and_counts_nothing_twice(
    baseline: Baseline, tmp_path: Path
) -> None:
    """At-least-once delivery plus event ids remembered in the changelogged tables: whatever a
    killed worker had done but not committed is delivered again to its successor, which must
    recognise it. Kill points are uniform over the sending time (seeded: SWAY_RELIABILITY_SEED);
    the producer keeps sending while the worker is down, so each restart also works off a
    backlog. Counted quantities must equal the batch reference exactly; scores may differ from
    an undisturbed run by no more than two undisturbed runs differ from each other."""
    random = rng("crash")
    dep = Deployment(tmp_path)
    records = baseline.records
    sending = len(records) / RATE
    kill_at = sorted(random.uniform(0.05, 0.95) * sending for _ in range(KILLS))
    workers = [dep.worker(f"crash-{i}") for i in range(KILLS + 1)]
    restarts: list[float] = []
    with stopping(*workers):
        await started(workers[0])
        async with producing(dep.settings) as producer:
            began = time.monotonic()
            sender = asyncio.create_task(
                send_paced(producer, dep.settings.topic("interactions"), records, RATE)
            )
            for i, at in enumerate(kill_at):
                # the previous restart may have taken longer than the gap to the next kill point:
                # then the kill lands while the successor works off its backlog
                await asyncio.sleep(max(0.5, at - (time.monotonic() - began)))
                kill(workers[i])
                t0 = time.monotonic()
                await started(workers[i + 1])
                restarts.append(time.monotonic() - t0)
            await sender
        await drained(dep.settings, 600)
        survivor = workers[-1]
        assert survivor.proc is not None and survivor.proc.poll() is None, survivor.tail()
        final = await final_state(dep.settings)
    baseline.check(final, f"{KILLS} SIGKILLs")
    print(
        f"kills at {[round(t, 1) for t in kill_at]}s of {sending:.0f}s sending; restart to healthy "
        f"{min(restarts):.1f}-{max(restarts):.1f}s"
    )
    assert len(restarts) == KILLS >= (5 if FULL else 2)
