"""`sway evaluate higgs`: does the score predict who will be engaged with next?

One pass over a replay file (the SNAP Higgs activity lines `userA userB unix_seconds RT|MT|RE`,
userA acting on userB, or contract JSON Lines) through `stream.batch.BatchRun`, the same core as
the streaming pipeline. A cheap pre-scan (no scoring) reads the time span first.

Definitions:

- **cuts**: instants at fractions of the data's time span, start + f x (end - start); by default
  f = 0.40, 0.55 and 0.70. "Before the cut" means ts <= cut, "after" means ts > cut. When the
  event time first passes a cut, the Sway scores at the cut (`run.scores(params, at=cut)`) and
  the baselines are snapshotted; feeding then continues to count what happens after it.
- **users evaluated at a cut**: every user who received at least one interaction before the cut
  from another account (actor != target).
- **target** (ground truth): the number of distinct accounts that act on the user strictly
  after the cut until the end of the data (or until cut + horizon when a horizon is given),
  self-interactions excluded. Users with no future engagers have target 0.
- **baselines**, on the same users and pre-cut data only:
  (1) distinct engagers before the cut, (2) interactions received before the cut (a count of
  lines, self excluded), (3) PageRank of the directed pre-cut graph with edges actor -> target
  weighted by the number of interactions (damping 0.85, dangling mass spread uniformly), so being
  acted on by many or important accounts ranks high.
- **metrics**, per ranking: Spearman's rho against the target over all evaluated users (average
  ranks for ties), and the top-k overlap |top_k(ranking) ∩ top_k(target)| / k with k = 100,
  ties broken by ascending user id. Sway "beats" a baseline on a metric when it is strictly
  higher. The report also gives the median rank, under each method, of the target's top-k
  users, which shows where the misses are.

The means over cuts are plain means of each metric.
"""

from __future__ import annotations

import math
import statistics
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from tqdm import tqdm  # type: ignore[import-untyped, unused-ignore]

from stream.batch import BATCH, BatchRun
from stream.core.params import Params
from stream.evaluate import protocol
from stream.evaluate.metrics import pagerank, spearman, top_k, top_k_overlap
from stream.producers.replay import records

#: the protocol's cuts (why these, and which are held out: stream/evaluate/protocol.py)
DEFAULT_CUTS: tuple[float, ...] = protocol.PROTOCOL_CUTS
TOP_K = 100

SWAY = "sway score"
ENGAGERS = "distinct engagers"
INTERACTIONS = "interactions"
PAGERANK = "pagerank"
METHODS: tuple[str, ...] = (SWAY, ENGAGERS, INTERACTIONS, PAGERANK)
BASELINES: tuple[str, ...] = METHODS[1:]
TARGET = "target"
COMPONENTS: tuple[str, ...] = ("reach", "amplification", "network")
SIGNALS: tuple[str, ...] = ("engagers", "interactions", "posts", "amplifying", "network")

DEFINITIONS = (
    "users: received >= 1 interaction from another account (actor != target) before the cut",
    "target: distinct accounts acting on the user strictly after the cut, {horizon} "
    "(self excluded)",
    "baselines: distinct engagers before the cut; interactions received before the cut; "
    "PageRank (0.85) of the pre-cut graph actor -> target, weight = interactions",
    "metrics: Spearman rho vs target (average ranks); top-{k} overlap = "
    "|top{k}(method) & top{k}(target)| / {k}, ties by user id; "
    "med.rank = median rank under the method of the target's top {k}",
)


@dataclass(frozen=True)
class MethodResult:
    """How one ranking did against the target at one cut (or on average over cuts)."""

    name: str
    spearman: float
    overlap: float
    #: median rank (1 = best) that this method gives to the target's top-k users
    median_rank_of_top: float

    def to_json(self) -> dict[str, Any]:
        return {
            "method": self.name,
            "spearman": _finite(self.spearman),
            "overlap": _finite(self.overlap),
            "median_rank_of_top": _finite(self.median_rank_of_top),
        }


@dataclass(frozen=True)
class TopUser:
    """One of the target's best users at a cut, and where each method ranked it."""

    user_id: str
    target: int
    ranks: dict[str, int]
    values: dict[str, float]

    def to_json(self) -> dict[str, Any]:
        return {"user_id": self.user_id, "target": self.target, "ranks": self.ranks,
                "values": {k: _finite(v) for k, v in self.values.items()}}


@dataclass(frozen=True)
class CutResult:
    fraction: float
    cut_ms: int
    users: int
    #: evaluated users with at least one future engager
    users_engaged_after: int
    events_before: int
    events_after: int
    #: evaluated users that the batch run had no score for (counted as score 1)
    missing_scores: int
    methods: list[MethodResult]
    #: baseline -> metric ("spearman", "overlap") -> sway is strictly higher
    beats: dict[str, dict[str, bool]]
    top: list[TopUser]
    #: how much of a ranking's Spearman comes from ties (see `_tie_diagnostics`)
    ties: dict[str, float]
    #: method (and "target") -> user -> value; for analysis, not serialised
    values: dict[str, dict[str, float]] = field(repr=False, compare=False)

    def method(self, name: str) -> MethodResult:
        return next(m for m in self.methods if m.name == name)

    def to_json(self) -> dict[str, Any]:
        return {
            "fraction": self.fraction,
            "cut_ms": self.cut_ms,
            "cut": _iso(self.cut_ms),
            "users": self.users,
            "users_engaged_after": self.users_engaged_after,
            "events_before": self.events_before,
            "events_after": self.events_after,
            "missing_scores": self.missing_scores,
            "methods": [m.to_json() for m in self.methods],
            "beats": self.beats,
            "top": [t.to_json() for t in self.top],
            "ties": {k: _finite(v) for k, v in self.ties.items()},
        }


@dataclass(frozen=True)
class HiggsReport:
    path: str
    lines: int
    events: int
    rejected: int
    self_interactions: int
    out_of_order: int
    start_ms: int
    end_ms: int
    horizon_ms: int | None
    k: int
    cuts: list[CutResult]
    mean: list[MethodResult]
    mean_beats: dict[str, dict[str, bool]]
    seconds: float
    #: one result per cut and horizon (empty when the protocol was skipped)
    protocol: list[protocol.ProtocolResult] = field(default_factory=list)
    bootstrap: int = 0
    #: engagements each integrity rule discounted over the whole replay, summed over users
    #: (each engagement under its first reason: integrity.discount_reason)
    discounts: dict[str, float] = field(default_factory=dict)
    seed: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "lines": self.lines,
            "events": self.events,
            "rejected": self.rejected,
            "self_interactions": self.self_interactions,
            "out_of_order": self.out_of_order,
            "start_ms": self.start_ms,
            "end_ms": self.end_ms,
            "horizon_ms": self.horizon_ms,
            "k": self.k,
            "definitions": _definitions(self.k, self.horizon_ms),
            "cuts": [c.to_json() for c in self.cuts],
            "mean": {
                "methods": [m.to_json() for m in self.mean],
                "beats": self.mean_beats,
            },
            "seconds": round(self.seconds, 3),
            "discounts": self.discounts,
            "protocol": {
                "held_out": list(protocol.HELD_OUT),
                "horizons": [name for name, _ in protocol.HORIZONS],
                "metrics": list(protocol.METRICS),
                "compared_with": ENGAGERS,
                "bootstrap": self.bootstrap,
                "seed": self.seed,
                "results": [r.to_json() for r in self.protocol],
            },
        }


# --- the pass -----------------------------------------------------------------------------------


Interaction = tuple[str, str, int]  # (actor, target, ts ms)


def _interaction(value: bytes) -> Interaction | None:
    """(actor, target, ts) of a contract event acting on someone; None for anything else."""
    try:
        data = orjson.loads(value)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(data, dict) or data.get("type") in (None, "post"):
        return None
    actor, target, ts = data.get("actor_id"), data.get("target_id"), data.get("ts")
    if not isinstance(actor, str) or not isinstance(target, str) or not isinstance(ts, int):
        return None
    return actor, target, ts


def _scan(path: Path, limit: int | None) -> tuple[int, int, int]:
    """(records, first ts, last ts) of the file without scoring: the span the cuts divide."""
    count, start, end = 0, math.inf, -math.inf
    for _, value in records(path, "auto", limit):
        count += 1
        got = _interaction(value)
        if got is not None:
            start = min(start, got[2])
            end = max(end, got[2])
    if count == 0 or start > end:
        raise ValueError(f"{path}: no interactions to evaluate")
    return count, int(start), int(end)


@dataclass
class _Snapshot:
    """Everything known at one cut, frozen when the stream passes it."""

    fraction: float
    cut_ms: int
    taken: bool = False
    events_before: int = 0
    values: dict[str, dict[str, float]] = field(default_factory=dict)
    missing: int = 0
    future: set[tuple[str, str]] = field(default_factory=set)
    events_after: int = 0
    #: protocol horizon name -> (actor, target) pairs after the cut within that horizon
    horizons: dict[str, set[tuple[str, str]]] = field(
        default_factory=lambda: {name: set() for name, _ in protocol.HORIZONS})


def _take(snap: _Snapshot, run: BatchRun, edges: Mapping[tuple[str, str], int],
          events_before: int, params: Params) -> None:
    engagers: dict[str, float] = {}
    received: dict[str, float] = {}
    for (_, target), n in edges.items():
        engagers[target] = engagers.get(target, 0.0) + 1.0
        received[target] = received.get(target, 0.0) + n
    ranks = pagerank({pair: float(n) for pair, n in edges.items()})
    scores = run.scores(params, at=snap.cut_ms)
    sway: dict[str, float] = {}
    for user in engagers:
        got = scores.get(user)
        if got is None:
            snap.missing += 1
        sway[user] = got.score if got is not None else 1.0
    snap.values = {
        SWAY: sway,
        ENGAGERS: engagers,
        INTERACTIONS: received,
        PAGERANK: {user: ranks[user] for user in engagers},
        protocol.TIE_BROKEN: protocol.tie_broken(engagers, received),
        **_components(scores, engagers),
    }
    snap.events_before = events_before
    snap.taken = True


def _components(scores: Mapping[str, Any], users: Mapping[str, float]) -> dict[str, dict[str, float]]:
    """The score's components and signals as `Score` exposes them (0 for a user without one)."""
    out: dict[str, dict[str, float]] = {f"component: {c}": {} for c in COMPONENTS}
    out.update({f"signal: {s}": {} for s in SIGNALS})
    for user in users:
        got = scores.get(user)
        for c in COMPONENTS:
            out[f"component: {c}"][user] = float(getattr(got, c)) if got is not None else 0.0
        for s in SIGNALS:
            out[f"signal: {s}"][user] = float(got.signals.get(s, 0.0)) if got is not None else 0.0
    return out


def _positions(values: Mapping[str, float]) -> dict[str, int]:
    """1-based position of each id in the ranking (ties by id), as `top_k` orders them."""
    return {user: i for i, user in enumerate(top_k(values, len(values)), start=1)}


def _result(snap: _Snapshot, k: int, top_rows: int) -> CutResult:
    users = sorted(snap.values[ENGAGERS])
    future: dict[str, float] = dict.fromkeys(users, 0.0)
    for _, target in snap.future:
        if target in future:
            future[target] += 1.0
    truth = [future[u] for u in users]
    best = top_k(future, k)
    methods = []
    positions: dict[str, dict[str, int]] = {}
    for name in METHODS:
        values = snap.values[name]
        positions[name] = _positions(values)
        methods.append(MethodResult(
            name=name,
            spearman=spearman([values[u] for u in users], truth),
            overlap=top_k_overlap(values, future, k),
            median_rank_of_top=float(statistics.median(positions[name][u] for u in best))
            if best else math.nan,
        ))
    top = [
        TopUser(u, int(future[u]), {m: positions[m][u] for m in METHODS},
                {m: snap.values[m][u] for m in METHODS})
        for u in best[:top_rows]
    ]
    kept = dict(snap.values)
    kept[TARGET] = future
    ties = _tie_diagnostics(snap.values, users, truth)
    return CutResult(
        fraction=snap.fraction,
        cut_ms=snap.cut_ms,
        users=len(users),
        users_engaged_after=sum(1 for v in truth if v > 0),
        events_before=snap.events_before,
        events_after=snap.events_after,
        missing_scores=snap.missing,
        methods=methods,
        beats=_beats(methods),
        top=top,
        ties=ties,
        values=kept,
    )


def _tie_diagnostics(
    values: Mapping[str, Mapping[str, float]], users: list[str], truth: list[float]
) -> dict[str, float]:
    """Why a count can out-rank a finer score on Spearman: ties.

    Most users share a count (1, 2, 3 engagers) and a tie gets one average rank, which is the
    best a ranking can do without information. A finer score must order users inside each tie,
    and any order that predicts less than perfectly costs correlation. Breaking the count's own
    ties by the second baseline (interactions received) shows the size of that effect."""
    engagers, received = values[ENGAGERS], values[INTERACTIONS]
    top = max((received[u] for u in users), default=0.0) + 1.0
    broken = [engagers[u] + received[u] / top for u in users]
    return {
        "engagers_distinct_values": float(len({engagers[u] for u in users})),
        "sway_distinct_values": float(len({values[SWAY][u] for u in users})),
        "engagers_ties_broken_by_interactions_spearman": spearman(broken, truth),
    }


def _beats(methods: list[MethodResult]) -> dict[str, dict[str, bool]]:
    sway = next(m for m in methods if m.name == SWAY)
    return {
        m.name: {"spearman": sway.spearman > m.spearman, "overlap": sway.overlap > m.overlap}
        for m in methods if m.name != SWAY
    }


def _mean(cuts: list[CutResult]) -> list[MethodResult]:
    def avg(xs: list[float]) -> float:
        return math.fsum(xs) / len(xs) if xs else math.nan

    return [
        MethodResult(
            name=name,
            spearman=avg([c.method(name).spearman for c in cuts]),
            overlap=avg([c.method(name).overlap for c in cuts]),
            median_rank_of_top=avg([c.method(name).median_rank_of_top for c in cuts]),
        )
        for name in METHODS
    ]


def run_higgs(path: Path, cuts: list[float] | None, params: Params, limit: int | None,
              progress: bool, *, horizon_ms: int | None = None, k: int = TOP_K,
              top_rows: int = 10, bootstrap: int = 200, seed: int = 0,
              with_protocol: bool = True) -> HiggsReport:
    """Score `path` in one pass, snapshot at each cut, and compare with the baselines.

    `cuts` are fractions of the time span in (0, 1) (default `protocol.PROTOCOL_CUTS`); `limit`
    reads only the first records; `horizon_ms` bounds the future window of the summary tables
    (default: end of data; the protocol always uses its own two horizons); `bootstrap` resamples
    per cut and horizon, seeded by `seed`.
    """
    began = time.perf_counter()
    fractions = sorted(set(DEFAULT_CUTS if cuts is None else cuts))
    if not fractions or any(not 0.0 < f < 1.0 for f in fractions):
        raise ValueError(f"cuts must be fractions strictly between 0 and 1, got {cuts!r}")
    if horizon_ms is not None and horizon_ms <= 0:
        raise ValueError(f"horizon must be positive, got {horizon_ms!r}")
    total, start, end = _scan(path, limit)
    snaps = [_Snapshot(f, start + int(f * (end - start))) for f in fractions]

    run = BatchRun()
    edges: dict[tuple[str, str], int] = {}  # pre-cut interactions, actor -> target (no self)
    before = 0  # pre-cut interactions counted in `edges`
    pending = 0  # index of the next cut to snapshot
    selfies = late = 0
    latest = start
    bar = tqdm(total=total, unit="ev", desc="evaluate higgs", disable=not progress,
               smoothing=0.1, mininterval=0.5, file=sys.stderr)
    try:
        stream: Iterator[tuple[bytes | None, bytes]] = records(path, "auto", limit)
        batch: list[bytes] = []  # fed to the core BATCH at a time, and before every cut
        for n, (_, value) in enumerate(stream, start=1):
            got = _interaction(value)
            if got is not None:
                while pending < len(snaps) and got[2] > snaps[pending].cut_ms:
                    run.feed(batch, params)
                    batch = []
                    _take(snaps[pending], run, edges, before, params)
                    pending += 1
            batch.append(value)
            if len(batch) >= BATCH:
                run.feed(batch, params)
                batch = []
            if n % 2000 == 0:
                bar.update(2000)
            if got is None:
                continue
            actor, target, ts = got
            if ts < latest:
                late += 1
            latest = max(latest, ts)
            if actor == target:
                selfies += 1
                continue
            if pending < len(snaps):
                edges[(actor, target)] = edges.get((actor, target), 0) + 1
                before += 1
            pair = (actor, target)
            for snap in snaps[:pending]:
                if ts <= snap.cut_ms:
                    continue
                if horizon_ms is None or ts <= snap.cut_ms + horizon_ms:
                    snap.future.add(pair)
                    snap.events_after += 1
                for name, span in protocol.HORIZONS:
                    if span is None or ts <= snap.cut_ms + span:
                        snap.horizons[name].add(pair)
        run.feed(batch, params)
        bar.update(total - bar.n)
    finally:
        bar.close()
    for snap in snaps[pending:]:  # a cut at or after the last event: nothing comes after it
        _take(snap, run, edges, before, params)

    results = [_result(s, k, top_rows) for s in snaps]
    mean = _mean(results)
    protocols = [r for s in snaps for r in _protocol(s, bootstrap, seed, progress)] if with_protocol else []
    return HiggsReport(
        path=str(path),
        lines=total,
        events=run.events,
        rejected=run.rejected,
        self_interactions=selfies,
        out_of_order=late,
        start_ms=start,
        end_ms=end,
        horizon_ms=horizon_ms,
        k=k,
        cuts=results,
        mean=mean,
        mean_beats=_beats(mean),
        seconds=time.perf_counter() - began,
        protocol=protocols,
        bootstrap=bootstrap,
        seed=seed,
        discounts=_discounts(run),
    )


def _protocol(snap: _Snapshot, resamples: int, seed: int, progress: bool) -> list[protocol.ProtocolResult]:
    """The protocol at one snapshot, for each horizon (users: those evaluated at the cut)."""
    out = []
    for name, _ in protocol.HORIZONS:
        future: dict[str, float] = dict.fromkeys(snap.values[ENGAGERS], 0.0)
        for _, target in snap.horizons[name]:
            if target in future:
                future[target] += 1.0
        began = time.perf_counter()
        out.append(protocol.evaluate(snap.fraction, snap.cut_ms, name, snap.values, future, ENGAGERS,
                                     (SWAY, protocol.TIE_BROKEN), resamples, seed))
        if progress:
            sys.stderr.write(f"protocol: cut {snap.fraction:.0%} horizon {name}: {len(future):,} "
                             f"users, {time.perf_counter() - began:.1f} s\n")
    return out


# --- the report ---------------------------------------------------------------------------------


def _discounts(run: BatchRun) -> dict[str, float]:
    totals: dict[str, float] = {}
    for state in run.users.values():
        for why, n in state.discounts.items():
            totals[why] = totals.get(why, 0.0) + n
    return dict(sorted(totals.items()))


def _finite(x: float) -> float | None:
    return None if math.isnan(x) or math.isinf(x) else round(x, 6)


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _definitions(k: int, horizon_ms: int | None) -> list[str]:
    horizon = ("until the end of the data" if horizon_ms is None
               else f"until cut + {horizon_ms / 3_600_000:g} h")
    return [line.format(k=k, horizon=horizon) for line in DEFINITIONS]


def _num(x: float, digits: int = 4) -> str:
    return "n/a" if math.isnan(x) else f"{x:+.{digits}f}"


def _table(methods: list[MethodResult], beats: dict[str, dict[str, bool]], k: int) -> list[str]:
    head = f"  {'method':<19} {'spearman':>9} {f'top-{k}':>8} {'med.rank':>9}   sway beats it?"
    lines = [head, "  " + "-" * (len(head) + 6)]
    for m in methods:
        verdict = ""
        if m.name in beats:
            b = beats[m.name]
            verdict = (f"rho {'yes' if b['spearman'] else 'NO '}  "
                       f"top-{k} {'yes' if b['overlap'] else 'NO'}")
        overlap = "n/a" if math.isnan(m.overlap) else f"{m.overlap:.3f}"
        rank = "n/a" if math.isnan(m.median_rank_of_top) else f"{m.median_rank_of_top:,.0f}"
        lines.append(f"  {m.name:<19} {_num(m.spearman):>9} {overlap:>8} {rank:>9}   {verdict}")
    return lines


def format_report(report: HiggsReport) -> str:
    """The report as a plain-text table: definitions, one block per cut, then the mean."""
    out = [
        f"Sway offline evaluation: {Path(report.path).name}",
        f"{report.lines:,} records ({report.rejected:,} rejected, {report.self_interactions:,} "
        f"self-interactions, {report.out_of_order:,} out of order), "
        f"{_iso(report.start_ms)} .. {_iso(report.end_ms)}, "
        f"one pass and the protocol in {report.seconds:.1f} s",
    ]
    out += [f"  {line}" for line in _definitions(report.k, report.horizon_ms)]
    for cut in report.cuts:
        out += [
            "",
            f"cut {cut.fraction:.0%} of the span = {_iso(cut.cut_ms)}: {cut.users:,} users "
            f"({cut.users_engaged_after:,} engaged after), {cut.events_before:,} interactions "
            f"before, {cut.events_after:,} after"
            + (f", {cut.missing_scores:,} without a score" if cut.missing_scores else ""),
        ]
        out += _table(cut.methods, cut.beats, report.k)
        t = cut.ties
        out.append(
            f"  ties: {cut.users:,} users share {t['engagers_distinct_values']:,.0f} distinct engager "
            f"counts (the score has {t['sway_distinct_values']:,.0f} distinct values); the count with "
            f"its ties broken by interactions: rho {_num(t['engagers_ties_broken_by_interactions_spearman'])}"
        )
    out += ["", f"mean over {len(report.cuts)} cuts"]
    out += _table(report.mean, report.mean_beats, report.k)
    wins = sum(v for b in report.mean_beats.values() for v in b.values())
    count = sum(len(b) for b in report.mean_beats.values())
    out += ["", f"sway beats {wins} of {count} baseline/metric pairs on the mean"]
    out += protocol.format_results(report.protocol, report.bootstrap)
    return "\n".join(out)
