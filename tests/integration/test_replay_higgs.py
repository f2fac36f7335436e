"""The real Higgs data through the CLI producer and a fresh deployment (stream time of 2012)."""

from __future__ import annotations

import gzip
import subprocess
import sys
from pathlib import Path

import pytest

from stream.batch import rescore
from stream.core.params import params_from
from stream.producers.replay import records
from tests.conftest import eventually
from tests.integration.conftest import HIGGS, ROOT, reading, running_worker

LINES = 10_000


@pytest.mark.skipif(not HIGGS.exists(), reason="../shared/data is not beside the project")
async def test_replay_of_first_10k_higgs_lines_scores_every_target(broker: str, tmp_path: Path) -> None:
    targets: set[str] = set()
    engagers: dict[str, set[str]] = {}
    with gzip.open(HIGGS, "rt") as f:
        for _, line in zip(range(LINES), f, strict=False):
            actor, target, _, _ = line.split()
            if actor != target:
                targets.add(target)
                engagers.setdefault(target, set()).add(actor)
    # the oracle: the batch reference over the same lines (same core, no Kafka)
    params = params_from(30 * 86400, 7 * 86400)
    batch = rescore((value for _, value in records(HIGGS, "snap", LINES)), params)
    with running_worker(tmp_path, "higgs") as worker:
        async with reading(worker.settings) as published:
            result = subprocess.run(
                [sys.executable, "-m", "stream", "replay", str(HIGGS), "--limit", str(LINES)],
                env=worker.env,
                cwd=ROOT,
                capture_output=True,
                text=True,
                timeout=300,
                check=False,
            )
            assert result.returncode == 0, result.stderr
            assert f"replayed {LINES} records" in result.stdout
            assert "ev/s" in result.stderr or "ev]" in result.stderr  # the progress bar was shown

            def missing() -> set[str]:
                return targets - published.latest().keys()

            await eventually(lambda: not missing(), 120, f"scores for all {len(targets)} Higgs targets")
            assert not published.dlq, "no Higgs line was rejected"
            widest = max(targets, key=lambda u: len(engagers[u]))
            # updates are debounced (< 0.01 points is not re-emitted); the API has the live state
            status, star = worker.get(f"/users/{widest}")
    assert status == 200
    expected = batch.scores(params)[widest]
    assert star["signals"]["engagers"] == pytest.approx(expected.signals["engagers"], rel=0.01)
    assert star["signals"]["engagers"] <= len(engagers[widest])
    latest = published.latest()
    single = [u for u in targets if len(engagers[u]) == 1]
    assert star["score"] > max(latest[u]["score"] for u in single)
