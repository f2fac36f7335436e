"""The broker goes away mid-stream and comes back: the worker must say so on /health while it is
gone, reconnect by itself when it returns (no restart), and finish with the state an undisturbed
run has. The broker is this test's own (a temporary data dir on free ports), never the shared one."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient

from stream.broker import LocalBroker
from stream.kafka import client_options
from stream.local_worker import free_port
from stream.settings import PROJECT_ROOT
from tests.conftest import eventually
from tests.reliability.conftest import Baseline
from tests.reliability.harness import (
    RATE,
    Deployment,
    drained,
    final_state,
    health,
    lag,
    producing,
    send_paced,
    started,
    stopping,
)


def test_a_broker_defaults_to_the_project_s_paths() -> None:
    """`sway broker start` keeps its jars and data where it always has; a private broker may live
    elsewhere yet reuse the project's jars."""
    default = LocalBroker()
    libs = default.libs
    assert libs.parent.parent == PROJECT_ROOT / ".cache" / "kafka" and libs.name == "libs"
    assert default.run_dir == PROJECT_ROOT / ".run" / "kafka"
    assert (default.port, default.controller_port) == (9092, 9093)
    private = LocalBroker(root=Path("/tmp/x"), port=1, controller_port=2, cache_root=PROJECT_ROOT)
    assert private.libs == libs
    assert private.run_dir == Path("/tmp/x/.run/kafka")
    assert LocalBroker(root=Path("/tmp/x")).libs == Path("/tmp/x") / libs.relative_to(PROJECT_ROOT)


@pytest.fixture
def private_broker(broker: str, tmp_path: Path) -> Iterator[LocalBroker]:
    """A broker of this test alone (the shared one must never be stopped)."""
    own = LocalBroker(
        root=tmp_path / "kafka", port=free_port(), controller_port=free_port(), cache_root=PROJECT_ROOT
    )
    assert (own.libs / ".complete").exists(), f"no Kafka jars yet: run `sway broker start` ({own.libs})"
    own.start()
    try:
        yield own
    finally:
        own.stop()


async def backlog(dep: Deployment) -> int:
    """Input records the deployment's consumer group has not committed yet."""
    admin = AIOKafkaAdminClient(**client_options(dep.settings))
    consumer = AIOKafkaConsumer(**client_options(dep.settings), enable_auto_commit=False, group_id=None)
    await admin.start()
    await consumer.start()
    try:
        return await lag(dep.settings, admin, consumer)
    finally:
        await consumer.stop()
        await admin.close()


# LocalBroker.start detaches the broker (it outlives `sway broker start`): its Popen object and
# stdout file are dropped while the broker runs, which Python reports when they are collected
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
async def test_the_worker_survives_a_broker_restart_mid_stream(
    baseline: Baseline, private_broker: LocalBroker, tmp_path: Path
) -> None:
    """Half the event file, then the broker stops (the worker has not caught up yet); /health must
    turn 503 with broker_reachable false within the staleness window; the broker starts again on
    the same port and data; the rest of the file is sent; the same worker process must become
    healthy and drain it all, counting exactly what the batch reference counts."""
    dep = Deployment(tmp_path, bootstrap=f"localhost:{private_broker.port}")
    w = dep.worker("broker-restart")
    records = baseline.records
    half = len(records) // 2
    with stopping(w):
        await started(w)
        async with producing(dep.settings) as producer:
            # the first half in a burst, so the broker goes while the worker is still working it
            # off (records read but not committed, table writes not yet flushed)
            await send_paced(producer, dep.settings.topic("interactions"), records[:half], 20 * RATE)
        owed = await backlog(dep)
        t0 = time.monotonic()
        await asyncio.to_thread(private_broker.stop)
        stopped = time.monotonic() - t0

        def down() -> dict[str, Any] | None:
            status, body = health(w)
            checks = body.get("checks", {})
            return body if status == 503 and checks.get("broker_reachable") is False else None

        # BROKER_STALE_SECONDS (10) after the last answer, plus one refresh and one timed-out probe
        seen = await eventually(down, 30, "/health 503 with broker_reachable false")
        unreachable_after = time.monotonic() - t0
        assert w.proc is not None and w.proc.poll() is None, w.tail()
        outage = time.monotonic() - t0
        t1 = time.monotonic()
        await asyncio.to_thread(private_broker.start)
        broker_up = time.monotonic() - t1
        await eventually(lambda: health(w)[0] == 200, 120, "the worker healthy again after the restart")
        recovered = time.monotonic() - t1
        async with producing(dep.settings) as producer:
            await send_paced(producer, dep.settings.topic("interactions"), records[half:], RATE)
        drain = await drained(dep.settings, 180)  # an undisturbed drain takes ~8 s
        caught_up = time.monotonic() - t1
        assert w.proc is not None and w.proc.poll() is None, w.tail()
        final = await final_state(dep.settings)
    print(
        f"\nbroker restart: stopped with {owed} input records not yet committed, in {stopped:.1f}s; "
        f"/health 503 broker_reachable=false "
        f"{unreachable_after:.1f}s after the stop ({seen['checks']}); broker down {outage:.1f}s; "
        f"broker start {broker_up:.1f}s; worker healthy {recovered:.1f}s after the restart began; "
        f"second half sent and drained {caught_up:.1f}s after it ({drain:.1f}s drain wait)"
    )
    baseline.check(final, "broker restarted mid-stream")
