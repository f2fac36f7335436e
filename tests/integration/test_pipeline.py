"""An interaction in, a contract-shaped score out, readable over HTTP."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from stream.events.validate import validator
from tests.conftest import eventually
from tests.integration.conftest import Published, WorkerProc, send_events

T0 = 1_767_225_600_000


def uid(name: str) -> str:
    return f"it-{name}-{uuid.uuid4().hex[:6]}"


async def test_an_event_in_gives_a_score_out(
    worker: WorkerProc, published: Published, producer: AIOKafkaProducer
) -> None:
    star, fan = uid("star"), uid("fan")
    topic = worker.settings.topic("interactions")
    await send_events(
        producer,
        topic,
        [
            {
                "event_id": uid("e"),
                "type": "retweet",
                "network": "twitter",
                "actor_id": fan,
                "target_id": star,
                "content_id": "p1",
                "topics": ["coffee"],
                "ts": T0,
            }
        ],
    )
    updates = await eventually(lambda: published.for_user(star), 30, f"a score for {star}")
    update = updates[0]
    assert not list(validator("score").iter_errors(update)), update
    assert update["cause"] == "event"
    assert update["event_ts"] >= T0
    assert 1.0 < update["score"] <= 100.0
    assert update["signals"]["engagers"] > 0
    assert update["networks"].keys() == {"twitter"}

    status, body = worker.get(f"/users/{star}")
    assert status == 200
    assert body["user_id"] == star and body["score"] == update["score"]
    status, body = worker.get(f"/users/{star}/explain")
    assert status == 200 and body["top_engagers"][0]["user_id"] == fan
    assert worker.get(f"/users/{uid('nobody')}")[0] == 404


async def test_more_distinct_engagers_raise_the_score(
    worker: WorkerProc, published: Published, producer: AIOKafkaProducer
) -> None:
    star = uid("popular")
    topic = worker.settings.topic("interactions")
    events = [
        {
            "event_id": uid("e"),
            "type": "like",
            "network": "instagram",
            "actor_id": uid("fan"),
            "target_id": star,
            "ts": T0 + i * 1000,
        }
        for i in range(20)
    ]

    def counted(n: int) -> Callable[[], list[dict]]:
        def settled() -> list[dict]:
            ups = published.for_user(star)
            return ups if ups and ups[-1]["signals"]["engagers"] >= n - 0.1 else []

        return settled

    # in two rounds, so the second cannot share a batch (and its one update) with the first
    await send_events(producer, topic, events[:5])
    first = (await eventually(counted(5), 30, "5 engagers counted"))[-1]["score"]
    await send_events(producer, topic, events[5:])
    ups = await eventually(counted(20), 30, "20 engagers counted")
    scores = [u["score"] for u in ups]
    assert scores == sorted(scores), "each new distinct engager raises the score"
    assert scores[-1] > first


async def test_a_repeated_event_id_changes_nothing(
    worker: WorkerProc, published: Published, producer: AIOKafkaProducer
) -> None:
    star, fan = uid("dup"), uid("fan")
    event = {
        "event_id": uid("e"),
        "type": "share",
        "network": "facebook",
        "actor_id": fan,
        "target_id": star,
        "ts": T0,
    }
    marker = {
        "event_id": uid("e"),
        "type": "like",
        "network": "facebook",
        "actor_id": uid("other"),
        "target_id": star,
        "ts": T0 + 1,
    }
    topic = worker.settings.topic("interactions")
    await send_events(producer, topic, [event, event, event, marker])
    ups = await eventually(
        lambda: [u for u in published.for_user(star) if u["signals"]["engagers"] >= 1.99],
        30,
        "the marker event scored",
    )
    status, body = worker.get(f"/users/{star}/explain")
    assert status == 200
    assert body["events_applied"] == 2, "three deliveries of one event count once"
    assert ups[-1]["signals"]["interactions"] < 3.0 * 1.0 + 1.0 + 0.01


async def test_metrics_are_served_for_prometheus(
    worker: WorkerProc, published: Published, producer: AIOKafkaProducer
) -> None:
    import urllib.request

    star = uid("metered")
    await send_events(
        producer,
        worker.settings.topic("interactions"),
        [
            {
                "event_id": uid("e"),
                "type": "like",
                "network": "twitter",
                "actor_id": uid("fan"),
                "target_id": star,
                "ts": T0,
            }
        ],
    )
    await eventually(lambda: published.for_user(star), 30, "a score")
    with urllib.request.urlopen(worker.url + "/metrics", timeout=5) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain")
        text = response.read().decode()
    valid = [line for line in text.splitlines() if line.startswith("sway_events_valid_total ")]
    assert valid and float(valid[0].split()[1]) >= 1
    assert 'sway_score_updates_total{cause="event"}' in text


async def test_scores_topic_is_compacted(worker: WorkerProc, published: Published) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=worker.settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        resource = ConfigResource(ConfigResourceType.TOPIC, worker.settings.topic("scores"))
        [response] = await admin.describe_configs([resource])
        configs = {c[0]: c[1] for c in response.resources[0][4]}
    finally:
        await admin.close()
    assert configs["cleanup.policy"] == "compact"
