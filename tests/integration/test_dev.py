"""`sway dev` (what `make dev` runs): the whole thing comes up, prints the dashboard URL, scores
simulated traffic, and Ctrl-C stops every process it started."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import orjson

from stream.local_worker import free_port, worker_env
from tests.integration.conftest import ROOT


def leaderboard_size(port: int) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/leaderboard?limit=50", timeout=5) as r:
            return len(orjson.loads(r.read())["users"])
    except OSError:
        return 0


def serving(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as r:
            return r.status == 200 and b"<title>Sway" in r.read()
    except OSError:
        return False


def test_dev_runs_everything_and_ctrl_c_stops_it(broker: str, tmp_path: Path) -> None:
    port = free_port()
    env = worker_env(f"dev{uuid.uuid4().hex[:8]}-", tmp_path, port)
    log = tmp_path / "dev.out"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "stream", "dev", "--rate", "300", "--users", "300"],
            env=env,
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C goes to the process group, as in a terminal
        )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and leaderboard_size(port) < 10:
            assert proc.poll() is None, log.read_text()
            time.sleep(0.5)
        assert leaderboard_size(port) >= 10, log.read_text()[-3000:]
        assert serving(port), "the dashboard is served at /"
        assert f"dashboard: http://localhost:{port}/" in log.read_text()
        workers = subprocess.run(
            ["pgrep", "-f", "-s", str(proc.pid), "stream (worker|simulate)"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.split()
        assert len(workers) == 2, "one worker and the simulator"
        subprocess.run(["pkill", "-INT", "-s", str(proc.pid)], check=False)  # Ctrl-C
        assert proc.wait(timeout=60) == 0, log.read_text()[-3000:]
        leftover = subprocess.run(["pgrep", "-s", str(proc.pid)], capture_output=True, check=False)
        assert leftover.stdout == b"", "every process dev started has stopped"
        assert not serving(port)
        assert "stopped worker(s) and traffic" in log.read_text()
    finally:
        if proc.poll() is None:
            subprocess.run(["pkill", "-KILL", "-s", str(proc.pid)], check=False)
            proc.wait()
        (ROOT / "artifacts").mkdir(exist_ok=True)
        (ROOT / "artifacts" / "dev.out").write_bytes(log.read_bytes()[-20000:])
