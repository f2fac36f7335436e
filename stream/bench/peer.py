"""The peer: the same preloaded events through a Quix Streams app, what a user might pick
instead of Sway for "how many distinct people engage with each account".

It does far less than Sway: re-key by target (a repartition topic, as Sway's enrich -> score
hop), then per target remember each distinct engager in RocksDB state (changelogged, as Sway's
tables are) and count them. No validation, no decay, no integrity rules, no score updates out.
`sway bench` runs it in its own process (it needs the dev extra: `quixstreams`).

Prints one JSON line: events, seconds (first event in -> last event counted), CPU seconds.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import orjson


def run(broker: str, topic: str, expected: int, datadir: Path) -> dict[str, Any]:
    from quixstreams import Application, State

    app = Application(
        broker_address=broker,
        consumer_group=f"sway-peer-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        state_dir=str(datadir),
        loglevel="WARNING",
    )
    source = app.topic(topic, value_deserializer="json")
    seen: dict[str, Any] = {"n": 0, "first": None, "cpu": None, "took": 0.0}

    def distinct(event: dict[str, Any], state: State) -> int:
        """Count the target's distinct engagers: one state key per engager, and a total."""
        actor = event.get("actor_id")
        if actor is not None and state.get(actor) is None:
            state.set(actor, 1)
            state.set("\x00n", state.get("\x00n", 0) + 1)
        count: int = state.get("\x00n", 0)
        return count

    def done(_: int) -> None:
        if seen["first"] is None:
            seen["first"], seen["cpu"] = time.monotonic(), time.process_time()
        seen["n"] += 1
        if seen["n"] >= expected:
            seen["took"] = time.monotonic() - seen["first"]
            seen["cpu_s"] = time.process_time() - seen["cpu"]
            app.stop()

    sdf = app.dataframe(source)
    sdf = sdf.group_by(lambda e: str(e.get("target_id", e.get("actor_id", ""))), name="target")
    sdf = sdf.apply(distinct, stateful=True)
    sdf.update(done)
    app.run()
    took = seen["took"] or 1e-9
    return {"engine": "quixstreams", "events": seen["n"], "seconds": took,
            "events_per_s": seen["n"] / took, "cpu_s": seen.get("cpu_s", 0.0)}  # fmt: skip


def main(argv: list[str]) -> None:
    ap = argparse.ArgumentParser(prog="python -m stream.bench.peer")
    ap.add_argument("--broker", required=True, help="host:port")
    ap.add_argument("--topic", required=True)
    ap.add_argument("--expected", type=int, required=True)
    ap.add_argument("--dir", type=Path, required=True)
    a = ap.parse_args(argv)
    a.dir.mkdir(parents=True, exist_ok=True)
    line = run(a.broker, a.topic, a.expected, a.dir)
    os.write(1, orjson.dumps(line) + b"\n")


if __name__ == "__main__":
    main(sys.argv[1:])
