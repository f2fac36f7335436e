"""`sway`: the command line of docs/contract.md."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import click
from tqdm import tqdm

from stream.broker import BrokerError, LocalBroker, kafka_version
from stream.codec import dumps, loads
from stream.settings import load_settings


@click.group()
def main() -> None:
    """Sway: live influence scores from social interactions on Apache Kafka."""


# --- broker ---------------------------------------------------------------------------------


@main.group()
def broker() -> None:
    """The local single-node Kafka (KRaft) that Sway fetches and runs for development and tests."""


def _local_broker_or_skip() -> LocalBroker | None:
    settings = load_settings()
    if not settings.bootstrap_is_local_default:
        click.echo(f"KAFKA_BOOTSTRAP_SERVERS={settings.kafka_bootstrap_servers}: nothing local to manage")
        return None
    return LocalBroker()


@broker.command("start")
def broker_start() -> None:
    """Fetch Kafka (once), format storage (once), start it and wait until it accepts connections."""
    local = _local_broker_or_skip()
    if local is None:
        return
    try:
        click.echo(f"kafka {kafka_version()}: {local.start()} on localhost:{local.port}")
    except BrokerError as exc:
        raise click.ClickException(str(exc)) from exc


@broker.command("stop")
def broker_stop() -> None:
    """Shut the local broker down cleanly."""
    local = _local_broker_or_skip()
    if local is not None:
        click.echo(local.stop())


@broker.command("status")
def broker_status() -> None:
    local = _local_broker_or_skip()
    if local is not None:
        click.echo(local.status())


# --- worker ---------------------------------------------------------------------------------


@main.command()
@click.option("--web-port", type=int, default=None, help="Overrides SWAY_WEB_PORT.")
def worker(web_port: int | None) -> None:
    """Run a Sway worker (edge, enrich, score, sweep, HTTP API)."""
    import faust

    from stream import gc_tuning
    from stream.kafka import ensure_topics
    from stream.pipeline.app import create_app
    from stream.pipeline.topology import topic_configs

    overrides = {"web_port": web_port} if web_port is not None else {}
    settings = load_settings(**overrides)
    configs = topic_configs(settings)
    asyncio.run(ensure_topics(settings, configs, configs=configs))
    app, _ = create_app(settings)
    gc_tuning.tune()
    runner = faust.Worker(app, loglevel=settings.log_level, quiet=True)
    # Faust's start-up spinner turns the root logger to DEBUG (every aiokafka debug line then
    # builds a LogRecord: 3% of a worker's time under paced load); the level asked for holds
    runner.spinner = None
    runner.execute_from_commandline()


#: Options every command that reads a replay file takes (replay, rescore).
file_format = click.option(
    "--format",
    "fmt",
    type=click.Choice(["auto", "jsonl", "snap"]),
    default="auto",
    show_default=True,
    help="JSON Lines (contract events) or SNAP Higgs activity lines.",
)
file_limit = click.option("--limit", type=int, default=None, help="Only the first N records.")


# --- producers ------------------------------------------------------------------------------


async def _produce(
    records: Iterator[tuple[bytes | None, bytes]],
    rate: float,
    total: int | None,
    desc: str,
    progress: bool = True,
) -> int:
    from stream.kafka import send_all

    settings = load_settings()
    with tqdm(
        total=total,
        unit="ev",
        desc=desc,
        disable=not progress,
        smoothing=0.1,
        mininterval=0.5,
        file=sys.stderr,
    ) as bar:
        topic = settings.topic("interactions")
        return await send_all(settings, topic, records, rate=rate, on_sent=bar.update)


@main.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@file_format
@click.option("--rate", type=float, default=0.0, help="Events per second (0 = as fast as possible).")
@file_limit
@click.option("--quiet", is_flag=True, help="No progress bar.")
def replay(file: Path, fmt: str, rate: float, limit: int | None, quiet: bool) -> None:
    """Send a file of interactions to the `interactions` topic (invalid lines too: they go to the DLQ)."""
    from stream.producers.replay import count_lines, records

    total = count_lines(file, limit)
    began = time.monotonic()
    sent = asyncio.run(_produce(records(file, fmt, limit), rate, total, file.name, not quiet))  # type: ignore[arg-type]
    took = time.monotonic() - began
    click.echo(f"replayed {sent} records from {file} in {took:.1f}s ({sent / max(took, 1e-9):,.0f}/s)")


def _simulated(users: int, days: float, seed: int, live: bool) -> Iterator[tuple[bytes | None, bytes]]:
    from stream.producers.simulate import World, WorldConfig

    world = World(WorldConfig(users=users, days=days, seed=seed))
    if not live:
        for event in world.events():
            yield str(event["actor_id"]).encode(), dumps(event)
        return
    start = int(time.time() * 1000)
    for event in world.live(start):
        event["ts"] = max(int(time.time() * 1000), start)  # live traffic carries wall-clock time
        yield str(event["actor_id"]).encode(), dumps(event)


@main.command()
@click.option("--users", type=int, default=2000, show_default=True)
@click.option("--days", type=float, default=7.0, show_default=True, help="Simulated history to generate.")
@click.option("--rate", type=float, default=0.0, help="Events per second (0 = as fast as possible).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--live", is_flag=True, help="Endless traffic stamped with wall-clock time (for `sway dev`).")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def simulate(users: int, days: float, rate: float, seed: int, live: bool, quiet: bool) -> None:
    """Send a synthetic social world (power-law audiences, topics, networks, a few bots)."""
    if live and rate <= 0:
        rate = 200.0
    began = time.monotonic()
    sent = asyncio.run(_produce(_simulated(users, days, seed, live), rate, None, "simulate", not quiet))
    click.echo(f"simulated {sent} events in {time.monotonic() - began:.1f}s")


# --- reading scores -------------------------------------------------------------------------


@main.command()
@click.argument("user")
@click.option("--explain", is_flag=True, help="Components, top engagers and recent reasons.")
@click.option("--url", default=None, help="Worker URL (default http://localhost:$SWAY_WEB_PORT).")
def score(user: str, explain: bool, url: str | None) -> None:
    """Print a user's current score from a worker's HTTP API."""
    settings = load_settings()
    base = url or f"http://localhost:{settings.web_port}"
    path = f"/users/{urllib.request.quote(user, safe='')}" + ("/explain" if explain else "")
    try:
        with urllib.request.urlopen(base + path, timeout=10) as response:
            click.echo(json.dumps(json.loads(response.read()), indent=2))
    except urllib.error.HTTPError as exc:
        raise click.ClickException(f"{exc.code}: {exc.read().decode(errors='replace')}") from exc
    except urllib.error.URLError as exc:
        raise click.ClickException(f"no worker at {base}: {exc.reason}") from exc


async def _latest_scores(timeout: float) -> dict[str, dict[str, object]]:
    from stream.kafka import read_topic

    settings = load_settings()
    latest: dict[str, dict[str, object]] = {}
    async for key, value in read_topic(settings, settings.topic("scores"), timeout=timeout):
        if key is None:
            continue
        if value is None:
            latest.pop(key.decode(), None)
        else:
            latest[key.decode()] = loads(value)
    return latest


def _leaderboard(latest: dict[str, dict[str, object]], limit: int) -> str:
    rows = sorted(latest.values(), key=lambda s: -float(s["score"]))[:limit]  # type: ignore[arg-type]
    lines = [f"{'#':>3}  {'user':<16} {'score':>6}  {'reach':>6} {'ampl':>6} {'netw':>6}  cause"]
    for i, s in enumerate(rows, 1):
        c = s["components"]
        assert isinstance(c, dict)
        lines.append(
            f"{i:>3}  {str(s['user_id'])[:16]:<16} {s['score']:>6.1f}  {c['reach']:>6.1f} "
            f"{c['amplification']:>6.1f} {c['network']:>6.1f}  {s['cause']}"
        )
    return "\n".join(lines)


@main.command()
@click.option("--limit", type=int, default=15, show_default=True)
@click.option("--watch/--once", default=False, help="Refresh every few seconds until Ctrl-C.")
@click.option("--interval", type=float, default=2.0, show_default=True)
def top(limit: int, watch: bool, interval: float) -> None:
    """The leaderboard, read from the `scores` topic."""
    while True:
        latest = asyncio.run(_latest_scores(timeout=30))
        board = _leaderboard(latest, limit)
        if watch:
            click.clear()
            click.echo(f"sway top — {len(latest)} users scored — {time.strftime('%H:%M:%S')}\n")
        click.echo(board)
        if not watch:
            return
        time.sleep(interval)


# --- the whole thing ------------------------------------------------------------------------


def _wait_healthy(port: int, deadline: float) -> bool:
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://localhost:{port}/health", timeout=2) as r:
                if r.status == 200:
                    return True
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.5)
    return False


def _dev_board(url: str, limit: int = 15) -> tuple[int, str]:
    """The merged leaderboard from a worker's HTTP API, as text (0 users while it starts)."""
    try:
        with urllib.request.urlopen(f"{url}/leaderboard?limit={limit}", timeout=5) as r:
            rows = loads(r.read())["users"]
    except (urllib.error.URLError, OSError, KeyError):
        return 0, "(waiting for the leaderboard…)"
    lines = [f"{'#':>3}  {'user':<20} {'score':>6}  {'d1':>6}"]
    for row in rows:
        user, d1 = str(row["user_id"])[:20], row["trend"]["d1"]
        lines.append(f"{row['rank']:>3}  {user:<20} {row['score']:>6.2f}  {d1:>+6.2f}")
    return len(rows), "\n".join(lines)


@main.command()
@click.option("--rate", type=float, default=200.0, show_default=True, help="Simulated events per second.")
@click.option("--users", type=int, default=2000, show_default=True)
@click.option("--workers", "n_workers", type=int, default=1, show_default=True, help="Workers to run.")
@click.option("--keep-broker", is_flag=True, help="Leave the broker running on exit.")
def dev(rate: float, users: int, n_workers: int, keep_broker: bool) -> None:
    """Everything on this machine: broker, worker(s), simulated traffic, the dashboard. Ctrl-C stops it."""
    settings = load_settings()
    local = LocalBroker() if settings.bootstrap_is_local_default else None
    started_broker = False
    if local is not None:
        started_broker = local.pid() is None
        click.echo(f"kafka {kafka_version()}: {local.start()}")
    sway = [sys.executable, "-m", "stream"]
    logs = settings.data_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    children: list[subprocess.Popen[bytes]] = []
    ports = [settings.web_port + i for i in range(n_workers)]
    try:
        for i, port in enumerate(ports):
            log = (logs / f"worker-{i + 1}.log").open("ab")
            env = {**os.environ, "SWAY_WEB_PORT": str(port)}
            children.append(
                subprocess.Popen([*sway, "worker"], stdout=log, stderr=subprocess.STDOUT, env=env)
            )
        for i, port in enumerate(ports):
            if not _wait_healthy(port, time.monotonic() + 120):
                raise click.ClickException(f"worker {i + 1} is not healthy; see {logs}/worker-{i + 1}.log")
        sim_log = (logs / "simulate.log").open("ab")
        simulate = [*sway, "simulate", "--live", "--quiet", "--rate", str(rate), "--users", str(users)]
        children.append(subprocess.Popen(simulate, stdout=sim_log, stderr=subprocess.STDOUT))
        url = f"http://localhost:{ports[0]}"
        while True:
            n, board = _dev_board(url)
            click.clear()
            click.secho(f"Sway dev — dashboard: {url}/", bold=True)
            click.echo(f"API: {url}/leaderboard  {url}/users/<id>  {url}/health  {url}/metrics")
            click.echo(f"{n_workers} worker(s) on ports {', '.join(map(str, ports))}; simulated traffic at "
                       f"{rate:.0f} ev/s; logs in {logs}. Ctrl-C stops everything.\n")
            click.echo(f"top {n} — {time.strftime('%H:%M:%S')}")
            click.echo(board)
            time.sleep(2)
    except KeyboardInterrupt:
        click.echo("\nstopping…")
    finally:
        for child in reversed(children):
            if child.poll() is None:
                child.send_signal(signal.SIGINT)
        for child in reversed(children):
            try:
                child.wait(timeout=20)
            except subprocess.TimeoutExpired:
                child.kill()
        click.echo("stopped worker(s) and traffic")
        if local is not None and started_broker and not keep_broker:
            click.echo(local.stop())


@main.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@file_format
@file_limit
@click.option("--top", "top_n", type=int, default=15, show_default=True, help="Rows to print.")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write every user's score as JSON Lines (score-update shape) here.",
)
def rescore(file: Path, fmt: str, limit: int | None, top_n: int, out: Path | None) -> None:
    """Batch reference: the same core over a file, no Kafka (compare with the stream)."""
    from stream import gc_tuning
    from stream.batch import rescore as run_batch
    from stream.pipeline.score import update_message
    from stream.producers.replay import records

    gc_tuning.tune()
    settings = load_settings()
    params = settings.model_params()
    began = time.monotonic()
    run = run_batch(
        (value for _, value in records(file, fmt, limit)),
        params,  # type: ignore[arg-type]
        settings.emit_min_delta,
    )
    scores = run.scores(params)
    took = time.monotonic() - began
    latest = {
        u: update_message(run.users[u], s, "event", run.now, int(time.time() * 1000))
        for u, s in scores.items()
    }
    if out is not None:
        with out.open("wb") as f:
            for message in latest.values():
                f.write(dumps(message) + b"\n")
    click.echo(_leaderboard(latest, top_n))
    click.echo(
        f"\n{run.events} records, {run.rejected} rejected, {run.duplicates} duplicates, "
        f"{len(scores)} users scored in {took:.1f}s ({run.events / max(took, 1e-9):,.0f}/s)"
    )


@main.command()
@click.option("--events", type=int, default=200_000, show_default=True, help="Events preloaded.")
@click.option(
    "--source", type=click.Choice(["mixed", "higgs", "simulate"]), default="mixed", show_default=True
)
@click.option("--users", type=int, default=20_000, show_default=True, help="Simulated world size.")
@click.option("--partitions", type=int, default=8, show_default=True)
@click.option("--workers", type=int, default=1, show_default=True)
@click.option("--store", type=click.Choice(["memory", "rocksdb"]), default="memory", show_default=True)
@click.option(
    "--latency-rate",
    "latency_rates",
    multiple=True,
    help="Events/s of a paced run ('auto': half the measured throughput); repeatable [5000, auto].",
)
@click.option("--latency-seconds", type=float, default=10.0, show_default=True)
@click.option("--memory-users", type=int, default=1_000_000, show_default=True)
@click.option(
    "--memory-templates",
    type=int,
    default=200_000,
    show_default=True,
    help="Higgs lines whose states are copied.",
)
@click.option("--memory-store", "memory_stores", multiple=True, type=click.Choice(["memory", "rocksdb"]))
@click.option("--skip-floor", is_flag=True, help="Skip the bare-Faust ceilings (stream/bench/floor.py).")
@click.option("--skip-peer", is_flag=True, help="Skip the Quix Streams peer (stream/bench/peer.py).")
@click.option("--skip-pipeline", is_flag=True)
@click.option("--skip-latency", is_flag=True)
@click.option("--skip-memory", is_flag=True)
@click.option("--timeout", type=float, default=3600.0, show_default=True)
@click.option("--keep-logs", type=click.Path(file_okay=False, path_type=Path), default=None)
@click.option(
    "--py-spy",
    "py_spy",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Profile worker 1 over the pipeline phase (py-spy raw output).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def bench(
    as_json: bool, latency_rates: tuple[str, ...], memory_stores: tuple[str, ...], **options: object
) -> None:
    """Throughput (vs a bare consumer, bare Faust and a Quix Streams peer), latency under paced
    load, and memory per user."""
    from stream.bench import BenchOptions, format_report, run

    opts = BenchOptions(
        latency_rates=latency_rates or ("5000", "auto"),
        memory_stores=memory_stores or ("memory", "rocksdb"),
        **options,  # type: ignore[arg-type]
    )
    result = run(opts)
    click.echo(json.dumps(result, indent=2) if as_json else format_report(result))


@main.group()
def evaluate() -> None:
    """Offline evaluation of the score (same core as the stream, no Kafka)."""


#: The Higgs replay both commands read (tests read it from ../shared/data too).
HIGGS_FILE = click.option(
    "--file",
    "path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "higgs-activity_time.txt.gz",
    show_default=True,
)


@evaluate.command("higgs")
@HIGGS_FILE
@click.option(
    "--cut",
    "cuts",
    type=float,
    multiple=True,
    help="Cut as a fraction of the time span (repeatable; default 0.25, 0.40, 0.55, 0.70, 0.80, "
    "of which 0.25 and 0.80 are held out).",
)
@click.option("--limit", type=int, default=None, help="Only the first N lines.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--bootstrap", "resamples", type=click.IntRange(min=0), default=200, show_default=True,
              help="Paired bootstrap resamples per cut and horizon (0: no intervals).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the bootstrap.")
@click.option("--report", "html", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write a self-contained HTML report (tables, inline SVG plots) to FILE.")
def evaluate_higgs(path: Path, cuts: tuple[float, ...], limit: int | None, as_json: bool,
                   resamples: int, seed: int, html: Path | None) -> None:
    """Does the score predict each user's distinct future engagers better than the baselines?"""
    from stream.evaluate.higgs import format_report, run_higgs

    settings = load_settings()
    params = settings.model_params()
    report = run_higgs(path, list(cuts) or None, params, limit, True, bootstrap=resamples, seed=seed)
    click.echo(json.dumps(report.to_json(), indent=2) if as_json else format_report(report))
    if html is not None:
        from stream.evaluate.report_html import render

        html.write_text(render(report), encoding="utf-8")
        click.echo(f"report written to {html}", err=True)


@evaluate.command("census")
@HIGGS_FILE
@click.option("--limit", type=int, default=None, help="Only the first N lines.")
@click.option("--json", "as_json", is_flag=True, help="Print the census as JSON.")
def evaluate_census(path: Path, limit: int | None, as_json: bool) -> None:
    """How often each integrity rule fires on Higgs, and what switching it off alone does to the
    protocol's within-group and overall Spearman (same cuts as `evaluate higgs`)."""
    from stream.evaluate.census import format_census, run_census, to_json

    results = run_census(path, load_settings().model_params(), limit, progress=True)
    click.echo(json.dumps(to_json(results), indent=2) if as_json else format_census(results))


@evaluate.command("scenarios")
@click.option("--bots", type=int, default=300, show_default=True, help="Size of the bot farm (scenario 1).")
@click.option("--quiet", is_flag=True, help="No progress messages on stderr.")
def evaluate_scenarios(bots: int, quiet: bool) -> None:
    """Adversarial worlds through one real worker: does each bound on gaming hold?"""
    from stream.evaluate.scenarios import format_table, run_scenarios

    def progress(message: str) -> None:
        if not quiet:
            click.echo(message, err=True)

    click.echo(format_table(run_scenarios(load_settings(), progress, bots)))


if __name__ == "__main__":
    main()
