"""A platform publishing interactions to Sway: keyed by actor, every delivery checked.

    python examples/platform_producer.py --bootstrap localhost:9092 [--prefix demo-] events.jsonl

Each line of the file is one interaction in the contract's shape (schemas/interaction.schema.json).
Records are keyed by `actor_id` (so one actor's events stay in order on one partition),
acknowledged by all in-sync replicas, and sent by an idempotent producer (a retry cannot
duplicate or reorder them). A record the broker refuses is reported with its line number and
the error, and the program exits non-zero, so a platform never loses an event silently. Sway
itself validates every record: a malformed one goes to `interactions.dlq` with a reason.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError


async def publish(bootstrap: str, topic: str, lines: list[str]) -> tuple[int, list[tuple[int, str]]]:
    """Send every line; returns (delivered, [(line number, error)])."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        enable_idempotence=True,
        linger_ms=10,
        request_timeout_ms=15_000,
    )
    await producer.start()
    pending: list[tuple[int, asyncio.Future]] = []
    failed: list[tuple[int, str]] = []
    try:
        for n, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                key = str(json.loads(line).get("actor_id", "")).encode() or None
            except (ValueError, AttributeError):
                key = None  # not JSON: sent as it is; Sway puts it in the DLQ with the reason
            try:
                pending.append((n, await producer.send(topic, value=line.strip().encode(), key=key)))
            except KafkaError as exc:  # refused before it left (e.g. too large)
                failed.append((n, repr(exc)))
        delivered = 0
        for n, delivery in pending:
            try:
                await delivery
                delivered += 1
            except KafkaError as exc:  # refused by the broker, or timed out
                failed.append((n, repr(exc)))
    finally:
        await producer.stop()
    return delivered, sorted(failed)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("file", type=Path)
    ap.add_argument("--bootstrap", default="localhost:9092")
    ap.add_argument("--prefix", default="", help="SWAY_TOPIC_PREFIX of the deployment")
    args = ap.parse_args()
    delivered, failed = asyncio.run(
        publish(args.bootstrap, f"{args.prefix}interactions", args.file.read_text().splitlines())
    )
    print(f"delivered {delivered}")  # noqa: T201 - a command-line tool
    for n, error in failed:
        print(f"line {n}: not delivered: {error}", file=sys.stderr)  # noqa: T201
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
