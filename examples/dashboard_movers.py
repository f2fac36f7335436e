"""Follow Sway's `scores` topic and print the movers: users whose score moved by at least
--min-move points since this dashboard first saw them.

    python examples/dashboard_movers.py --bootstrap localhost:9092 [--prefix higgs-] [--min-move 5]

A dashboard only needs aiokafka and the score update's JSON (schemas/score.schema.json). `scores`
is compacted and keyed by user, so reading it from the beginning gives every user's latest
score first, then every update as it is published; a null value is an erased user.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time

from aiokafka import AIOKafkaConsumer


async def follow(
    bootstrap: str, topic: str, min_move: float, seconds: float, out: object = sys.stdout
) -> int:
    """Print one line per move; returns how many were printed. Runs `seconds` (0: forever)."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    first: dict[str, float] = {}
    moves = 0
    until = time.monotonic() + seconds if seconds else float("inf")
    try:
        while time.monotonic() < until:
            batch = await consumer.getmany(timeout_ms=500)
            for records in batch.values():
                for record in records:
                    user = record.key.decode() if record.key else "?"
                    if record.value is None:  # a tombstone: the user was erased
                        first.pop(user, None)
                        continue
                    update = json.loads(record.value)
                    score = float(update["score"])
                    start = first.setdefault(user, score)
                    if abs(score - start) >= min_move:
                        moves += 1
                        arrow = "up" if score > start else "down"
                        print(
                            f"{user:>12} {arrow:>4} {start:6.2f} -> {score:6.2f}  ({update['cause']})",
                            file=out,
                        )
                        first[user] = score  # report the next move from here
    finally:
        await consumer.stop()
    return moves


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bootstrap", default="localhost:9092")
    ap.add_argument("--prefix", default="", help="SWAY_TOPIC_PREFIX of the deployment")
    ap.add_argument("--min-move", type=float, default=5.0)
    ap.add_argument("--seconds", type=float, default=0.0, help="stop after this long (0: never)")
    args = ap.parse_args()
    asyncio.run(follow(args.bootstrap, f"{args.prefix}scores", args.min_move, args.seconds))


if __name__ == "__main__":
    main()
