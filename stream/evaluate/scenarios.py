"""Adversarial scenarios through the real pipeline (issue C): `run_scenarios` and its table.

Every scenario is a small deterministic world of contract events, injected into the same time
span as a simulated background population (`World`), each with its own user-id prefix so the
scenarios do not interact. All of them go through ONE real `sway worker` subprocess (fresh topic
prefix), sent by `sway replay` at a fixed rate; then every needed score is read over HTTP. The
holiday-vs-silence scenario needs stream time to run 40 days ahead, so it uses the batch
reference (`stream.batch`, the same core) instead.
"""

from __future__ import annotations

import contextlib
import math
import random
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from stream.batch import BatchRun
from stream.local_worker import WorkerProcess, free_port, worker_env
from stream.producers.simulate import World, WorldConfig
from stream.settings import Settings, load_settings

__all__ = ["Results", "ScenarioResult", "format_table", "run_scenarios"]

ROOT = Path(__file__).resolve().parents[2]
T0 = 1767225600000  # 2026-01-01T00:00:00Z
HOUR = 3_600_000
DAY = 86_400_000
MINUTE = 60_000
RATE = 1500

Event = dict[str, Any]
Progress = Callable[[str], None]


@dataclass
class ScenarioResult:
    name: str
    effect: float
    effect_text: str
    bound: str
    holds: bool
    how: str = "stream"


class Results(list[ScenarioResult]):
    """The scenarios' results, plus what the run measured besides them (for the table's footer)."""

    background_median: float = float("nan")
    events_sent: int = 0
    seconds: float = 0.0


# --- building worlds ------------------------------------------------------------------------


class Builder:
    """Collects events with unique ids under one scenario prefix."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.events: list[Event] = []
        self._n = 0

    def add(
        self,
        type_: str,
        actor: str,
        ts: int,
        target: str | None = None,
        content: str | None = None,
        topics: list[str] | None = None,
        sentiment: float | None = None,
        network: str = "twitter",
    ) -> Event:
        self._n += 1
        e: Event = {
            "event_id": f"{self.prefix}e{self._n}",
            "type": type_,
            "network": network,
            "actor_id": actor,
            "ts": int(ts),
        }
        if target is not None:
            e["target_id"] = target
        if content is not None:
            e["content_id"] = content
        if topics is not None:
            e["topics"] = topics
        if sentiment is not None:
            e["sentiment"] = sentiment
        self.events.append(e)
        return e

    def post(self, actor: str, ts: int, topics: list[str] | None = None) -> str:
        content = f"{self.prefix}p{self._n + 1}"
        self.add("post", actor, ts, content=content, topics=topics or ["coffee"])
        return content


def background(seed: int) -> tuple[list[Event], list[str], list[tuple[str, str, int]]]:
    """The background population: events, human ids, and its posts (author, content, ts)."""
    world = World(WorldConfig(users=300, days=2, seed=seed, start_ms=T0))
    events = list(world.events())
    humans = [u.user_id for u in world.users if not u.is_bot]
    posts = [
        (str(e["actor_id"]), str(e["content_id"]), int(e["ts"]))  # type: ignore[call-overload]
        for e in events
        if e["type"] == "post" and e.get("content_id")
    ]
    return events, humans, posts


def bot_farm(rng: random.Random, bg_posts: list[tuple[str, str, int]], bots: int = 300) -> Builder:
    b = Builder("s1-")
    client = "s1-client"
    client_posts = [b.post(client, T0 + int(f * DAY)) for f in (0.1, 0.3, 0.45)]
    early = [p for p in bg_posts if p[2] < T0 + DAY // 2] or bg_posts
    for i in range(bots):
        bot = f"s1-bot{i}"
        for _ in range(120):
            ts = T0 + DAY // 2 + rng.randrange(DAY)
            kind = rng.choice(("like", "like", "retweet"))
            if rng.random() < 0.25:
                b.add(kind, bot, ts, client, rng.choice(client_posts))
            else:
                author, content, _ = rng.choice(early)
                b.add(kind, bot, ts, author, content)
    return b


def pod_and_control(rng: random.Random) -> Builder:
    b = Builder("s2-")
    pod = [f"s2-pod{i}" for i in range(8)]
    ctl = [f"s2-ctl{i}" for i in range(8)]
    post_times = (T0 + int(0.3 * DAY), T0 + int(1.3 * DAY))
    for day, pt in enumerate(post_times):
        pod_posts = {m: b.post(m, pt + i * MINUTE) for i, m in enumerate(pod)}
        ctl_posts = {m: b.post(m, pt + i * MINUTE) for i, m in enumerate(ctl)}
        # the pod: everyone likes and retweets every other member's post
        for m in pod:
            for other in pod:
                if other != m:
                    for kind in ("like", "retweet"):
                        b.add(kind, m, pt + 10 * MINUTE + rng.randrange(2 * HOUR), other, pod_posts[other])
        for c, m in enumerate(ctl):
            # 7 strangers like and retweet this post (the same volume as from the pod) ...
            for j in range(7):
                s = f"s2-str{c}-{day}-{j}"
                b.post(s, T0 + rng.randrange(DAY // 4))
                t = pt + 10 * MINUTE + rng.randrange(2 * HOUR)
                b.add("like", s, t, m, ctl_posts[m])
                b.add("retweet", s, t + MINUTE, m, ctl_posts[m])
            # ... and the control account engages 7 other strangers (not the ones above)
            for j in range(7):
                s = f"s2-oth{c}-{day}-{j}"
                sp = b.post(s, T0 + rng.randrange(DAY // 4))
                t = pt + 10 * MINUTE + rng.randrange(2 * HOUR)
                b.add("like", m, t, s, sp)
                b.add("retweet", m, t + MINUTE, s, sp)
    return b


def storms(rng: random.Random) -> Builder:
    b = Builder("s3-")
    for target, prefix, sentiment in (("s3-A", "s3-neg", -0.8), ("s3-B", "s3-pos", 0.6)):
        post = b.post(target, T0 + DAY // 2)
        for j in range(200):
            who = f"{prefix}{j}"
            b.post(who, T0 + rng.randrange(DAY // 2))
            b.add(
                "reply",
                who,
                T0 + DAY // 2 + HOUR + rng.randrange(DAY - HOUR),
                target,
                post,
                sentiment=sentiment,
            )
    return b


def bought_followers(rng: random.Random) -> Builder:
    b = Builder("s4-")
    for j in range(2000):
        b.add("follow", f"s4-f{j}", T0 + DAY // 2 + rng.randrange(DAY), "s4-acct")
    return b


def modest(b: Builder, account: str, fans: str, rng_seed: int) -> tuple[list[str], list[int]]:
    """An account with 3 posts and 10 distinct (posting) fans; the same for every `rng_seed`."""
    rng = random.Random(rng_seed)
    posts = [b.post(account, T0 + int(f * DAY)) for f in (0.3, 0.6, 0.9)]
    times = []
    for i in range(10):
        fan = f"{fans}{i}"
        b.post(fan, T0 + rng.randrange(DAY // 4))
        t = T0 + int(0.9 * DAY) + 5 * MINUTE + rng.randrange(4 * HOUR)
        b.add("like", fan, t, account, posts[i % 3])
        times.append(t)
    return posts, times


def self_likes() -> Builder:
    b = Builder("s5-")
    posts, times = modest(b, "s5-self", "s5-fanS", 55)
    modest(b, "s5-twin", "s5-fanT", 55)
    start, end = T0 + int(0.3 * DAY) + MINUTE, min(times)
    rng = random.Random(5)
    for _ in range(500):
        b.add("like", "s5-self", start + rng.randrange(end - start), "s5-self", rng.choice(posts))
    return b


def duplicates() -> tuple[Builder, Builder]:
    once = Builder("s6-")
    modest(once, "s6-one", "s6-fanO", 66)
    thrice = Builder("s6d-")
    modest(thrice, "s6-dup", "s6-fanD", 66)
    thrice.events = [e for e in thrice.events for _ in range(3)]
    return once, thrice


def one_off_topic(rng: random.Random) -> Builder:
    b = Builder("s7-")
    acct = "s7-acct"
    birds = b.post(acct, T0 + int(0.3 * DAY), topics=["birds"])
    coffee = [b.post(acct, T0 + int(f * DAY), topics=["coffee"]) for f in (0.4, 0.5, 0.6)]
    for j in range(30):
        fan = f"s7-bfan{j}"
        b.post(fan, T0 + rng.randrange(DAY // 4), topics=["travel"])
        b.add("like", fan, T0 + int(0.3 * DAY) + HOUR + rng.randrange(DAY), acct, birds)
    for k, post in enumerate(coffee):
        for j in range(5):
            fan = f"s7-cfan{k}-{j}"
            b.post(fan, T0 + rng.randrange(DAY // 4), topics=["travel"])
            b.add("like", fan, T0 + int(0.7 * DAY) + rng.randrange(DAY), acct, post)
    return b


# --- the pipeline ---------------------------------------------------------------------------


class Worker(WorkerProcess):
    """A worker of a fresh deployment, plus what the scenarios read from it."""

    def __init__(self, settings: Settings, tmp: Path) -> None:
        port = free_port()
        env = worker_env(f"sc{uuid.uuid4().hex[:10]}-", tmp / "data", port)
        env["KAFKA_BOOTSTRAP_SERVERS"] = settings.kafka_bootstrap_servers
        super().__init__(env, port, tmp / "worker.log")

    def _alive(self) -> None:
        if self.proc is not None and self.proc.poll() is not None:
            raise RuntimeError(f"worker exited {self.proc.returncode}:\n{self.tail()}")

    def get(self, path: str) -> tuple[int, bytes]:
        return self.get_raw(path)

    def counters(self) -> dict[str, float]:
        _, body = self.get("/metrics")
        out: dict[str, float] = {}
        for line in body.decode().splitlines():
            if line.startswith("#") or " " not in line:
                continue
            name, _, value = line.rpartition(" ")
            with contextlib.suppress(ValueError):
                out[name] = float(value)
        return out

    def wait_settled(self, valid: int, timeout: float = 180.0, quiet: float = 3.0) -> None:
        """Until every sent event passed ingest and no new event-caused work shows for `quiet` s."""
        deadline = time.monotonic() + timeout
        last: tuple[float, ...] | None = None
        since = time.monotonic()
        while time.monotonic() < deadline:
            self._alive()
            c = self.counters()
            seen = c.get("sway_events_valid_total", 0.0)
            marker = tuple(
                v
                for k, v in sorted(c.items())
                if k.startswith(
                    (
                        'sway_score_updates_total{cause="event"',
                        "sway_events_discounted_total",
                        "sway_events_duplicate_total",
                        "sway_events_valid_total",
                    )
                )
            )
            now = time.monotonic()
            if marker != last:
                last, since = marker, now
            elif seen >= valid and now - since >= quiet:
                return
            time.sleep(0.25)
        raise RuntimeError(
            f"worker did not settle in {timeout:.0f}s (valid events expected {valid}):\n{self.tail()}"
        )

    def user(self, user_id: str) -> dict[str, Any] | None:
        status, body = self.get(f"/users/{urllib.parse.quote(user_id)}")
        if status == 404:
            return None
        if status != 200:
            raise RuntimeError(f"GET /users/{user_id} -> {status}: {body[:200]!r}")
        return orjson.loads(body)  # type: ignore[no-any-return]

    def score(self, user_id: str) -> float:
        body = self.user(user_id)
        return 1.0 if body is None else float(body["score"])


# --- the holiday scenario (batch core) ------------------------------------------------------


def holiday(settings: Settings) -> list[ScenarioResult]:
    b = Builder("s8-")
    modest(b, "s8-H", "s8-fanH", 88)
    modest(b, "s8-S", "s8-fanS", 88)
    params = settings.model_params()
    run = BatchRun()
    run.feed_all((orjson.dumps(e) for e in sorted(b.events, key=lambda e: e["ts"])), params)
    last = run.now
    before = run.scores(params, last)
    h = before["s8-H"].score - run.scores(params, last + 4 * DAY)["s8-H"].score
    s = before["s8-S"].score - run.scores(params, last + 40 * DAY)["s8-S"].score
    return [
        ScenarioResult(
            "8a holiday: 4 idle days",
            h,
            f"drop {h:.2f} pts",
            "drop <= 0.5 (grace holds)",
            h <= 0.5,
            "batch core",
        ),
        ScenarioResult(
            "8b long silence: 40 idle days", s, f"drop {s:.2f} pts", "drop > 0 (decays)", s > 0, "batch core"
        ),
    ]


# --- the run --------------------------------------------------------------------------------


def run_scenarios(
    settings_base: Settings | None = None, progress: Progress | None = None, bots: int = 300
) -> Results:
    """Build every world, send it through one real worker, measure, and compare with the bounds.

    `bots` sizes the bot farm (scenario 1), by far the largest world: the worker scores about
    600-700 events/s on one core, so 300 bots (36,000 actions) make the run ~100 s.
    """
    settings = settings_base or load_settings()
    began = time.monotonic()

    def say(message: str) -> None:
        if progress is not None:
            progress(f"[{time.monotonic() - began:5.1f}s] {message}")

    rng = random.Random(20260101)

    bg, humans, bg_posts = background(seed=11)
    s1 = bot_farm(rng, bg_posts, bots)
    s2 = pod_and_control(rng)
    s3 = storms(rng)
    s4 = bought_followers(rng)
    s5 = self_likes()
    s6a, s6b = duplicates()
    s7 = one_off_topic(rng)
    events = [*bg]
    for b in (s1, s2, s3, s4, s5, s6a, s6b, s7):
        events.extend(b.events)
    events.sort(key=lambda e: e["ts"])  # stable: duplicate deliveries stay together

    with tempfile.TemporaryDirectory(prefix="sway-scenarios-") as tmpdir:
        tmp = Path(tmpdir)
        path = tmp / "scenarios.jsonl"
        path.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in events))
        worker = Worker(settings, tmp)
        say(f"starting a worker (topic prefix {worker.env['SWAY_TOPIC_PREFIX']})")
        worker.start()
        try:
            worker.wait_healthy()
            say(f"replaying {len(events):,} events at {RATE}/s")
            done = subprocess.run(
                [sys.executable, "-m", "stream", "replay", str(path), "--rate", str(RATE), "--quiet"],
                env=worker.env,
                cwd=ROOT,
                capture_output=True,
                text=True,
                timeout=len(events) / RATE + 120,
            )
            if done.returncode != 0:
                raise RuntimeError(f"sway replay failed ({done.returncode}):\n{done.stderr[-2000:]}")
            say("waiting for the worker to settle")
            worker.wait_settled(len(events))
            say("reading scores")
            bodies = [worker.user(u) for u in humans]
            bg_scores = [float(body["score"]) for body in bodies if body is not None]
            median = statistics.median(bg_scores) if bg_scores else 1.0
            results = _measure(worker, median, bots)
        finally:
            worker.stop()
    results.extend(holiday(settings))
    out = Results(results)
    out.background_median, out.events_sent = median, len(events)
    out.seconds = time.monotonic() - began
    return out


def _ratio(a: float, b: float) -> float:
    return a / b if b else math.inf


def _measure(w: Worker, median: float, bots: int) -> list[ScenarioResult]:
    out: list[ScenarioResult] = []
    client = w.score("s1-client")
    out.append(
        ScenarioResult(
            f"1 bot farm ({bots} bots x 120/day)",
            client,
            f"client {client:.1f}",
            f"<= bg median {median:.1f}",
            client <= median,
        )
    )
    pod = statistics.median(w.score(f"s2-pod{i}") for i in range(8))
    ctl = statistics.median(w.score(f"s2-ctl{i}") for i in range(8))
    r = _ratio(pod, ctl)
    out.append(ScenarioResult("2 pod vs control", r, f"{pod:.1f}/{ctl:.1f} = {r:.2f}", "<= 0.80", r <= 0.8))
    lift_a, lift_b = w.score("s3-A") - 1.0, w.score("s3-B") - 1.0
    r = _ratio(lift_a, lift_b)
    out.append(
        ScenarioResult(
            "3 negative vs positive storm",
            r,
            f"lift {lift_a:.1f}/{lift_b:.1f} = {r:.2f}",
            "<= 0.50",
            r <= 0.5,
        )
    )
    f = w.score("s4-acct")
    out.append(
        ScenarioResult(
            "4 bought followers (2,000)", f, f"score {f:.1f}", f"<= bg median {median:.1f}", f <= median
        )
    )
    d = abs(w.score("s5-self") - w.score("s5-twin"))
    out.append(ScenarioResult("5 self-likes (500)", d, f"|diff| {d:.2f}", "<= 0.50", d <= 0.5))
    d = abs(w.score("s6-dup") - w.score("s6-one"))
    out.append(ScenarioResult("6 duplicated deliveries (x3)", d, f"|diff| {d:.2f}", "<= 0.50", d <= 0.5))
    body = w.user("s7-acct") or {}
    listed = any(t.get("topic") == "birds" for t in body.get("topics", []))
    out.append(
        ScenarioResult(
            "7 one-off topic (1 post, 30 likes)",
            float(listed),
            "listed" if listed else "not listed",
            "not listed",
            not listed,
        )
    )
    return out


def format_table(results: list[ScenarioResult]) -> str:
    rows = [("scenario", "measured effect", "bound", "holds/fails", "how")]
    rows += [(r.name, r.effect_text, r.bound, "holds" if r.holds else "FAILS", r.how) for r in results]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [" | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    held = sum(r.holds for r in results)
    lines.append("")
    if isinstance(results, Results):
        lines += [
            f"background median score: {results.background_median:.1f} (300 simulated users, 2 days)",
            f"events sent: {results.events_sent:,} through one worker; run took {results.seconds:.0f}s",
        ]
    lines.append(f"{held} of {len(results)} bounds hold")
    return "\n".join(lines)
