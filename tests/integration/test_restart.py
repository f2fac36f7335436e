"""Idempotence across a restart: deliveries repeated to a restarted worker change nothing."""

from __future__ import annotations

import uuid
from pathlib import Path

from aiokafka import AIOKafkaProducer

from tests.conftest import eventually
from tests.integration.conftest import reading, running_worker, send_events

T0 = 1_767_225_600_000


async def test_a_replay_after_restart_counts_nothing_twice(broker: str, tmp_path: Path) -> None:
    prefix = f"itr{uuid.uuid4().hex[:8]}-"
    events = [
        {
            "event_id": f"r-{i}",
            "type": "retweet",
            "network": "twitter",
            "actor_id": f"fan{i}",
            "target_id": "steady",
            "ts": T0 + i * 1000,
        }
        for i in range(5)
    ]
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    with running_worker(tmp_path / "one", "restart-1", prefix) as first:
        producer = AIOKafkaProducer(bootstrap_servers=first.settings.kafka_bootstrap_servers)
        await producer.start()
        try:
            await send_events(producer, first.settings.topic("interactions"), events)
        finally:
            await producer.stop()
        await eventually(
            lambda: (
                first.get("/users/steady/explain")[1] is not None
                and first.get("/users/steady/explain")[0] == 200
                and first.get("/users/steady/explain")[1]["events_applied"] == 5
            ),
            30,
            "five events applied",
        )
    # a new process of the same deployment: tables come back from the changelogs
    marker = {
        "event_id": "r-new",
        "type": "like",
        "network": "twitter",
        "actor_id": "newcomer",
        "target_id": "steady",
        "ts": T0 + 10_000,
    }
    with running_worker(tmp_path / "two", "restart-2", prefix) as second:
        async with reading(second.settings) as published:
            producer = AIOKafkaProducer(bootstrap_servers=second.settings.kafka_bootstrap_servers)
            await producer.start()
            try:
                await send_events(producer, second.settings.topic("interactions"), [*events, marker])
            finally:
                await producer.stop()
            await eventually(
                lambda: [u for u in published.for_user("steady") if u["signals"]["engagers"] >= 5.99],
                60,
                "the new event scored after the restart",
            )
            status, body = second.get("/users/steady/explain")
    assert status == 200
    assert body["events_applied"] == 6, "the five repeated deliveries were recognised"
    assert abs(body["signals"]["engagers"] - 6.0) < 0.01
