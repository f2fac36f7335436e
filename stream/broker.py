"""A local single-node Apache Kafka (KRaft) that the project fetches from Maven Central and runs.

Why by hand and not Docker: CI machines have Java and Maven but no container engine, and tests
must talk to a real broker. Everything lives under git-ignored folders of the project:
`.cache/kafka/<version>/libs` (jars) and `.run/kafka/` (data, logs, pid).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from stream.settings import PROJECT_ROOT

POM = PROJECT_ROOT / "deploy" / "kafka" / "pom.xml"
HEAP = os.environ.get("SWAY_BROKER_HEAP", "512m")


class BrokerError(RuntimeError):
    """The local broker could not be fetched, formatted, started or stopped."""


def kafka_version() -> str:
    text = POM.read_text()
    start = text.index("<kafka.version>") + len("<kafka.version>")
    return text[start : text.index("</kafka.version>")]


@dataclass(frozen=True)
class LocalBroker:
    """Paths and ports of the broker on this machine."""

    root: Path = PROJECT_ROOT
    port: int = 9092
    controller_port: int = 9093
    #: Where `.cache/kafka/<version>/libs` lives; None: under `root`. A private broker (a test's
    #: own, in a temporary root) reuses the jars already fetched into the project.
    cache_root: Path | None = None

    @property
    def libs(self) -> Path:
        base = self.root if self.cache_root is None else self.cache_root
        return base / ".cache" / "kafka" / kafka_version() / "libs"

    @property
    def run_dir(self) -> Path:
        return self.root / ".run" / "kafka"

    @property
    def pid_file(self) -> Path:
        return self.run_dir / "kafka.pid"

    @property
    def log_file(self) -> Path:
        return self.run_dir / "logs" / "server.log"

    def fetch(self) -> None:
        """Download kafka_2.13 and its runtime dependencies once (Maven caches in ~/.m2 too)."""
        marker = self.libs / ".complete"
        if marker.exists():
            return
        if shutil.which("mvn") is None:
            raise BrokerError("Maven (mvn) is needed to fetch Kafka from Maven Central")
        if shutil.which("java") is None:
            raise BrokerError("Java 17+ is needed to run Kafka")
        self.libs.mkdir(parents=True, exist_ok=True)
        cmd = [
            "mvn",
            "-q",
            "-B",
            "-f",
            str(POM),
            "dependency:copy-dependencies",
            f"-DoutputDirectory={self.libs}",
            "-DincludeScope=runtime",
        ]
        result = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise BrokerError(f"fetching Kafka failed:\n{result.stdout}\n{result.stderr}")
        marker.write_text(kafka_version())

    def _write_config(self) -> Path:
        data = self.run_dir / "data"
        logs = self.run_dir / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        props = self.run_dir / "server.properties"
        props.write_text(
            "\n".join(
                [
                    "process.roles=broker,controller",
                    "node.id=1",
                    f"controller.quorum.bootstrap.servers=localhost:{self.controller_port}",
                    f"listeners=PLAINTEXT://localhost:{self.port},"
                    f"CONTROLLER://localhost:{self.controller_port}",
                    f"advertised.listeners=PLAINTEXT://localhost:{self.port}",
                    "controller.listener.names=CONTROLLER",
                    "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
                    "inter.broker.listener.name=PLAINTEXT",
                    f"log.dirs={data}",
                    "num.partitions=8",
                    "num.network.threads=2",
                    "num.io.threads=2",
                    "background.threads=2",
                    "offsets.topic.replication.factor=1",
                    "offsets.topic.num.partitions=8",
                    "transaction.state.log.replication.factor=1",
                    "transaction.state.log.min.isr=1",
                    "share.coordinator.state.topic.replication.factor=1",
                    "share.coordinator.state.topic.min.isr=1",
                    "group.initial.rebalance.delay.ms=0",
                    "auto.create.topics.enable=true",
                    "log.retention.hours=168",
                    "log.segment.bytes=67108864",
                    "log.cleaner.threads=1",
                    "message.max.bytes=1048588",
                    "",
                ]
            )
        )
        log4j = self.run_dir / "log4j2.properties"
        log4j.write_text(
            "\n".join(
                [
                    "status = warn",
                    "appender.file.type = RollingFile",
                    "appender.file.name = FILE",
                    f"appender.file.fileName = {self.log_file}",
                    f"appender.file.filePattern = {logs}/server.log.%i",
                    "appender.file.layout.type = PatternLayout",
                    "appender.file.layout.pattern = [%d] %p %m (%c)%n",
                    "appender.file.policies.type = Policies",
                    "appender.file.policies.size.type = SizeBasedTriggeringPolicy",
                    "appender.file.policies.size.size = 20MB",
                    "appender.file.strategy.type = DefaultRolloverStrategy",
                    "appender.file.strategy.max = 3",
                    "rootLogger.level = INFO",
                    "rootLogger.appenderRef.file.ref = FILE",
                    "logger.state.name = state.change.logger",
                    "logger.state.level = WARN",
                    "",
                ]
            )
        )
        return props

    def _java(self, *args: str, heap: bool = False) -> list[str]:
        opts = (
            ["-Xms256m", f"-Xmx{HEAP}", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1"]
            if heap
            else []
        )
        return [
            "java",
            *opts,
            f"-Dlog4j2.configurationFile={self.run_dir / 'log4j2.properties'}",
            "-cp",
            f"{self.libs}/*",
            *args,
        ]

    def _format(self, props: Path) -> None:
        if (self.run_dir / "data" / "meta.properties").exists():
            return
        cluster_id = uuid.uuid4().hex[:22]
        result = subprocess.run(
            self._java(
                "kafka.tools.StorageTool",
                "format",
                "--standalone",
                "-t",
                cluster_id,
                "-c",
                str(props),
            ),
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise BrokerError(f"formatting KRaft storage failed:\n{result.stderr}")

    def pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        return pid

    def accepts_connections(self) -> bool:
        try:
            with socket.create_connection(("localhost", self.port), timeout=0.5):
                return True
        except OSError:
            return False

    def start(self, timeout: float = 90.0) -> str:
        """Idempotent: returns 'already running' when a broker answers, else starts one."""
        if self.pid() is not None and self.accepts_connections():
            return "already running"
        if self.accepts_connections():
            return "already running (not managed by sway)"
        self.fetch()
        props = self._write_config()
        self._format(props)
        began = time.monotonic()
        log_offset = self.log_file.stat().st_size if self.log_file.exists() else 0
        out = (self.run_dir / "logs" / "stdout.log").open("ab")
        proc = subprocess.Popen(
            self._java("kafka.Kafka", str(props), heap=True),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # survives the shell; never holds the caller's pipes
        )
        self.pid_file.write_text(str(proc.pid))
        deadline = began + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise BrokerError(f"Kafka exited with {proc.returncode}; see {self.log_file}")
            if self.accepts_connections() and self._started_since(log_offset):
                return f"started in {time.monotonic() - began:.1f}s"
            time.sleep(0.2)
        raise BrokerError(
            f"Kafka did not accept connections within {timeout:.0f}s; see {self.log_file}"
        )

    def _started_since(self, offset: int) -> bool:
        """The port opens before the broker finishes starting; its log line says when it has."""
        try:
            with self.log_file.open("rb") as f:
                f.seek(offset)
                return b"Kafka Server started" in f.read()
        except FileNotFoundError:
            return False

    def stop(self, timeout: float = 30.0) -> str:
        pid = self.pid()
        if pid is None:
            return "not running"
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.pid() is None or _is_zombie(pid):
                self.pid_file.unlink(missing_ok=True)
                return "stopped"
            time.sleep(0.2)
        os.kill(pid, signal.SIGKILL)
        self.pid_file.unlink(missing_ok=True)
        return "killed after timeout"

    def status(self) -> str:
        pid = self.pid()
        if pid is None:
            return "running (not managed by sway)" if self.accepts_connections() else "stopped"
        state = "ready" if self.accepts_connections() else "starting"
        return f"running pid={pid} port={self.port} kafka={kafka_version()} ({state})"


def _is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] == "Z"
    except OSError:
        return True
