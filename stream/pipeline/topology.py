"""Every topic and table of Sway, declared once. All user-keyed ones share one partition count,
so partition p of every topic and table holds the same users (co-partitioning)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import faust
from aiokafka.partitioner import murmur2

from stream.settings import Settings

#: Topic names of docs/contract.md (before SWAY_TOPIC_PREFIX).
INTERACTIONS = "interactions"
DLQ = "interactions.dlq"
SCORES = "scores"
BY_ACTOR = "sway-by-actor"
BY_TARGET = "sway-by-target"


@dataclass
class Topology:
    interactions: faust.TopicT
    dlq: faust.TopicT
    scores: faust.TopicT
    by_actor: faust.TopicT
    by_target: faust.TopicT
    users: faust.types.TableT
    actors: faust.types.TableT
    #: user id -> stream time of their erasure: events by or to them are ignored from then on
    erased: faust.types.TableT

    @property
    def outputs(self) -> list[faust.TopicT]:
        """Topics no Faust agent reads (the edge reads `interactions` with aiokafka): declared at
        start so they exist with our config."""
        return [self.interactions, self.dlq, self.scores]


#: Tables (their changelog topics are `<app id>-<table>-changelog`, compacted).
TABLES = ("users", "actors", "erased")
DAY_S = 86400


def topic_configs(settings: Settings) -> dict[str, dict[str, str]]:
    """Every topic a worker reads or writes, with its settings: created before Faust starts.

    Why before: a topic Faust creates while its consumer joins the group is often missing from
    the metadata of that join, and aiokafka then ignores it until the next metadata refresh
    (five minutes): a fresh worker that never reads `sway-by-actor` or `sway-by-target`."""
    compact = {"cleanup.policy": "compact"}
    out = {
        settings.topic(INTERACTIONS): {},
        settings.topic(DLQ): {"retention.ms": str(30 * DAY_S * 1000)},
        settings.topic(SCORES): compact,
        settings.topic(BY_ACTOR): {"retention.ms": str(7 * DAY_S * 1000)},
        settings.topic(BY_TARGET): {"retention.ms": str(7 * DAY_S * 1000)},
    }
    for name in TABLES:
        out[f"{settings.app_id}-{name}-changelog"] = compact
    return out


def consumer_groups(settings: Settings) -> dict[str, list[str]]:
    """Consumer group -> the topics it reads and commits: the edge's own group reads
    `interactions` (edge.py), the hops' group the internal topics (hops.py; it only stores
    offsets: Faust's group decides who reads which partition). Lag is counted against these."""
    return {
        f"{settings.app_id}-edge": [settings.topic(INTERACTIONS)],
        f"{settings.app_id}-hops": [settings.topic(BY_ACTOR), settings.topic(BY_TARGET)],
    }


def declare(app: faust.App, settings: Settings) -> Topology:
    n = settings.partitions

    def topic(name: str, **kw: object) -> faust.TopicT:
        return app.topic(
            settings.topic(name),
            key_serializer="raw",
            value_serializer="raw",
            partitions=n,
            internal=True,
            **kw,  # type: ignore[arg-type]
        )

    return Topology(
        interactions=topic(INTERACTIONS),
        dlq=topic(DLQ, retention=30.0 * DAY_S),
        scores=topic(SCORES, compacting=True),
        by_actor=topic(BY_ACTOR, retention=7.0 * DAY_S),
        by_target=topic(BY_TARGET, retention=7.0 * DAY_S),
        users=table(app, "users", n, "sway_user"),
        actors=table(app, "actors", n, "sway_actor"),
        erased=table(app, "erased", n, "sway_json"),
    )


def owned_partitions(app: faust.App, topology: Topology) -> set[int]:
    """The user partitions this worker is active for (the same numbers in every user-keyed topic)."""
    name = topology.by_target.get_topic_name()
    return {tp.partition for tp in app.assignor.assigned_actives() if tp.topic == name}


@lru_cache(maxsize=2**18)
def partition_of(user_id: str, partitions: int) -> int:
    """The partition the producer's default partitioner picks for this key (Java-compatible).
    Cached: aiokafka's murmur2 is pure Python (2.5 µs here), and the edge asks for every event."""
    return (murmur2(user_id.encode()) & 0x7FFFFFFF) % partitions


def table(app: faust.App, name: str, partitions: int, value_codec: str) -> faust.types.TableT:
    """A user-keyed table whose changelog is written *and recovered* with Sway's codecs.

    Why the changelog topic is built here: a Faust Table ignores the serializers of a `schema`
    and falls back to JSON unless its value type is a faust Record, so recovered values came back
    as plain dicts after a restart (caught by tests/integration/test_restart.py)."""
    changelog = app.topic(
        f"{app.conf.id}-{name}-changelog",
        key_serializer="sway_utf8",
        value_serializer=value_codec,
        partitions=partitions,
        compacting=True,
        acks=False,
        internal=True,
    )
    t = app.Table(name, default=None, partitions=partitions, changelog_topic=changelog)
    t.key_serializer = "sway_utf8"  # what send_changelog writes with
    t.value_serializer = value_codec
    return t


def reader(table: faust.types.TableT) -> Any:
    """`table.data.get`, without Faust's sensor call per read (Table.get) and, for the memory
    store, without the KeyError that Mapping.get raises and catches for every miss (py-spy: 6%
    of a worker). Looked up per batch: a store may replace its dict at a rebalance."""
    store = table.data
    inner = getattr(store, "data", None)
    return inner.get if isinstance(inner, dict) else store.get
