"""A real Prometheus (Debian's `prometheus` binary, `make system-deps`) scraping a real worker:
what an operator's Prometheus sees, with Sway's alert rules from deploy/ loaded and evaluated."""

from __future__ import annotations

import json
import shutil
import subprocess
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from stream.local_worker import free_port
from tests.conftest import eventually
from tests.integration.conftest import ROOT, WorkerProc, send_events

RULES = ROOT / "deploy" / "prometheus" / "rules.yml"
T0 = 1_767_225_600_000


class Prometheus:
    """One Prometheus server on a free port, its data in a temporary directory."""

    def __init__(self, tmp: Path, target: str) -> None:
        exe = shutil.which("prometheus")
        if exe is None:
            pytest.fail("prometheus not found: run `make system-deps` (Debian package prometheus)")
        self.port = free_port()
        self.log = tmp / "prometheus.log"
        config = tmp / "prometheus.yml"
        # JSON is YAML: no YAML writer needed for a config this small
        config.write_text(
            json.dumps(
                {
                    "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                    "rule_files": [str(RULES)],
                    "scrape_configs": [
                        {
                            "job_name": "sway",
                            "scrape_timeout": "1s",
                            "static_configs": [{"targets": [target]}],
                        }
                    ],
                }
            )
        )
        self.argv = [
            exe,
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            "--log.level=warn",
        ]
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(self.argv, stdout=out, stderr=subprocess.STDOUT)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def api(self, path: str, **params: str) -> Any:
        """GET /api/v1/<path>; None while the server is not answering."""
        if self.proc is not None and self.proc.poll() is not None:
            raise AssertionError(f"prometheus exited {self.proc.returncode}:\n{self.log.read_text()[-3000:]}")
        url = f"http://127.0.0.1:{self.port}/api/v1/{path}?{urllib.parse.urlencode(params)}"
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                body = json.loads(r.read())
        except (urllib.error.URLError, ConnectionError):
            return None
        assert body["status"] == "success", body
        return body["data"]

    def value(self, query: str) -> float | None:
        """The single value of an instant query, or None when it has no result yet."""
        data = self.api("query", query=query)
        if not data or not data["result"]:
            return None
        (sample,) = data["result"]
        return float(sample["value"][1])


@pytest.fixture
def prometheus(worker: WorkerProc, tmp_path: Path) -> Iterator[Prometheus]:
    server = Prometheus(tmp_path, f"127.0.0.1:{worker.port}")
    server.start()
    try:
        yield server
    finally:
        server.stop()


def worker_counter(worker: WorkerProc, name: str) -> float:
    """A counter as the worker itself serves it on /metrics (0 before its first increment)."""
    status, body = worker.get_raw("/metrics")
    assert status == 200
    for line in body.decode().splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return 0.0


async def test_prometheus_scrapes_valid_events_and_evaluates_the_alert_rules(
    worker: WorkerProc, producer: AIOKafkaProducer, prometheus: Prometheus
) -> None:
    up = await eventually(
        lambda: prometheus.value('up{job="sway"}') is not None, 60, "Prometheus' first scrape of the worker"
    )
    assert up and prometheus.value('up{job="sway"}') == 1.0, "Prometheus can scrape the worker's /metrics"

    n = 5
    before = worker_counter(worker, "sway_events_valid_total")
    tag = uuid.uuid4().hex[:6]
    await send_events(
        producer,
        worker.settings.topic("interactions"),
        [
            {
                "event_id": f"prom-{tag}-{i}",
                "type": "like",
                "network": "twitter",
                "actor_id": f"prom-fan-{tag}-{i}",
                "target_id": f"prom-star-{tag}",
                "content_id": "p1",
                "ts": T0 + i,
            }
            for i in range(n)
        ],
    )

    def scraped_valid() -> float | None:
        value = prometheus.value('sway_events_valid_total{job="sway"}')
        return value if value is not None and value >= before + n else None

    valid = await eventually(scraped_valid, 60, f"Prometheus to see {before + n:.0f} valid events")
    assert valid >= before + n
    assert prometheus.value('up{job="sway"}') == 1.0

    # Sway's alert rules loaded and evaluated without error against the live series
    def evaluated_rules() -> list[dict[str, Any]] | None:
        data = prometheus.api("rules")
        rules = [r for g in (data or {}).get("groups", []) for r in g["rules"]]
        evaluated = rules and not any(r["lastEvaluation"].startswith("0001-") for r in rules)
        return rules if evaluated else None

    rules = await eventually(evaluated_rules, 30, "an evaluation of every rule")
    assert {r["name"] for r in rules} >= {"SwayWorkerDown", "SwayDLQRateHigh", "SwayNoScoreUpdates"}
    assert all(r["health"] == "ok" for r in rules), [(r["name"], r.get("lastError")) for r in rules]
    firing = {r["name"] for r in rules if r["state"] != "inactive"}
    assert "SwayWorkerDown" not in firing, "a scraped worker is not reported down"
