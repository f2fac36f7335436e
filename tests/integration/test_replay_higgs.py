"""The real Higgs data through the CLI producer and a fresh deployment (stream time of 2012)."""

from __future__ import annotations

import gzip
import subprocess
import sys
from pathlib import Path

import pytest

from stream.core.params import REACH_CAP
from stream.producers.replay import SNAP_KINDS
from tests.conftest import eventually
from tests.integration.conftest import HIGGS, ROOT, reading, running_worker

LINES = 10_000


@pytest.mark.skipif(not HIGGS.exists(), reason="../shared/data is not beside the project")
async def test_replay_of_first_10k_higgs_lines_scores_every_target(
    broker: str, tmp_path: Path
) -> None:
    targets: set[str] = set()
    # distinct engagers, each worth the strongest reach cap of their actions (a mention: 0.6)
    engagers: dict[str, dict[str, float]] = {}
    with gzip.open(HIGGS, "rt") as f:
        for _, line in zip(range(LINES), f, strict=False):
            actor, target, _, kind = line.split()
            if actor != target:
                targets.add(target)
                cap = REACH_CAP.get(SNAP_KINDS[kind], 1.0)
                mine = engagers.setdefault(target, {})
                mine[actor] = max(mine.get(actor, 0.0), cap)
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

            await eventually(
                lambda: not missing(), 120, f"scores for all {len(targets)} Higgs targets"
            )
            assert not published.dlq, "no Higgs line was rejected"
            widest = max(targets, key=lambda u: len(engagers[u]))
            # updates are debounced (< 0.01 points is not re-emitted); the API has the live state
            status, star = worker.get(f"/users/{widest}")
    assert status == 200
    # within 5%: the 1.6 days replayed decay early engagements by up to 3.6%
    assert star["signals"]["engagers"] == pytest.approx(sum(engagers[widest].values()), rel=0.05)
    latest = published.latest()
    single = [u for u in targets if len(engagers[u]) == 1]
    assert star["score"] > max(latest[u]["score"] for u in single)
