"""`sway bench --json` at a tiny scale, end to end on the real broker: every field is there and
every value is sane (the numbers themselves are for docs/performance.md, not for a test)."""

from __future__ import annotations

import json
import subprocess
import sys
import time

from tests.integration.conftest import ROOT


def test_bench_json_at_tiny_scale(broker: str) -> None:
    began = time.monotonic()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "stream",
            "bench",
            "--json",
            "--events",
            "2000",
            "--users",
            "200",
            "--partitions",
            "2",
            "--latency-rate",
            "100",
            "--latency-seconds",
            "2",
            "--memory-users",
            "1000",
            "--memory-templates",
            "1000",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    took = time.monotonic() - began
    assert result.returncode == 0, result.stderr[-3000:]
    r = json.loads(result.stdout)

    for field in (
        "events_per_s",
        "ratio_to_raw_consume",
        "p50_latency_ms",
        "p99_latency_ms",
        "rss_mib_per_100k_users",
        "parameters",
        "targets",
        "machine",
    ):
        assert field in r, field
    p = r["parameters"]
    assert (p["events"], p["partitions"], p["workers"], p["memory_users"]) == (2000, 2, 1, 1000)

    assert r["preload"]["events"] == 2000
    assert r["raw_consume"]["records"] == 2000
    assert 0 < r["events_per_s"] < r["raw_consume"]["events_per_s"]
    assert 0 < r["ratio_to_raw_consume"] < 1
    # every bare Faust app sees every event (the batched one in records of 500), none outruns a
    # bare consumer, and the ratios are the pipeline's rate over theirs
    floor = r["faust_floor"]
    assert {mode: f["events"] for mode, f in floor.items()} == dict.fromkeys(
        ("consume", "forward", "three-hops", "three-hops-batched"), 2000
    )
    assert floor["three-hops-batched"]["records"] == 4
    assert floor["consume"]["events_per_s"] < r["raw_consume"]["events_per_s"]
    assert r["ratio_to_faust_floor"] == r["events_per_s"] / floor["three-hops"]["events_per_s"]
    assert r["ratio_to_batched_floor"] == r["events_per_s"] / floor["three-hops-batched"]["events_per_s"]
    # the Quix Streams peer counted every event
    assert r["peer"]["events"] == 2000 and r["peer"]["events_per_s"] > 0
    assert r["ratio_to_peer"] == r["events_per_s"] / r["peer"]["events_per_s"]
    assert r["pipeline"]["users_scored"] > 0 and r["pipeline"]["invalid"] == 0
    assert 0 < r["pipeline"]["seconds"] < took

    (lat,) = r["latency"]
    assert lat["rate"] == 100 and lat["probes"] > 0 and lat["probes_scored"] == lat["probes"]
    assert 0 < r["p50_latency_ms"] <= r["p99_latency_ms"] < 60_000

    memory = r["memory"]
    assert set(memory) == {"memory", "rocksdb"}
    assert memory["memory"]["users"] == 1000
    assert r["rss_mib_per_100k_users"] == memory["memory"]["rss_mib_per_100k_users"] > 0
    assert memory["rocksdb"]["disk_bytes_per_user"] > 0
    for store in memory.values():
        assert 0 < store["encoded_bytes_per_user"] < 64 * 1024

    assert set(r["targets"]) >= {"events_per_s", "ratio_to_raw_consume", "p99_latency_ms"}
    for verdict in r["targets"].values():
        assert verdict["met"] in (True, False, None)
