"""Failover: two workers of one deployment share the partitions while the event file streams in;
one is SIGKILLed; the survivor must take over every partition, rebuild the tables from the
changelogs, say it is not ready while it does, and end with the state an undisturbed run has."""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.conftest import eventually
from tests.integration.conftest import WorkerProc
from tests.reliability.conftest import Baseline
from tests.reliability.harness import (
    GROUP_ENV,
    RATE,
    Deployment,
    drained,
    final_state,
    health,
    kill,
    producing,
    rng,
    send_paced,
    started,
    stopping,
)

#: SWAY_PARTITIONS in worker_env: the partitions /health lists (those of the by-target stage).
ALL = [0, 1, 2, 3]


@dataclass
class HealthLog:
    """/health of one worker polled every `every` seconds in a thread, from `began` on."""

    worker: WorkerProc
    every: float = 0.05
    began: float = field(default_factory=time.monotonic)
    samples: list[tuple[float, int, list[int]]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        while not self._stop.is_set():
            status, body = health(self.worker)
            self.samples.append((time.monotonic() - self.began, status, list(body.get("partitions", []))))
            self._stop.wait(self.every)

    def stop(self) -> None:
        self._stop.set()

    def first(self, status: int, partitions: list[int] | None = None) -> float | None:
        for t, s, p in self.samples:
            if s == status and (partitions is None or p == partitions):
                return t
        return None


async def test_a_killed_worker_s_partitions_are_taken_over_and_nothing_is_lost(
    baseline: Baseline, tmp_path: Path
) -> None:
    """Both workers hold partitions; one is SIGKILLed mid-stream (it never leaves the group, so the
    group notices only after the session timeout); the survivor must end up holding all four,
    answer 503 while it rebalances and recovers, then be healthy again; counted quantities equal
    the batch reference and scores stay within the undisturbed spread."""
    random = rng("rebalance")
    dep = Deployment(tmp_path)
    workers = [dep.worker("rebalance-a"), dep.worker("rebalance-b")]
    with stopping(*workers):
        await asyncio.gather(*(started(w) for w in workers))

        def shared() -> bool:
            parts = [health(w)[1].get("partitions", []) for w in workers]
            return all(parts) and sorted(parts[0] + parts[1]) == ALL

        await eventually(lambda: shared(), 90, "both workers holding partitions, all four between them")
        victim_index = random.randrange(2)
        victim, survivor = workers[victim_index], workers[1 - victim_index]
        sending = len(baseline.records) / RATE
        kill_after = random.uniform(0.3, 0.6) * sending
        async with producing(dep.settings) as producer:
            sender = asyncio.create_task(
                send_paced(producer, dep.settings.topic("interactions"), baseline.records, RATE)
            )
            await asyncio.sleep(kill_after)  # a kill point on the sending timeline, not a wait
            _, before = health(survivor)
            kill(victim)
            watch = HealthLog(survivor)
            poller = threading.Thread(target=watch.run, daemon=True)
            poller.start()
            try:
                await eventually(
                    lambda: watch.first(200, ALL) is not None,
                    120,
                    "the survivor healthy with all partitions",
                )
            finally:
                watch.stop()
                await asyncio.to_thread(poller.join, 10)
            await sender
            sent_at = time.monotonic() - watch.began
        drain = await drained(dep.settings, 180)  # an undisturbed drain takes ~8 s
        drained_at = time.monotonic() - watch.began
        assert survivor.proc is not None and survivor.proc.poll() is None, survivor.tail()
        final = await final_state(dep.settings)
    took_over = watch.first(200, ALL)
    not_ready = watch.first(503)
    statuses = sorted({s for _, s, _ in watch.samples})
    print(
        f"\nfailover: killed worker {'ab'[victim_index]} {kill_after:.1f}s into {sending:.0f}s of "
        f"sending; survivor held {before.get('partitions')} before; first 503 at "
        f"{not_ready if not_ready is None else round(not_ready, 2)}s; healthy with all partitions "
        f"{took_over:.2f}s after the kill (session timeout {GROUP_ENV['BROKER_SESSION_TIMEOUT']}s); "
        f"last event sent {sent_at:.1f}s, drained {drained_at:.1f}s after the kill ({drain:.1f}s "
        f"wait incl. 2s quiet); {len(watch.samples)} /health samples, statuses {statuses}"
    )
    assert before.get("partitions") and before["partitions"] != ALL, before
    # the takeover is a rebalance plus changelog recovery of the victim's tables: /health must not
    # claim readiness for partitions whose state is still being rebuilt
    assert not_ready is not None, f"/health never answered 503 during the takeover: {statuses}"
    assert took_over is not None and not_ready < took_over
    baseline.check(final, "one of two workers SIGKILLed")
