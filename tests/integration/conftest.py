"""Integration fixtures: the real local broker (started once per session), a fresh topic prefix
per run, a real `sway worker` process, and a reader that collects what Sway publishes."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from stream.broker import LocalBroker
from stream.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parents[2]
HIGGS = ROOT.parent / "shared" / "data" / "higgs-activity_time.txt.gz"

pytestmark = pytest.mark.integration


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "integration" in str(item.fspath):
            item.add_marker(pytest.mark.integration)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


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


@dataclass
class WorkerProc:
    """A `sway worker` subprocess and how to reach it."""

    env: dict[str, str]
    port: int
    log: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def settings(self) -> Settings:
        return load_settings(
            topic_prefix=self.env["SWAY_TOPIC_PREFIX"],
            web_port=self.port,
        )

    def start(self) -> None:
        with self.log.open("ab") as out:  # the child keeps its own descriptor
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "stream", "worker"],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=ROOT,
            )

    def get(self, path: str) -> tuple[int, Any]:
        try:
            with urllib.request.urlopen(self.url + path, timeout=5) as r:
                return r.status, orjson.loads(r.read())
        except urllib.error.HTTPError as exc:
            return exc.code, orjson.loads(exc.read() or b"null")

    def healthy(self) -> bool:
        with contextlib.suppress(OSError, ValueError):
            return self.get("/health")[0] == 200
        return False

    def wait_healthy(self, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise AssertionError(f"worker exited {self.proc.returncode}:\n{self.tail()}")
            if self.healthy():
                return
            time.sleep(0.2)
        raise AssertionError(f"worker not healthy after {timeout:.0f}s:\n{self.tail()}")

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM and wait (a clean shutdown commits offsets); SIGKILL only past the deadline."""
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(
                f"worker ignored SIGTERM for {timeout:.0f}s:\n{self.tail()}"
            ) from None

    def tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"


def worker_env(prefix: str, data_dir: Path, port: int, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SWAY_")}
    env.update(
        SWAY_TOPIC_PREFIX=prefix,
        SWAY_WEB_PORT=str(port),
        SWAY_DATA_DIR=str(data_dir),
        SWAY_PARTITIONS="4",
        SWAY_LOG_LEVEL="info",
        PYTHONUNBUFFERED="1",
        **extra,
    )
    return env


@contextlib.contextmanager
def running_worker(
    tmp: Path, name: str, prefix: str | None = None, **env: str
) -> Iterator[WorkerProc]:
    """A worker of a deployment; a new prefix makes a fresh deployment (hence its own stream time)."""
    port = free_port()
    prefix = prefix or f"it{uuid.uuid4().hex[:8]}-"
    w = WorkerProc(worker_env(prefix, tmp, port, **env), port, tmp / f"{name}.log")
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
def worker(
    broker: str, prefix: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WorkerProc]:
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
                await producer.send(
                    topic, value=orjson.dumps(e), key=str(e.get("actor_id", "")).encode()
                )
            )
    await asyncio.gather(*futures)
