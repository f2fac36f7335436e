"""The operator's commands: broker lifecycle, the simulator, the leaderboard."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import eventually
from tests.integration.conftest import ROOT, Published, WorkerProc


def sway(
    *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "stream", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_broker_start_is_idempotent(broker: str) -> None:
    first = sway("broker", "start")
    assert first.returncode == 0, first.stderr
    assert "already running" in first.stdout
    status = sway("broker", "status")
    assert status.stdout.startswith("running")
    if "not managed" not in status.stdout:  # a broker this checkout started reports its version
        assert "kafka=4." in status.stdout


def test_a_remote_bootstrap_starts_nothing_locally() -> None:
    import os

    env = dict(os.environ, KAFKA_BOOTSTRAP_SERVERS="kafka.example.internal:9092")
    result = sway("broker", "start", env=env)
    assert result.returncode == 0
    assert "nothing local" in result.stdout


async def test_simulated_world_gets_scored(worker: WorkerProc, published: Published) -> None:
    env = dict(worker.env)
    result = sway("simulate", "--users", "150", "--days", "1", "--seed", "11", "--quiet", env=env)
    assert result.returncode == 0, result.stderr
    assert "simulated" in result.stdout
    await eventually(
        lambda: len([u for u in published.latest() if u.startswith("u0")]) >= 50,
        60,
        "scores for simulated users",
    )
    top = sway("top", "--once", "--limit", "5", env=env)
    assert top.returncode == 0, top.stderr
    assert len(top.stdout.strip().splitlines()) == 6  # header + five rows
