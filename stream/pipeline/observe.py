"""What operators watch: readiness (for /health and `sway_ready`), Faust's own Prometheus sensor,
and the gauges refreshed on a timer (table sizes, consumer lag, stream time)."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import faust
from aiokafka.admin import AIOKafkaAdminClient
from faust.exceptions import ConsumerNotStarted

from stream.kafka import client_options
from stream.pipeline import faust_sensor
from stream.pipeline.runtime import Runtime
from stream.pipeline.sweep import resume_clock
from stream.pipeline.topology import owned_partitions

log = logging.getLogger(__name__)

#: How often gauges and broker reachability are refreshed.
REFRESH_SECONDS = 2.0
#: The loop-lag probe's sleep: often enough to catch a stall, cheap at 20 a second.
LOOP_PROBE_SECONDS = 0.05
#: A broker that has not answered a metadata request for this long is reported unreachable.
BROKER_STALE_SECONDS = 10.0
#: A worker that owes records but has handed none to its agents for this long is stalled.
STALL_SECONDS = 120.0


@dataclass
class Progress:
    """Whether a worker that owes records is still getting through them (a stuck agent, or a
    consumer that stopped fetching, would otherwise look healthy: assigned, recovered, reachable)."""

    processed: int = -1
    moved_at: float = 0.0

    def observe(self, processed: int, owed: int, now: float, recovering: bool) -> None:
        if recovering or owed == 0 or processed != self.processed:
            self.moved_at = now
        self.processed = processed

    def stalled(self, now: float) -> bool:
        return self.moved_at > 0 and now - self.moved_at > STALL_SECONDS


@dataclass
class Readiness:
    """The last time the broker answered, and whether this worker can serve its partitions."""

    broker_ok_at: float = 0.0
    progress: Progress = field(default_factory=Progress)

    def broker_reachable(self) -> bool:
        return time.monotonic() - self.broker_ok_at < BROKER_STALE_SECONDS

    def report(self, app: faust.App, rt: Runtime) -> dict[str, Any]:
        assigned = sorted(owned_partitions(app, rt.topology))
        checks = {
            "broker_reachable": self.broker_reachable(),
            "partitions_assigned": _has_assignment(app),
            "recovery_done": not app.rebalancing and not app.in_recovery,
            "processing": not self.progress.stalled(time.monotonic()),
        }
        return {
            "status": "ok" if all(checks.values()) else "starting",
            "ready": all(checks.values()),
            "checks": checks,
            "partitions": assigned,
            "stream_time": rt.clocks.now() if rt.clocks.started else None,
            "stream_time_by_partition": {str(p): t for p, t in rt.clocks.times().items() if p in assigned},
        }


def _has_assignment(app: faust.App) -> bool:
    """False until the consumer has started and been given partitions (asking earlier raises)."""
    try:
        return bool(app.consumer is not None and app.consumer.assignment())
    except ConsumerNotStarted:
        return False


def _lag(rt: Runtime) -> dict[tuple[str, int], int]:
    """Records behind the end of each assigned input partition (what this worker still owes):
    the internal topics as the hop reader sees them, `interactions` as the edge does."""
    out: dict[tuple[str, int], int] = rt.hops.lag() if rt.hops is not None else {}
    if rt.edge is not None:
        source = rt.topology.interactions.get_topic_name()
        for partition, behind in rt.edge.lag().items():
            out[(source, partition)] = behind
    return out


def register(app: faust.App, rt: Runtime) -> Readiness:
    readiness = Readiness()
    metrics = rt.metrics
    app.monitor = faust_sensor.create(metrics.registry)

    @app.task
    async def watch_broker() -> None:
        """Ask the cluster for its metadata every few seconds: the broker-reachable check."""
        admin = AIOKafkaAdminClient(**client_options(rt.settings), request_timeout_ms=5000)
        started = False
        try:
            while True:
                try:
                    if not started:
                        await asyncio.wait_for(admin.start(), 5)
                        started = True
                    await asyncio.wait_for(admin.describe_cluster(), 5)
                    readiness.broker_ok_at = time.monotonic()
                except Exception:  # noqa: BLE001 - unreachable for now: /health says so; retry
                    pass
                await asyncio.sleep(REFRESH_SECONDS)
        finally:
            if started:
                await admin.close()

    @app.task
    async def watch_loop() -> None:
        """Time a short sleep over and over: what it overshoots by is work that held the loop
        (a request waits as long), which no other series shows."""
        loop = asyncio.get_running_loop()
        while True:
            began = loop.time()
            await asyncio.sleep(LOOP_PROBE_SECONDS)
            metrics.loop_lag.observe(max(0.0, loop.time() - began - LOOP_PROBE_SECONDS))

    @app.timer(interval=REFRESH_SECONDS, name="sway.gauges", on_leader=False)
    async def gauges() -> None:
        try:
            refresh()
        except Exception:  # a gauge must never take a worker down (a crashed timer crashes the app)
            log.exception("refreshing gauges failed; retrying in %.0fs", REFRESH_SECONDS)

    def refresh() -> None:
        topo = rt.topology
        if not (app.rebalancing or app.in_recovery):
            resume_clock(rt)
        metrics.ready.set(1 if readiness.report(app, rt)["ready"] else 0)
        metrics.users.set(len(topo.users))
        metrics.actors.set(len(topo.actors))
        metrics.erased.set(len(topo.erased))
        if rt.clocks.started:
            metrics.stream_time.set(rt.clocks.now() / 1000)
        lag = _lag(rt)
        processed = rt.hops.processed if rt.hops is not None else 0
        processed += sum(rt.edge.position.values()) if rt.edge is not None else 0
        readiness.progress.observe(
            processed, sum(lag.values()), time.monotonic(), app.rebalancing or app.in_recovery
        )
        metrics.lag.clear()  # partitions revoked since the last refresh disappear
        for (topic, partition), behind in lag.items():
            metrics.lag.labels(topic, str(partition)).set(behind)

    return readiness
