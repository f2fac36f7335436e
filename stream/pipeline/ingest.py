"""Stage 1, ingest: decode and validate each record; the bad go to the DLQ with a reason, the
good are normalised and re-keyed by actor."""

from __future__ import annotations

from typing import Any

import faust

from stream.codec import dumps
from stream.events.validate import Rejected, validate_event
from stream.pipeline.metrics import reason_kind
from stream.pipeline.runtime import Runtime
from stream.pipeline.topology import partition_of


def dead_letter(reason: str, raw: bytes, message: Any, at_ms: int) -> bytes:
    return dumps(
        {
            "error": reason,
            "raw": raw[: 64 * 1024].decode("utf-8", errors="replace"),
            "topic": message.topic,
            "partition": message.partition,
            "offset": message.offset,
            "at": at_ms,
        }
    )


def register(app: faust.App, rt: Runtime) -> None:
    topo, metrics = rt.topology, rt.metrics
    max_future_ms = int(rt.settings.max_future * 1000)
    partitions = rt.settings.partitions

    @app.agent(topo.interactions, name="sway.ingest")
    async def ingest(stream: faust.StreamT[bytes]) -> None:
        async for event in stream.events():
            metrics.events_in.inc()
            raw = event.value if isinstance(event.value, bytes) else bytes(event.value or b"")
            wall = rt.wall_ms()
            result = validate_event(raw, now_ms=wall, max_future_ms=max_future_ms)
            if isinstance(result, Rejected):
                metrics.events_invalid.labels(reason_kind(result.reason)).inc()
                await topo.dlq.send(value=dead_letter(result.reason, raw, event.message, wall))
                continue
            metrics.events_valid.inc()
            result["in_ms"] = wall  # processing-time start, for the latency histogram
            # the origin and the lane let later stages recognise redeliveries (core/redelivery.py)
            key = result["actor_id"].encode()
            lane = partition_of(result["actor_id"], partitions)  # what the default partitioner picks
            result["src"] = [event.message.partition, event.message.offset]
            result["lane"] = lane
            await topo.by_actor.send(key=key, partition=lane, value=dumps(result))
