"""`sway bench`: throughput, latency and memory of Sway on this machine, measured in one run.

What is measured (docs/performance.md explains how to read it):

1. **Preload** N events into `interactions` of a fresh deployment (a new topic prefix): the
   first Higgs replay lines (read from the shared file, never copied), simulated events, or half
   of each (Higgs first: its 2012 timestamps precede the simulated 2026 ones).
2. **Raw consume**: a bare aiokafka consumer reads the same topic end to end, no decoding. That
   is the ceiling for any Python consumer of this broker on this machine.
   **Faust floor** (`stream/faust_floor.py`, unless `--skip-floor`): the smallest Faust apps read
   the same topic (count only; forward one hop; three forwarding stages in a row, Sway's shape
   without its tables or work). That is the ceiling for any Faust pipeline here;
   `ratio_to_faust_floor` is the pipeline's rate over the three-stage floor's.
3. **Pipeline**: the workers (real `sway worker` processes) are started on the preloaded topic.
   The clock runs from the first event read by ingest (polled from /metrics; or the first score
   out, whichever is earlier) to the last score out (the latest `updated_at` on `scores`), once
   the consumer group has no lag left on `interactions`, `sway-by-actor` and `sway-by-target`.
4. **Latency** under a steady paced load of live simulated events: every tenth event is a
   retweet of a fresh *probe* user, whose first score is always emitted; latency is the wall
   time from handing the probe to the producer to reading its score from `scores`.
5. **Memory**: in a subprocess per store, user and actor states built by the pure core from the
   Higgs replay are stored, under distinct user ids, through the tables of a real Sway app
   (Faust memory store, and the rocksdict store with Sway's tuning); RSS growth and bytes on
   disk are divided by the number of users. States are copies of templates made through the
   table codec (decode of the encoded template), so no object is shared between users.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import itertools
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import orjson

from stream.local_worker import WorkerProcess, clean_env, free_port, worker_env
from stream.settings import PROJECT_ROOT, Settings, load_settings

HIGGS = PROJECT_ROOT.parent / "shared" / "data" / "higgs-activity_time.txt.gz"
HIGGS_EVENTS = 563_069

#: The targets of issue G, printed beside the results.
TARGETS = {
    "events_per_s": (">=", 31_000.0),
    "events_per_cpu_s": (">=", 25_000.0),
    "ratio_to_raw_consume": (">=", 0.05),
    "p99_latency_ms": ("<=", 250.0),
    "state_bytes_per_user": ("<=", 2048.0),
    "higgs_replay_s": ("<=", 30.0),
}

Record = tuple[bytes | None, bytes]


@dataclass
class BenchOptions:
    events: int = 200_000
    source: str = "mixed"  # higgs | simulate | mixed
    higgs: Path = HIGGS
    users: int = 20_000  # size of the simulated world
    seed: int = 0
    partitions: int = 8
    workers: int = 1
    store: str = "memory"
    sweep_interval: str = "1h"
    latency_rates: tuple[str, ...] = ("5000", "auto")
    latency_seconds: float = 10.0
    memory_users: int = 1_000_000
    memory_templates: int = 200_000  # Higgs lines whose states are the templates
    memory_stores: tuple[str, ...] = ("memory", "rocksdb")
    skip_floor: bool = False
    skip_peer: bool = False
    skip_pipeline: bool = False
    skip_latency: bool = False
    skip_memory: bool = False
    timeout: float = 3600.0
    keep_logs: Path | None = None
    py_spy: Path | None = None  # py-spy raw profile of worker 1 over the pipeline phase


def log(message: str) -> None:
    sys.stderr.write(f"[bench {time.strftime('%H:%M:%S')}] {message}\n")
    sys.stderr.flush()


# --- events -------------------------------------------------------------------------------


def simulated_records(n: int, users: int, seed: int) -> Iterator[Record]:
    from stream.producers.simulate import World, WorldConfig

    if n <= 0:
        return
    days = max(1.0, 1.5 * n / (5.0 * users))  # ~5-7 events per user-day
    world = World(WorldConfig(users=users, days=days, seed=seed))
    for event in itertools.islice(world.events(), n):
        yield str(event["actor_id"]).encode(), orjson.dumps(event)


def preload_records(opts: BenchOptions) -> Iterator[Record]:
    from stream.producers.replay import records

    if opts.source == "higgs":
        n_higgs, n_sim = opts.events, 0
    elif opts.source == "simulate":
        n_higgs, n_sim = 0, opts.events
    else:
        n_higgs = min(opts.events // 2, HIGGS_EVENTS) if opts.higgs.exists() else 0
        n_sim = opts.events - n_higgs
    if n_higgs:
        yield from records(opts.higgs, "snap", n_higgs)  # type: ignore[arg-type]
    yield from simulated_records(n_sim, opts.users, opts.seed)


# --- kafka helpers ------------------------------------------------------------------------


async def produce(settings: Settings, topic: str, recs: Iterator[Record]) -> tuple[int, float]:
    from stream.kafka import send_all

    began = time.monotonic()
    sent = await send_all(settings, topic, recs, window=5000)
    return sent, time.monotonic() - began


async def raw_consume(settings: Settings, topic: str, expected: int) -> dict[str, float]:
    """Read the whole topic with a bare consumer (no group, no decoding): records per second."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    from stream.kafka import client_options

    consumer = AIOKafkaConsumer(
        **client_options(settings),
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        group_id=None,
        max_partition_fetch_bytes=4 * 1024 * 1024,
        fetch_max_bytes=64 * 1024 * 1024,
    )
    await consumer.start()
    try:
        await consumer._client.force_metadata_update()
        parts = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(parts)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        end = await consumer.end_offsets(tps)
        remaining = {tp for tp in tps if end[tp] > 0}
        count, nbytes = 0, 0
        began = time.monotonic()
        while remaining:
            batch = await consumer.getmany(timeout_ms=1000, max_records=10_000)
            for tp, recs in batch.items():
                count += len(recs)
                nbytes += sum(len(r.value or b"") for r in recs)
                if recs and recs[-1].offset + 1 >= end[tp]:
                    remaining.discard(tp)
        took = time.monotonic() - began
    finally:
        await consumer.stop()
    return {"records": count, "seconds": took, "events_per_s": count / took, "mib": nbytes / 2**20}


async def group_lag(settings: Settings, topics: list[str] | None = None) -> int | None:
    """Records not yet committed by Sway's consumer groups (None: unknown yet)."""
    if topics is not None:
        return await _group_lag(settings, settings.app_id, topics)
    total = 0
    from stream.pipeline.topology import consumer_groups

    for group, names in consumer_groups(settings).items():
        lag = await _group_lag(settings, group, names)
        if lag is None:
            return None
        total += lag
    return total


async def _group_lag(settings: Settings, group: str, topics: list[str]) -> int | None:
    """Records not yet committed by one consumer group on these topics (None: unknown yet)."""
    from aiokafka import AIOKafkaConsumer, TopicPartition
    from aiokafka.admin import AIOKafkaAdminClient

    from stream.kafka import client_options

    admin = AIOKafkaAdminClient(**client_options(settings))
    consumer = AIOKafkaConsumer(**client_options(settings), group_id=None)
    await admin.start()
    await consumer.start()
    try:
        committed = await admin.list_consumer_group_offsets(group)
        await consumer._client.force_metadata_update()
        tps = [TopicPartition(t, p) for t in topics for p in sorted(consumer.partitions_for_topic(t) or ())]
        if not tps:
            return None
        end = await consumer.end_offsets(tps)
        lag = 0
        for tp in tps:
            meta = committed.get(tp)
            done = meta.offset if meta is not None and meta.offset >= 0 else 0
            lag += max(0, end[tp] - done)
        return lag
    finally:
        await consumer.stop()
        await admin.close()


async def scores_window(settings: Settings) -> dict[str, Any]:
    """Count, first and last `updated_at` of everything on `scores` (cause event or decay), and
    the longest wall-clock gap between two consecutive updates (how long `scores` went quiet
    while the backlog was worked off)."""
    from stream.kafka import read_topic

    times: list[int] = []
    users = set()
    async for key, value in read_topic(settings, settings.topic("scores"), timeout=300):
        if value is None:
            continue
        times.append(orjson.loads(value)["updated_at"])
        users.add(key)
    times.sort()
    gap = max((b - a for a, b in itertools.pairwise(times)), default=0)
    return {
        "updates": len(times),
        "first_ms": times[0] if times else None,
        "last_ms": times[-1] if times else 0,
        "users": len(users),
        "longest_gap_s": gap / 1000,
    }


# --- processes ----------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (and its reaped children), from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = os.sysconf("SC_CLK_TCK")
    return sum(int(fields[i]) for i in (11, 12)) / ticks


def rss_bytes(pid: int | str = "self") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def broker_pid() -> int | None:
    pid_file = PROJECT_ROOT / ".run" / "kafka" / "kafka.pid"
    with contextlib.suppress(OSError, ValueError):
        pid = int(pid_file.read_text().strip())
        if Path(f"/proc/{pid}").exists():
            return pid
    return None


def metric(text: str, name: str) -> float:
    total = 0.0
    for match in re.finditer(rf"^{re.escape(name)}(?:{{[^}}]*}})? ([0-9.e+-]+)$", text, re.M):
        total += float(match.group(1))
    return total


class Workers:
    """N `sway worker` processes of one deployment, each with its own port and data dir."""

    def __init__(self, prefix: str, opts: BenchOptions, tmp: Path) -> None:
        self.procs: list[WorkerProcess] = []
        for i in range(opts.workers):
            port = free_port()
            env = worker_env(
                prefix,
                tmp / f"w{i}",
                port,
                SWAY_STORE=opts.store,
                SWAY_DECAY_SWEEP_INTERVAL=opts.sweep_interval,
                SWAY_LOG_LEVEL=os.environ.get("SWAY_BENCH_LOG_LEVEL", "warn"),
            )
            env["SWAY_PARTITIONS"] = str(opts.partitions)
            self.procs.append(WorkerProcess(env, port, tmp / f"worker-{i}.log"))

    def start(self) -> None:
        for w in self.procs:
            w.start()

    def wait_healthy(self, timeout: float = 120.0) -> None:
        for w in self.procs:
            w.wait_healthy(timeout)

    def metrics(self) -> str:
        out = []
        for w in self.procs:
            with contextlib.suppress(OSError):
                out.append(w.get_raw("/metrics", timeout=5)[1].decode())
        return "\n".join(out)

    def cpu(self) -> float:
        return sum(cpu_seconds(w.proc.pid) for w in self.procs if w.proc is not None)

    def rss(self) -> int:
        return sum(rss_bytes(w.proc.pid) for w in self.procs if w.proc is not None and w.proc.poll() is None)

    def stop(self) -> None:
        for w in self.procs:
            w.stop(timeout=20)


# --- phases -------------------------------------------------------------------------------


async def pipeline_phase(
    settings: Settings, workers: Workers, expected: int, opts: BenchOptions
) -> dict[str, Any]:
    """Start the workers on the preloaded topic; wait until every event is through score."""
    broker = broker_pid()
    broker_cpu0 = cpu_seconds(broker) if broker else 0.0
    started = time.time()
    workers.start()
    spy = None
    first_in: float | None = None
    deadline = time.monotonic() + opts.timeout
    peak_rss = 0
    while first_in is None and time.monotonic() < deadline:
        for w in workers.procs:
            if w.proc is not None and w.proc.poll() is not None:
                raise RuntimeError(f"worker exited:\n{w.tail()}")
        if metric(workers.metrics(), "sway_events_in_total") > 0:
            first_in = time.time()
        else:
            await asyncio.sleep(0.05)
    if first_in is None:
        raise RuntimeError("no event read before the timeout")
    cpu0 = workers.cpu()
    if opts.py_spy is not None and workers.procs[0].proc is not None:
        spy = subprocess.Popen(  # noqa: ASYNC220 - started once, never waited on in the loop
            [
                str(Path(sys.executable).parent / "py-spy"),
                "record",
                "--pid",
                str(workers.procs[0].proc.pid),
                "--rate",
                "100",
                "--nonblocking",  # pausing the worker per sample halved its throughput here
                "--format",
                "raw",
                "-o",
                str(opts.py_spy),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    last_report = time.monotonic()
    while time.monotonic() < deadline:
        await asyncio.sleep(1.0)
        peak_rss = max(peak_rss, workers.rss())
        text = workers.metrics()
        seen = metric(text, "sway_events_in_total")
        if time.monotonic() - last_report > 10:
            log(f"pipeline: {seen:,.0f}/{expected:,} events read ({seen / (time.time() - first_in):,.0f}/s)")
            last_report = time.monotonic()
        if seen < expected:
            continue
        lag = await group_lag(settings)
        if lag == 0:
            break
    else:
        raise RuntimeError("pipeline did not drain before the timeout")
    cpu = workers.cpu() - cpu0
    broker_cpu = (cpu_seconds(broker) - broker_cpu0) if broker else None
    if spy is not None:  # py-spy writes its profile when interrupted
        spy.send_signal(signal.SIGINT)
        spy.wait(timeout=60)
    window = await scores_window(settings)
    text = workers.metrics()
    t0 = min(first_in, window["first_ms"] / 1000) if window["first_ms"] else first_in
    took = max(1e-9, window["last_ms"] / 1000 - t0)
    return {
        "seconds": took,
        "events_per_s": expected / took,
        "startup_s": first_in - started,
        "score_updates": window["updates"],
        "users_scored": window["users"],
        "longest_gap_s": window["longest_gap_s"],
        "duplicates": metric(text, "sway_events_duplicate_total"),
        "invalid": metric(text, "sway_events_invalid_total"),
        "worker_cpu_s": cpu,
        "events_per_cpu_s": expected / cpu if cpu else None,
        "broker_cpu_s": broker_cpu,
        "worker_peak_rss_mib": peak_rss / 2**20,
    }


def live_events(n: int, users: int, seed: int) -> list[dict[str, Any]]:
    from stream.producers.simulate import World, WorldConfig

    world = World(WorldConfig(users=min(users, 5000), seed=seed + 1))
    return list(itertools.islice(world.live(int(time.time() * 1000)), n))


async def latency_phase(
    settings: Settings, rate: float, seconds: float, opts: BenchOptions
) -> dict[str, Any]:
    """Paced live load; every 10th event is a probe whose score is awaited on `scores`."""
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

    from stream.kafka import Batcher, Pacer, client_options, partition_count

    n = max(10, int(rate * seconds))
    events = live_events(n, opts.users, opts.seed)
    run = uuid.uuid4().hex[:6]
    scores_topic = settings.topic("scores")
    consumer = AIOKafkaConsumer(**client_options(settings), enable_auto_commit=False, group_id=None)
    await consumer.start()
    await consumer._client.force_metadata_update()
    tps = [TopicPartition(scores_topic, p) for p in sorted(consumer.partitions_for_topic(scores_topic) or ())]
    consumer.assign(tps)
    await consumer.seek_to_end(*tps)
    for tp in tps:  # resolve the end offsets now, before any probe can be scored
        await consumer.position(tp)
    sent_at: dict[bytes, float] = {}
    got: dict[bytes, float] = {}
    stop = asyncio.Event()

    async def collect() -> None:
        while not stop.is_set():
            batch = await consumer.getmany(timeout_ms=100, max_records=5000)
            now = time.time()
            for recs in batch.values():
                for r in recs:
                    if r.key is not None and r.key in sent_at and r.key not in got:
                        got[r.key] = now

    reader = asyncio.create_task(collect())
    producer = AIOKafkaProducer(**client_options(settings), acks=1)
    await producer.start()
    topic = settings.topic("interactions")
    # batched: record by record, the producer alone took half a core at 5,000/s (a platform's
    # producer runs elsewhere); a probe waits up to the pacer's 5 ms in its batch, counted in
    batcher = Batcher(producer, topic, await partition_count(producer, topic))
    pacer = Pacer(rate, before_sleep=batcher.flush)
    began = time.monotonic()
    try:
        for i, event in enumerate(events):
            wall = time.time()
            event["ts"] = int(wall * 1000)
            if i % 10 == 5:
                probe = f"lat-{run}-{i}"
                event = {
                    "event_id": probe,
                    "type": "retweet",
                    "network": "twitter",
                    "actor_id": event["actor_id"],
                    "target_id": probe,
                    "ts": event["ts"],
                }
                sent_at[probe.encode()] = wall
            await batcher.add(str(event["actor_id"]).encode(), orjson.dumps(event))
            await pacer.tick()
        await batcher.acked()
        send_s = time.monotonic() - began
        drain_deadline = time.monotonic() + max(30.0, 4 * seconds)
        while len(got) < len(sent_at) and time.monotonic() < drain_deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.2)  # the reader task fills `got`
        waited = time.time()
    finally:
        stop.set()
        with contextlib.suppress(Exception):
            await reader
        await producer.stop()
        await consumer.stop()
    lat = sorted(
        1000 * (got.get(k, waited) - t) for k, t in sent_at.items()
    )  # a probe never scored counts as the time waited (a lower bound)
    q = statistics.quantiles(lat, n=100, method="inclusive") if len(lat) > 1 else lat * 99
    return {
        "rate": rate,
        "achieved_rate": n / send_s,
        "seconds": send_s,
        "events": n,
        "probes": len(sent_at),
        "probes_scored": len(got),
        "p50_ms": q[49],
        "p99_ms": q[98],
        "max_ms": lat[-1],
    }


async def drain(settings: Settings, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and (await group_lag(settings)) != 0:  # noqa: ASYNC110
        await asyncio.sleep(1.0)  # polling the broker, not a local flag


def memory_phase(opts: BenchOptions, tmp: Path) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for store in opts.memory_stores:
        cmd = [
            sys.executable,
            "-m",
            "stream.bench.runner",
            "memory-probe",
            "--store",
            store,
            "--users",
            str(opts.memory_users),
            "--templates",
            str(opts.memory_templates),
            "--higgs",
            str(opts.higgs),
            "--dir",
            str(tmp / f"mem-{store}"),
        ]
        log(f"memory: {opts.memory_users:,} users in the {store} store")
        out[store] = run_probe(cmd, f"memory probe ({store})")
    return out


def run_probe(cmd: list[str], what: str, timeout: float | None = None) -> dict[str, Any]:
    """Run a probe process (without this process's SWAY_ settings) and return its result: the
    JSON object on the last stdout line that has one."""
    done = subprocess.run(
        cmd, capture_output=True, text=True, cwd=PROJECT_ROOT, env=clean_env(), timeout=timeout, check=False
    )
    # a Faust worker writes terminal escapes to stdout too: the object starts at the first "{"
    lines = [ln[ln.index("{") :] for ln in done.stdout.splitlines() if "{" in ln]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"{what} failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
    return orjson.loads(lines[-1])  # type: ignore[no-any-return]


async def floor_phase(
    settings: Settings, topic: str, expected: int, opts: BenchOptions, tmp: Path
) -> dict[str, Any]:
    """The smallest Faust apps on the same events (`stream.bench.floor`): Faust's own ceiling,
    one record per event and BATCH events per record."""
    from stream.bench.floor import BATCH, MODES

    batched = f"{topic}.batched"
    await produce(settings, batched, batched_records(opts, BATCH))
    out: dict[str, Any] = {}
    for mode in MODES:
        source = batched if mode.endswith("-batched") else topic
        cmd = [
            sys.executable, "-m", "stream.bench.floor",
            "--broker", settings.broker_url, "--topic", source,
            "--partitions", str(opts.partitions), "--expected", str(expected),
            "--mode", mode, "--dir", str(tmp / f"floor-{mode}"),
        ]  # fmt: skip
        log(f"faust floor ({mode}): bare Faust agents on {source}")
        out[mode] = await asyncio.to_thread(run_probe, cmd, f"faust floor ({mode})", opts.timeout)
        log(f"faust floor ({mode}): {out[mode]['events_per_s']:,.0f} events/s")
    return out


async def peer_phase(
    settings: Settings, topic: str, expected: int, opts: BenchOptions, tmp: Path
) -> dict[str, Any]:
    """The same events through a Quix Streams app counting distinct engagers (stream.bench.peer)."""
    import importlib.util

    if importlib.util.find_spec("quixstreams") is None:
        return {"skipped": "quixstreams is not installed (pip install -e '.[dev]')"}
    broker = settings.kafka_bootstrap_servers.split(",")[0]
    cmd = [
        sys.executable, "-m", "stream.bench.peer", "--broker", broker, "--topic", topic,
        "--expected", str(expected), "--dir", str(tmp / "peer"),
    ]  # fmt: skip
    log(f"peer: a Quix Streams app counting distinct engagers per target on {topic}")
    out = await asyncio.to_thread(run_probe, cmd, "peer (quixstreams)", opts.timeout)
    log(f"peer: {out['events_per_s']:,.0f} events/s")
    return out


def batched_records(opts: BenchOptions, size: int) -> Iterator[Record]:
    """The preloaded events again (they are deterministic), `size` to a record (a JSON list),
    for the batched floor."""
    values = (v for _, v in preload_records(opts))
    while chunk := list(itertools.islice(values, size)):
        yield None, b"[" + b",".join(chunk) + b"]"


# --- the memory probe (a subprocess) ------------------------------------------------------


def _templates(higgs: Path, lines: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """JSON forms of the user and actor states the core builds from the first Higgs lines."""
    from stream.batch import rescore
    from stream.core.state import actor_to_json, to_json
    from stream.producers.replay import records

    params = load_settings().model_params()
    if higgs.exists():
        values: Iterator[bytes] = (v for _, v in records(higgs, "snap", lines))
    else:
        values = (v for _, v in simulated_records(lines, max(100, lines // 20), 0))
    run = rescore(values, params)
    return [to_json(s) for s in run.users.values()], [actor_to_json(a) for a in run.actors.values()]


def memory_probe(store: str, users: int, templates: int, higgs: Path, datadir: Path) -> dict[str, Any]:
    from faust.serializers import codecs

    from stream.core.state import actor_from_json, from_json
    from stream.pipeline.app import create_app
    from stream.pipeline.topology import partition_of

    user_json, actor_json = _templates(higgs, templates)
    shutil.rmtree(datadir, ignore_errors=True)
    datadir.mkdir(parents=True)
    settings = load_settings(store=store, data_dir=datadir, topic_prefix="memprobe-")
    _, rt = create_app(settings)
    users_t, actors_t = rt.topology.users, rt.topology.actors
    stores: tuple[Any, Any] = (users_t.data, actors_t.data)
    gc.collect()
    rss0 = rss_bytes()
    began = time.monotonic()
    encoded = 0
    n = settings.partitions
    for i in range(users):
        uid = f"m{i:08d}"
        u = dict(user_json[i % len(user_json)], u=uid)
        a = dict(actor_json[i % len(actor_json)], u=uid)
        ustate = from_json(orjson.loads(orjson.dumps(u)))  # a private copy, nothing shared
        astate = actor_from_json(orjson.loads(orjson.dumps(a)))
        for t, s, v in ((users_t, stores[0], ustate), (actors_t, stores[1], astate)):
            if store == "memory":
                s[uid] = v
                encoded += len(codecs.dumps(t.value_serializer, v))  # type: ignore[attr-defined]
            else:
                key, value = s._encode_key(uid), s._encode_value(v)
                encoded += len(value)
                s._db_for_partition(partition_of(uid, n)).put(key, value)
    built = time.monotonic() - began
    disk = 0
    if store != "memory":
        for s in stores:
            for db in s._dbs.values():
                db.flush()
        gc.collect()
        rss1 = rss_bytes()
        for s in stores:
            for db in s._dbs.values():
                db.compact_range(None, None)
        disk = sum(p.stat().st_size for p in datadir.rglob("*") if p.is_file())
    else:
        gc.collect()
        rss1 = rss_bytes()
    return {
        "store": store,
        "users": users,
        "template_users": len(user_json),
        "template_actors": len(actor_json),
        "rss_delta_mib": (rss1 - rss0) / 2**20,
        "rss_bytes_per_user": (rss1 - rss0) / users,
        "rss_mib_per_100k_users": (rss1 - rss0) / 2**20 / users * 100_000,
        "encoded_bytes_per_user": encoded / users,
        "disk_bytes_per_user": disk / users if store != "memory" else None,
        "disk_mib": disk / 2**20,
        "seconds": built,
    }


# --- the whole run ------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = 0
    with contextlib.suppress(OSError):
        mem = int(Path("/proc/meminfo").read_text().split()[1]) // 1024
    load = os.getloadavg()
    import stream.core

    return {
        "core": stream.core.IMPLEMENTATION,
        "cpus": os.cpu_count(),
        "cpu": cpu,
        "mem_mib": mem,
        "python": sys.version.split()[0],
        "load_at_start": load[0],
    }


def verdicts(result: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for name, (op, target) in TARGETS.items():
        value = result.get(name)
        met = None if value is None else (value >= target if op == ">=" else value <= target)
        out[name] = {"target": f"{op} {target:g}", "value": value, "met": met}
    return out


async def run_async(opts: BenchOptions, tmp: Path) -> dict[str, Any]:
    prefix = f"bench{uuid.uuid4().hex[:8]}-"
    settings = load_settings(topic_prefix=prefix, partitions=opts.partitions)
    result: dict[str, Any] = {
        "parameters": {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(opts).items()},
        "machine": machine(),
        "prefix": prefix,
    }
    result["parameters"]["latency_rates"] = list(opts.latency_rates)
    result["parameters"]["memory_stores"] = list(opts.memory_stores)
    topic = settings.topic("interactions")
    if not opts.skip_pipeline or not opts.skip_latency:
        log(f"preloading {opts.events:,} events ({opts.source}) into {topic}")
        sent, took = await produce(settings, topic, preload_records(opts))
        result["preload"] = {"events": sent, "seconds": took, "events_per_s": sent / took}
        raw = await raw_consume(settings, topic, sent)
        log(f"raw consume: {raw['events_per_s']:,.0f} records/s")
        result["raw_consume"] = raw
        if not opts.skip_floor:
            result["faust_floor"] = await floor_phase(settings, topic, sent, opts, tmp)
        if not opts.skip_peer:
            result["peer"] = await peer_phase(settings, topic, sent, opts, tmp)
        workers = Workers(prefix, opts, tmp)
        try:
            if not opts.skip_pipeline:
                log(f"pipeline: {opts.workers} worker(s), {opts.partitions} partitions, {opts.store} store")
                pipe = await pipeline_phase(settings, workers, sent, opts)
                result["pipeline"] = pipe
                result["events_per_s"] = pipe["events_per_s"]
                result["events_per_cpu_s"] = pipe["events_per_cpu_s"]
                result["ratio_to_raw_consume"] = pipe["events_per_s"] / raw["events_per_s"]
                floors = result.get("faust_floor", {})
                if "three-hops" in floors:
                    floor = floors["three-hops"]["events_per_s"]
                    result["ratio_to_faust_floor"] = pipe["events_per_s"] / floor
                if "three-hops-batched" in floors:
                    floor = floors["three-hops-batched"]["events_per_s"]
                    result["ratio_to_batched_floor"] = pipe["events_per_s"] / floor
                if "events_per_s" in result.get("peer", {}):
                    result["ratio_to_peer"] = pipe["events_per_s"] / result["peer"]["events_per_s"]
                result["higgs_replay_s"] = HIGGS_EVENTS / pipe["events_per_s"]
                log(
                    f"pipeline: {pipe['events_per_s']:,.0f} events/s "
                    f"({result['ratio_to_raw_consume']:.4f} x raw)"
                )
            else:
                workers.start()
            workers.wait_healthy()
            await drain(settings, opts.timeout)
            if not opts.skip_latency:
                result["latency"] = []
                for spec in opts.latency_rates:
                    if spec == "auto":
                        if "events_per_s" not in result:
                            continue
                        rate = round(0.5 * result["events_per_s"])
                    else:
                        rate = float(spec)
                    log(f"latency: {rate:,.0f} events/s for {opts.latency_seconds:g}s")
                    lat = await latency_phase(settings, rate, opts.latency_seconds, opts)
                    lat["spec"] = spec
                    result["latency"].append(lat)
                    log(f"latency: p50 {lat['p50_ms']:,.0f} ms, p99 {lat['p99_ms']:,.0f} ms")
                    await drain(settings, opts.timeout)
                if result["latency"]:
                    main = result["latency"][0]
                    result["p50_latency_ms"] = main["p50_ms"]
                    result["p99_latency_ms"] = main["p99_ms"]
                    result["latency_rate"] = main["rate"]
        finally:
            workers.stop()
            if opts.keep_logs is not None:
                opts.keep_logs.mkdir(parents=True, exist_ok=True)
                for w in workers.procs:
                    shutil.copy(w.log, opts.keep_logs / w.log.name)
    if not opts.skip_memory:
        memory = memory_phase(opts, tmp)
        result["memory"] = memory
        if "memory" in memory:
            result["rss_mib_per_100k_users"] = memory["memory"]["rss_mib_per_100k_users"]
            result["state_bytes_per_user"] = memory["memory"]["rss_bytes_per_user"]
        if "rocksdb" in memory:
            result["rocksdb_rss_mib_per_100k_users"] = memory["rocksdb"]["rss_mib_per_100k_users"]
            result["rocksdb_disk_bytes_per_user"] = memory["rocksdb"]["disk_bytes_per_user"]
    result["targets"] = verdicts(result)
    return result


def run(opts: BenchOptions) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="sway-bench-") as tmp:
        return asyncio.run(run_async(opts, Path(tmp)))


def _fmt(value: Any, unit: str = "") -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        text = f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.3g}"
    else:
        text = f"{value:,}"
    return f"{text}{unit}"


def format_report(r: dict[str, Any]) -> str:
    p = r["parameters"]
    lines = [
        f"sway bench — {p['events']:,} events ({p['source']}), {p['workers']} worker(s), "
        f"{p['partitions']} partitions, {p['store']} store, {r['machine'].get('core', '?')} core; "
        f"machine: {r['machine']['cpus']} CPUs, {r['machine']['cpu']}",
        "",
        f"{'measure':<38} {'result':>14}   target",
    ]

    def row(name: str, value: Any, unit: str = "", key: str | None = None) -> None:
        t = r["targets"].get(key or "", None)
        verdict = ""
        if t is not None and t["met"] is not None:
            verdict = f"{t['target']}  {'met' if t['met'] else 'NOT met'}"
        lines.append(f"{name:<38} {_fmt(value, unit):>14}   {verdict}")

    if "preload" in r:
        row("preload (producer), events/s", r["preload"]["events_per_s"])
        row("raw consume (bare aiokafka), events/s", r["raw_consume"]["events_per_s"])
    for mode, f in r.get("faust_floor", {}).items():
        row(f"Faust floor ({mode}), records/s", f["events_per_s"])
        row(f"Faust floor ({mode}), per CPU-second", f["records"] / f["cpu_s"] if f["cpu_s"] else None)
    if "pipeline" in r:
        pipe = r["pipeline"]
        row("pipeline end to end, events/s", r["events_per_s"], key="events_per_s")
        row("ratio to raw consume", r["ratio_to_raw_consume"], key="ratio_to_raw_consume")
        if "ratio_to_faust_floor" in r:
            row("ratio to Faust floor (three hops)", r["ratio_to_faust_floor"])
        row("worker CPU, events per CPU-second", pipe["events_per_cpu_s"])
        row("563k Higgs replay, projected s", r["higgs_replay_s"], " s", key="higgs_replay_s")
        row("worker peak RSS", pipe["worker_peak_rss_mib"], " MiB")
    for lat in r.get("latency", []):
        key = "p99_latency_ms" if lat is r["latency"][0] else None
        row(f"latency @ {lat['rate']:,.0f}/s (sent {lat['achieved_rate']:,.0f}/s) p50", lat["p50_ms"], " ms")
        row(
            f"latency @ {lat['rate']:,.0f}/s p99 ({lat['probes_scored']}/{lat['probes']} probes)",
            lat["p99_ms"],
            " ms",
            key=key,
        )
    for store, m in r.get("memory", {}).items():
        row(
            f"{store} store: RSS per user",
            m["rss_bytes_per_user"],
            " B",
            key="state_bytes_per_user" if store == "memory" else None,
        )
        row(f"{store} store: RSS per 100k users", m["rss_mib_per_100k_users"], " MiB")
        row(f"{store} store: encoded state per user", m["encoded_bytes_per_user"], " B")
        if m.get("disk_bytes_per_user") is not None:
            row(f"{store} store: disk per user", m["disk_bytes_per_user"], " B")
    return "\n".join(lines)


def _probe_main(argv: list[str]) -> None:
    ap = argparse.ArgumentParser(prog="python -m stream.bench.runner memory-probe")
    ap.add_argument("--store", choices=["memory", "rocksdb"], required=True)
    ap.add_argument("--users", type=int, required=True)
    ap.add_argument("--templates", type=int, required=True)
    ap.add_argument("--higgs", type=Path, default=HIGGS)
    ap.add_argument("--dir", type=Path, required=True)
    a = ap.parse_args(argv)
    out = memory_probe(a.store, a.users, a.templates, a.higgs, a.dir)
    sys.stdout.write(orjson.dumps(out).decode() + "\n")


if __name__ == "__main__":
    if sys.argv[1:2] == ["memory-probe"]:
        _probe_main(sys.argv[2:])
    else:
        sys.stderr.write("usage: sway bench (this module's CLI is the `sway bench` command)\n")
        sys.exit(2)
