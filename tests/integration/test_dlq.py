"""Bad input never crashes the worker and never vanishes: each record lands in the DLQ with a reason."""

from __future__ import annotations

import uuid

import orjson
from aiokafka import AIOKafkaProducer

from tests.conftest import eventually
from tests.integration.conftest import Published, WorkerProc, send_events


def invalid_records(tag: str) -> list[bytes]:
    """100 records, each broken in its own way, each carrying a findable tag."""
    good = {
        "event_id": "x",
        "type": "like",
        "network": "twitter",
        "actor_id": "a",
        "target_id": "b",
        "ts": 1_767_225_600_000,
    }
    variants: list[bytes] = []
    i = 0

    def tagged(kind: str) -> str:
        nonlocal i
        i += 1
        return f"{tag}-{i:03d}-{kind}"

    for field in ("event_id", "type", "network", "actor_id", "target_id", "ts"):
        carrier = "actor_id" if field == "event_id" else "event_id"  # the tag rides elsewhere
        bad = dict(good, **{carrier: tagged(f"missing-{field}")})
        bad.pop(field)
        variants.append(orjson.dumps(bad))
    wrong_types = [
        ("type", "teleport"),
        ("type", 7),
        ("network", "Twitter"),
        ("network", ""),
        ("actor_id", 12),
        ("actor_id", ""),
        ("target_id", None),
        ("ts", "yesterday"),
        ("ts", -5),
        ("ts", 1.5),
        ("ts", "2026-13-40T00:00:00Z"),
        ("sentiment", 2),
        ("sentiment", "happy"),
        ("topics", "coffee"),
        ("topics", [1, 2]),
        ("content_id", 5),
        ("ts", 99_999_999_999_999),
    ]
    for name, value in wrong_types:
        variants.append(
            orjson.dumps(dict(good, **{"event_id": tagged(f"bad-{name}"), name: value}))
        )
    while len(variants) < 100:
        k = len(variants) % 8
        t = tagged(f"shape{k}")
        variants.append(
            [
                f'{{"event_id": "{t}", "type": "like"'.encode(),  # truncated JSON
                f'["{t}", 1, 2]'.encode(),  # not an object
                b"\xff\xfe" + t.encode(),  # not UTF-8
                orjson.dumps(dict(good, event_id=t, pad="x" * 70_000)),  # over 64 KiB
                (f'{{"event_id": "{t}", "nest": ' + "[" * 3000 + "]" * 3000 + "}").encode(),
                f"{t} plain text".encode(),
                orjson.dumps(dict(good, event_id=t, type="post", ts="not a time")),
                f'{{"event_id": "{t}", "type": "like", "ts": 1e999}}'.encode(),
            ][k]
        )
    assert len(variants) == 100
    return variants


async def test_hundred_invalid_records_land_in_the_dlq(
    worker: WorkerProc, published: Published, producer: AIOKafkaProducer
) -> None:
    tag = f"bad{uuid.uuid4().hex[:6]}"
    await send_events(producer, worker.settings.topic("interactions"), invalid_records(tag))

    def ours() -> list[dict]:
        return [d for d in published.dlq if tag in d["raw"]]

    await eventually(lambda: len(ours()) >= 100, 60, "100 dead letters")
    letters = ours()
    assert len(letters) == 100, "each bad record exactly once"
    numbers = sorted(d["raw"].split(tag, 1)[1][1:4] for d in letters)
    assert numbers == [f"{n:03d}" for n in range(1, 101)]
    for d in letters:
        assert d["error"] and len(d["error"]) > 5, d
        assert d["topic"] == worker.settings.topic("interactions")
        assert isinstance(d["partition"], int) and isinstance(d["offset"], int) and d["at"] > 0
    oversize = [d for d in letters if "too large" in d["error"]]
    assert oversize and all(len(d["raw"]) <= 64 * 1024 for d in oversize)
    assert any("type" in d["error"] for d in letters if "bad-type" in d["raw"])

    assert worker.proc is not None and worker.proc.poll() is None, "the worker is still running"
    assert worker.healthy()
    star = f"after-{tag}"
    await send_events(
        producer,
        worker.settings.topic("interactions"),
        [
            {
                "event_id": f"{tag}-ok",
                "type": "like",
                "network": "twitter",
                "actor_id": "fan-" + tag,
                "target_id": star,
                "ts": 1_767_225_600_000,
            }
        ],
    )
    await eventually(lambda: published.for_user(star), 30, "a score after the bad records")
