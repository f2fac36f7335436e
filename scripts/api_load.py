"""The HTTP API under load while the pipeline scores: wrk against two live workers.

    python scripts/api_load.py [--events 100000] [--rate 5000] [--seconds 15] [--connections 8]

What it does, on a fresh deployment of two `sway worker` processes (8 partitions):
1. preloads `--events` simulated events and lets both workers score them (users to ask about);
2. drains a second backlog of the same size twice, once alone and once while wrk hammers
   `/users/{id}` on one worker: the ratio is what the API's load costs the scoring throughput;
3. sends live events at `--rate` (about half of what two workers sustain here) and meanwhile runs
   wrk against `/users/{id}` (users of every partition, so half the requests are routed to the
   other worker), `/users/{id}/explain` and `/leaderboard?limit=20`, each for `--seconds`;
   `--delay-ms` paces each connection (wrk has no fixed rate; wrk2 is not packaged).

wrk is the Debian package `wrk` (`apt-get install wrk`). A benchmark, not a test: it prints numbers.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from stream.bench import runner  # noqa: E402  (after the path: run from anywhere)
from stream.settings import load_settings  # noqa: E402

LUA = """
local ids = {%(ids)s}
local i = 0
request = function()
  i = i + 1
  return wrk.format("GET", string.format("%(path)s", ids[(i %% #ids) + 1]))
end
%(delay)s
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('RESULT {"requests": %%d, "duration_us": %%d, "p50_us": %%d, "p90_us": %%d, ' ..
    '"p99_us": %%d, "bad_status": %%d, "socket_errors": %%d}\\n', summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), e.status,
    e.connect + e.read + e.write + e.timeout))
end
"""


async def wrk(
    url: str, path: str, ids: list[str], seconds: float, connections: int, delay_ms: int
) -> dict[str, Any]:
    """One wrk run; `path` has a %s for the user id (or none)."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(
            LUA
            % {
                "ids": ", ".join(json.dumps(i) for i in ids),
                "path": path.replace('"', '\\"'),
                "delay": f"delay = function() return {delay_ms} end" if delay_ms else "",
            }
        )
        script = f.name
    proc = await asyncio.create_subprocess_exec(
        "wrk", "-t2", f"-c{connections}", f"-d{seconds:.0f}s", "--latency", "-s", script, url,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await proc.communicate()
    Path(script).unlink()  # noqa: ASYNC240 - a temporary file, once per run
    line = next((x for x in out.decode().splitlines() if x.startswith("RESULT ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no result:\n{out.decode()}")
    r = json.loads(line[len("RESULT ") :])
    return {
        "path": path.replace("%s", "{id}"),
        "req_per_s": r["requests"] / (r["duration_us"] / 1e6),
        "p50_ms": r["p50_us"] / 1000,
        "p90_ms": r["p90_us"] / 1000,
        "p99_ms": r["p99_us"] / 1000,
        "bad_status": r["bad_status"],
        "socket_errors": r["socket_errors"],
    }


def loop_lag(workers: runner.Workers) -> dict[str, dict[float, float]]:
    """Each worker's loop-lag histogram: upper bound -> probes at or under it (cumulative)."""
    import re

    out = {}
    for w in workers.procs:
        text = w.get_raw("/metrics", timeout=5)[1].decode()
        out[w.url] = {
            float(le): float(n)
            for le, n in re.findall(r'^sway_event_loop_lag_seconds_bucket{le="([^"]+)"} (\S+)$', text, re.M)
        }
    return out


Lags = dict[str, dict[float, float]]


def lag_between(before: Lags, after: Lags) -> dict[str, Any]:
    """Per worker, the share of loop probes that fired more than 10 ms and 50 ms late."""
    out = {}
    for url, b in before.items():
        a = after[url]
        n = a[float("inf")] - b[float("inf")]
        out[url] = {
            "probes": n,
            "late_over_10ms": (n - (a[0.01] - b[0.01])) / n if n else 0.0,
            "late_over_50ms": (n - (a[0.05] - b[0.05])) / n if n else 0.0,
        }
    return out


async def drain_rate(settings: Any, workers: runner.Workers, events: int, seed: int) -> float:
    """Send a backlog of `events` and time how fast the running workers score it (from the
    first send: producing here runs at twice the rate the workers score at)."""
    before = runner.metric(workers.metrics(), "sway_events_in_total")
    recs = runner.simulated_records(events, 20_000, seed)
    began = time.monotonic()
    await runner.produce(settings, settings.topic("interactions"), recs)
    while runner.metric(workers.metrics(), "sway_events_in_total") < before + events:  # noqa: ASYNC110
        await asyncio.sleep(0.2)  # polling the workers' /metrics
    await runner.drain(settings, 600)
    return events / (time.monotonic() - began)


async def paced(settings: Any, rate: float, seconds: float, stop: asyncio.Event) -> int:
    """Live simulated events at `rate` until `stop` (or `seconds`)."""
    import orjson
    from aiokafka import AIOKafkaProducer

    from stream.kafka import Batcher, Pacer, client_options, partition_count

    events = runner.live_events(int(rate * seconds) + 1, 20_000, 5)
    producer = AIOKafkaProducer(**client_options(settings), acks=1)
    await producer.start()
    topic = settings.topic("interactions")
    batcher = Batcher(producer, topic, await partition_count(producer, topic))
    pacer, sent = Pacer(rate, before_sleep=batcher.flush), 0
    try:
        for event in events:
            if stop.is_set():
                break
            event["ts"] = int(time.time() * 1000)
            await batcher.add(str(event["actor_id"]).encode(), orjson.dumps(event))
            sent += 1
            await pacer.tick()
        await batcher.acked()
    finally:
        await producer.stop()
    return sent


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    prefix = f"api{uuid.uuid4().hex[:8]}-"
    settings = load_settings(topic_prefix=prefix, partitions=8)
    opts = runner.BenchOptions(events=args.events, source="simulate", workers=2)
    tmp = Path(tempfile.mkdtemp(prefix="sway-api-"))
    out: dict[str, Any] = {"events": args.events, "rate": args.rate, "connections": args.connections}
    await runner.produce(settings, settings.topic("interactions"), runner.preload_records(opts))
    workers = runner.Workers(prefix, opts, tmp)
    workers.start()
    try:
        workers.wait_healthy()
        await runner.drain(settings, 600)
        a = workers.procs[0]
        _, body = a.get_raw("/leaderboard?limit=1000")
        ids = [row["user_id"] for row in json.loads(body)["users"]]
        runner.log(f"{len(ids)} users to ask about; draining {args.events:,} events alone")
        alone = await drain_rate(settings, workers, args.events, 101)
        runner.log(f"alone: {alone:,.0f} events/s; again under wrk on /users/{{id}}")
        load = asyncio.create_task(wrk(a.url, "/users/%s", ids, 3600, args.connections, args.delay_ms))
        await asyncio.sleep(1)
        under = await drain_rate(settings, workers, args.events, 102)
        stopper = await asyncio.create_subprocess_exec(
            "pkill", "-INT", "-f", "wrk -t2"
        )  # wrk reports on SIGINT
        await stopper.wait()
        drained_with = await load
        out["drain"] = {"alone_events_per_s": alone, "under_load_events_per_s": under, "ratio": under / alone,
                        "wrk_during_drain": drained_with}  # fmt: skip
        rate = args.rate or alone / 2
        out["rate"] = rate
        runner.log(f"under load: {under:,.0f} events/s ({under / alone:.2f} x); paced at {rate:,.0f}/s")
        out["paced"] = []
        for path in ("/users/%s", "/users/%s/explain", "/leaderboard?limit=20"):
            stop = asyncio.Event()
            sender = asyncio.create_task(paced(settings, rate, args.seconds + 5, stop))
            await asyncio.sleep(2)
            lag0 = loop_lag(workers)
            result = await wrk(a.url, path, ids, args.seconds, args.connections, args.delay_ms)
            result["loop_lag"] = lag_between(lag0, loop_lag(workers))
            stop.set()
            result["events_sent"] = await sender
            out["paced"].append(result)
            runner.log(
                f"{result['path']}: {result['req_per_s']:,.0f} req/s, p50 {result['p50_ms']:.1f} ms, "
                f"p99 {result['p99_ms']:.1f} ms, non-2xx {result['bad_status']}; loop probes late "
                + ", ".join(
                    f"{v['late_over_10ms']:.1%} >10 ms {v['late_over_50ms']:.1%} >50 ms"
                    for v in result["loop_lag"].values()
                )
            )
            await runner.drain(settings, 600)
    finally:
        workers.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=100_000)
    ap.add_argument(
        "--rate",
        type=float,
        default=0.0,
        help="live events/s while the API is loaded (default: half the drain rate measured alone)",
    )
    ap.add_argument("--seconds", type=float, default=15.0)
    ap.add_argument("--connections", type=int, default=8)
    ap.add_argument("--delay-ms", type=int, default=0, help="pause per request and connection (pacing)")
    args = ap.parse_args()
    if shutil.which("wrk") is None:
        sys.stderr.write("wrk not found: apt-get install wrk\n")
        return 2
    print(json.dumps(asyncio.run(main_async(args)), indent=2))  # noqa: T201 - the result
    return 0


if __name__ == "__main__":
    sys.exit(main())
