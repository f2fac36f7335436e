"""Integration fixtures: the real local broker (started once per session), a fresh topic prefix
per run, a real `sway worker` process, and a reader that collects what Sway publishes."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from stream.broker import LocalBroker
from stream.local_worker import WorkerProcess, free_port, worker_env
from stream.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parents[2]
HIGGS = ROOT.parent / "shared" / "data" / "higgs-activity_time.txt.gz"

pytestmark = pytest.mark.integration


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "integration" in str(item.fspath):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def broker() -> str:
    """The local broker, started if it is not running (make test starts it beforehand)."""
    settings = load_settings()
    if settings.bootstrap_is_local_default:
        LocalBroker().start()
    return settings.kafka_bootstrap_servers


@pytest.fixture(scope="session")
def prefix() -> str:
    return f"it{uuid.uuid4().hex[:8]}-"


class WorkerProc(WorkerProcess):
    """A `sway worker` subprocess, as the tests use it."""

    @property
    def settings(self) -> Settings:
        return load_settings(topic_prefix=self.env["SWAY_TOPIC_PREFIX"], web_port=self.port)

    def get(self, path: str) -> tuple[int, Any]:
        status, body = self.get_raw(path, timeout=5)
        return status, orjson.loads(body or b"null")

    def wait_healthy(self, timeout: float = 90.0) -> None:
        try:
            super().wait_healthy(timeout)
        except RuntimeError as exc:
            raise AssertionError(str(exc)) from None

    def stop(self, timeout: float = 30.0) -> bool:
        """A worker that ignores SIGTERM is a bug the tests must report."""
        if not super().stop(timeout):
            raise AssertionError(f"worker ignored SIGTERM for {timeout:.0f}s:\n{self.tail()}")
        return True


@contextlib.contextmanager
def running_worker(tmp: Path, name: str, prefix: str | None = None, **env: str) -> Iterator[WorkerProc]:
    """A worker of a deployment; a new prefix makes a fresh deployment (hence its own stream time)."""
    port = free_port()
    prefix = prefix or f"it{uuid.uuid4().hex[:8]}-"
    w = WorkerProc(
        worker_env(prefix, tmp, port, **{"SWAY_LOG_LEVEL": "info", **env}), port, tmp / f"{name}.log"
    )
    w.start()
    try:
        w.wait_healthy()
        yield w
    finally:
        w.stop()
        artifacts = ROOT / "artifacts"
        artifacts.mkdir(exist_ok=True)
        (artifacts / f"worker-{name}.log").write_text(w.tail(3000))


@pytest.fixture(scope="session")
def worker(broker: str, prefix: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[WorkerProc]:
    """One worker for the session; tests use their own user ids so they do not interfere."""
    with running_worker(
        tmp_path_factory.mktemp("worker"), "session", prefix, SWAY_DECAY_SWEEP_INTERVAL="1s"
    ) as w:
        yield w


@dataclass
class Published:
    """Everything a deployment wrote to `scores` and the DLQ, in order."""

    scores: list[dict[str, Any]] = field(default_factory=list)
    tombstones: list[str] = field(default_factory=list)
    dlq: list[dict[str, Any]] = field(default_factory=list)

    def for_user(self, user_id: str) -> list[dict[str, Any]]:
        return [s for s in self.scores if s["user_id"] == user_id]

    def latest(self) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for s in self.scores:
            out[s["user_id"]] = s
        return out


async def _wait_for_topics(
    consumer: AIOKafkaConsumer, topics: list[str], timeout: float
) -> list[TopicPartition]:
    deadline = time.monotonic() + timeout
    while True:
        await consumer._client.force_metadata_update()
        parts = {t: consumer.partitions_for_topic(t) for t in topics}
        if all(parts.values()):
            return [TopicPartition(t, p) for t, ps in parts.items() for p in sorted(ps or ())]
        if time.monotonic() > deadline:
            raise AssertionError(f"topics never appeared: {parts}")
        await asyncio.sleep(0.2)


@contextlib.asynccontextmanager
async def reading(settings: Settings) -> AsyncIterator[Published]:
    """Collect what a deployment publishes, in the background, from the start of its topics."""
    scores_topic, dlq_topic = settings.topic("scores"), settings.topic("interactions.dlq")
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers, enable_auto_commit=False, group_id=None
    )
    await consumer.start()
    tps = await _wait_for_topics(consumer, [scores_topic, dlq_topic], 60)
    consumer.assign(tps)
    await consumer.seek_to_beginning(*tps)
    out = Published()

    async def collect() -> None:
        while True:
            batch = await consumer.getmany(timeout_ms=200)
            for tp, records in batch.items():
                for r in records:
                    if tp.topic == dlq_topic:
                        out.dlq.append(orjson.loads(r.value))
                    elif r.value is None:
                        out.tombstones.append(r.key.decode())
                    else:
                        out.scores.append(orjson.loads(r.value))

    task = asyncio.create_task(collect())
    try:
        yield out
    finally:
        task.cancel()
        # closing a reader must not fail the run: a fetch that timed out on a busy broker is
        # re-raised by stop(); tests that needed the data have already asserted on it
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await consumer.stop()


@pytest.fixture(scope="session")
async def published(worker: WorkerProc) -> AsyncIterator[Published]:
    async with reading(worker.settings) as out:
        yield out


@pytest.fixture(scope="session")
async def producer(worker: WorkerProc) -> AsyncIterator[AIOKafkaProducer]:
    p = AIOKafkaProducer(
        bootstrap_servers=worker.settings.kafka_bootstrap_servers,
        linger_ms=5,
        max_request_size=2 * 1024 * 1024,
    )
    await p.start()
    yield p
    await p.stop()


async def send_events(producer: AIOKafkaProducer, topic: str, events: list[Any]) -> None:
    """Send dicts as JSON (keyed by actor) or raw bytes as they are; wait until acknowledged."""
    futures = []
    for e in events:
        if isinstance(e, bytes):
            futures.append(await producer.send(topic, value=e))
        else:
            futures.append(
                await producer.send(topic, value=orjson.dumps(e), key=str(e.get("actor_id", "")).encode())
            )
    await asyncio.gather(*futures)
