"""The Faust floor: how fast faust-streaming itself moves records on this machine.

`sway bench` compares the pipeline with a bare aiokafka consumer, which no Faust app can match:
Faust adds a task, futures, an ack and sensor calls per message. This probe runs the smallest
possible Faust app on the same preloaded topic, with Sway's producer and buffer settings and none
of Sway's code, so the report can say how much of the gap is Faust's and how much is Sway's.

Modes (each in its own process, started by `sway bench`):

- ``consume``: one agent that counts records and does nothing else;
- ``forward``: one agent that sends every record on to another topic (one hop, as each of
  Sway's three stages does at least once), timed until the producer has flushed;
- ``three-hops``: three agents in a row, each sending every record on to the next topic, as
  Sway's stages did when every interaction was its own record;
- ``three-hops-batched``: the same three agents on a topic whose records each hold a JSON list
  of BATCH events (what Sway's internal topics carry): each agent decodes a record and sends it
  on re-encoded, as edge -> enrich -> score do, without tables, changelogs or any work.

Prints one JSON line: records, events, seconds (first record in -> last record done), CPU
seconds; `events_per_s` counts events (one per record, except in the batched mode).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import faust
import orjson

from stream.pipeline.app import FAUST_TUNING

#: mode -> Kafka hops (records sent on): consume only; forward once; three stages in a row,
#: each forwarding to the next, as Sway's stages (without their tables)
HOPS = {"consume": 0, "forward": 1, "three-hops": 3, "three-hops-batched": 3}
MODES = tuple(HOPS)
#: Events per record in the batched mode (Sway's batches.MAX_ITEMS).
BATCH = 500
#: The one-record-per-event modes run with the poll and buffer sizes that suited Sway when it
#: was one record per event (measured in issue E); Sway's own (FAUST_TUNING) count batch records.
PER_RECORD_TUNING = {**FAUST_TUNING, "stream_buffer_maxsize": 16384, "broker_max_poll_records": 2000}


def build(broker: str, topic: str, partitions: int, expected: int, mode: str, datadir: Path) -> faust.App:
    """A Faust app of bare agents on `topic` that exits the process after `expected` records."""
    app = faust.App(
        f"sway-floor-{uuid.uuid4().hex[:8]}",
        broker=broker,
        store="memory://",
        datadir=str(datadir),
        topic_partitions=partitions,
        topic_replication_factor=1,
        consumer_auto_offset_reset="earliest",
        web_enabled=False,
        autodiscover=False,
        **(FAUST_TUNING if mode.endswith("-batched") else PER_RECORD_TUNING),
    )
    hops = HOPS[mode]
    tag = uuid.uuid4().hex[:6]
    topics = [
        app.topic(topic, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw")
    ]
    topics += [
        app.topic(
            f"{topic}.floor-{tag}-{i}",
            partitions=partitions,
            internal=True,
            key_serializer="raw",
            value_serializer="raw",
        )
        for i in range(1, hops + 1)
    ]
    batched = mode.endswith("-batched")
    state: dict[str, Any] = {"n": 0, "events": 0, "first": None, "cpu": None}

    async def finish() -> None:
        if hops:
            await app.producer.flush()
        took = time.monotonic() - state["first"]
        cpu = time.process_time() - state["cpu"]
        line = {"mode": mode, "hops": hops, "records": state["n"], "events": state["events"],
                "seconds": took, "events_per_s": state["events"] / took, "cpu_s": cpu}  # fmt: skip
        os.write(1, orjson.dumps(line) + b"\n")  # fd 1: the Faust worker redirects sys.stdout to its log
        os._exit(0)  # a probe: no graceful Faust shutdown to wait for

    def stage(i: int) -> None:
        source, sink = topics[i], (topics[i + 1] if i < hops else None)
        last = i == max(0, hops - 1)

        async def floor(stream: faust.StreamT[bytes]) -> None:
            async for event in stream.events():
                if state["first"] is None:
                    state["first"], state["cpu"] = time.monotonic(), time.process_time()
                value = event.value
                events = 1
                if batched:  # what a stage of Sway does at the least with a batch: decode, encode
                    items = orjson.loads(value)
                    events = len(items)
                    value = orjson.dumps(items)
                if sink is not None:
                    await sink.send(key=event.key, value=value)
                if last:
                    state["n"] += 1
                    state["events"] += events
                    if state["events"] >= expected:
                        await finish()

        app.agent(source, name=f"floor-{i}")(floor)

    for i in range(max(1, hops)):
        stage(i)
    if hops:

        @app.task
        async def declare_last() -> None:
            """The last topic is only written: created here, as Sway creates its outputs."""
            await topics[-1].maybe_declare()

    return app


def main(argv: list[str]) -> None:
    ap = argparse.ArgumentParser(prog="python -m stream.bench.floor")
    ap.add_argument("--broker", required=True)
    ap.add_argument("--topic", required=True)
    ap.add_argument("--partitions", type=int, required=True)
    ap.add_argument("--expected", type=int, required=True, help="events (not records) to wait for")
    ap.add_argument("--mode", choices=MODES, required=True)
    ap.add_argument("--dir", type=Path, required=True)
    a = ap.parse_args(argv)
    a.dir.mkdir(parents=True, exist_ok=True)
    app = build(a.broker, a.topic, a.partitions, a.expected, a.mode, a.dir)
    worker = faust.Worker(app, loglevel="WARNING", quiet=True)
    worker.execute_from_commandline()


if __name__ == "__main__":
    main(sys.argv[1:])
