"""The examples in examples/ do what their docstrings say, against the real broker and a worker."""

from __future__ import annotations

import asyncio
import io
import subprocess
import sys
import uuid
from pathlib import Path

import orjson

from tests.conftest import eventually
from tests.integration.conftest import Published, WorkerProc

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
sys.path.insert(0, str(EXAMPLES))

import dashboard_movers  # noqa: E402  (examples/ is not a package: scripts a user copies)
import platform_producer  # noqa: E402

T0 = 1_767_225_600_000


def uid(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:8]}"


def events_for(star: str, fans: int) -> list[dict[str, object]]:
    return [
        {"event_id": uid("ex"), "type": "retweet", "network": "twitter", "actor_id": uid("fan"),
         "target_id": star, "ts": T0 + i * 1000}
        for i in range(fans)
    ]  # fmt: skip


async def test_the_platform_producer_delivers_keyed_events_and_reports_refused_ones(
    worker: WorkerProc, published: Published, tmp_path: Path
) -> None:
    star = uid("platform")
    lines = [orjson.dumps(e).decode() for e in events_for(star, 3)]
    lines.append("not json at all")  # delivered (Sway's DLQ is where it ends)
    file = tmp_path / "events.jsonl"
    file.write_text("\n".join(lines) + "\n")
    run = subprocess.run(
        [sys.executable, str(EXAMPLES / "platform_producer.py"), str(file),
         "--bootstrap", worker.settings.kafka_bootstrap_servers, "--prefix", worker.settings.topic_prefix],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "delivered 4" in run.stdout
    await eventually(
        lambda: (u := published.for_user(star)) and u[-1]["signals"]["engagers"] >= 2.9, 30, "scored"
    )

    # a record the broker refuses (bigger than its 1 MB limit) is reported, with its line
    too_big = orjson.dumps({**events_for(star, 1)[0], "content_id": "x" * 2_000_000}).decode()
    delivered, failed = await platform_producer.publish(
        worker.settings.kafka_bootstrap_servers, worker.settings.topic("interactions"), [lines[0], too_big]
    )
    assert delivered == 1 and [n for n, _ in failed] == [2], failed


async def test_the_dashboard_prints_a_user_whose_score_moves(
    worker: WorkerProc, published: Published
) -> None:
    star = uid("mover")
    out = io.StringIO()
    follower = asyncio.create_task(
        dashboard_movers.follow(
            worker.settings.kafka_bootstrap_servers, worker.settings.topic("scores"), 3.0, 40, out
        )
    )
    first = events_for(star, 1)
    await platform_producer.publish(
        worker.settings.kafka_bootstrap_servers,
        worker.settings.topic("interactions"),
        [orjson.dumps(first[0]).decode()],
    )
    await eventually(lambda: published.for_user(star), 30, "first score")
    more = [orjson.dumps(e).decode() for e in events_for(star, 12)]
    await platform_producer.publish(
        worker.settings.kafka_bootstrap_servers, worker.settings.topic("interactions"), more
    )
    await eventually(lambda: star in out.getvalue(), 35, "the mover printed")
    follower.cancel()
    line = next(row for row in out.getvalue().splitlines() if star in row)
    assert " up " in line, line


def test_the_dlq_alert_example_passes_its_promtool_tests() -> None:
    for args in (["check", "rules", "dlq-growth.rules.yml"], ["test", "rules", "dlq-growth.test.yml"]):
        run = subprocess.run(
            ["promtool", *args], cwd=EXAMPLES / "prometheus", capture_output=True, text=True, check=False
        )
        assert run.returncode == 0, run.stdout + run.stderr
