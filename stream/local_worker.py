"""A `sway worker` run as a child process on this machine, and how to talk to it over HTTP.

Why in the package: the integration tests and `sway evaluate scenarios` both start real workers
of fresh deployments and wait on them; one implementation serves both.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from stream.settings import PROJECT_ROOT


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def clean_env() -> dict[str, str]:
    """This process's environment without any SWAY_ variable (a child gets only what it is told)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("SWAY_")}


def worker_env(prefix: str, data_dir: Path, port: int, **extra: str) -> dict[str, str]:
    """This process's environment without any SWAY_ variable, plus one deployment's settings."""
    env = clean_env()
    env.update(
        SWAY_TOPIC_PREFIX=prefix,
        SWAY_WEB_PORT=str(port),
        SWAY_DATA_DIR=str(data_dir),
        SWAY_PARTITIONS="4",
        PYTHONUNBUFFERED="1",
        **extra,
    )
    return env


class WorkerProcess:
    """Start, probe and stop one worker; its output goes to `log`."""

    def __init__(self, env: dict[str, str], port: int, log: Path) -> None:
        self.env = env
        self.port = port
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        with self.log.open("ab") as out:  # the child keeps its own descriptor
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "stream", "worker"],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=PROJECT_ROOT,
            )

    def stop(self, timeout: float = 30.0) -> bool:
        """SIGTERM and wait (a clean shutdown commits offsets); SIGKILL past the deadline.

        Returns False if the worker had to be killed."""
        if self.proc is None or self.proc.poll() is not None:
            return True
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout)
            return True
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return False

    def tail(self, lines: int = 60) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        return "(no log)"

    def get_raw(self, path: str, timeout: float = 10.0) -> tuple[int, bytes]:
        return self.request("GET", path, timeout=timeout)

    def request(
        self, method: str, path: str, headers: dict[str, str] | None = None, timeout: float = 10.0
    ) -> tuple[int, bytes]:
        """Status and body of one HTTP request (an error status is returned, not raised)."""
        req = urllib.request.Request(self.url + path, method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def healthy(self) -> bool:
        with contextlib.suppress(OSError):
            return self.get_raw("/health", timeout=5)[0] == 200
        return False

    def wait_healthy(self, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"worker exited {self.proc.returncode}:\n{self.tail()}")
            if self.healthy():
                return
            time.sleep(0.2)
        raise RuntimeError(f"worker not healthy after {timeout:.0f}s:\n{self.tail()}")
