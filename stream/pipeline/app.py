"""The app factory: one Faust app per Settings, no module-level app (config is not frozen at
import, tests can build their own)."""

from __future__ import annotations

import logging
import ssl
import time
from typing import Any

import faust
from faust.transport.producer import ProducerBuffer

from stream import core
from stream.clock import PartitionClocks
from stream.kafka import FETCH_MAX_WAIT_MS
from stream.pipeline import (
    codecs,
    durability,
    edge,
    enrich,
    faust_reads,
    hops,
    observe,
    score,
    sweep,
    web,
    writes,
)
from stream.pipeline.feed import ScoreFeed
from stream.pipeline.metrics import Metrics
from stream.pipeline.runtime import Runtime
from stream.pipeline.topology import declare
from stream.settings import Settings, load_settings


def _credentials(settings: Settings) -> faust.types.auth.CredentialsT | None:
    protocol = settings.kafka_security_protocol
    if protocol == "PLAINTEXT":
        return None
    context = ssl.create_default_context() if "SSL" in protocol else None
    if protocol.startswith("SASL"):
        return faust.SASLCredentials(
            username=settings.kafka_sasl_username,
            password=settings.kafka_sasl_password.get_secret_value(),
            mechanism=settings.kafka_sasl_mechanism,
            ssl_context=context,
        )
    return faust.SSLCredentials(context)


#: RocksDB (rocksdict) tuned for a small machine. Faust's defaults are per partition *and* per
#: table (16 databases at 8 partitions): 3 x 64 MiB memtables and a 2 GiB block cache each.
#: Here at most 2 x 4 MiB + 8 MiB each, and 10-bit Bloom filters (Faust's 3 bits miss ~15%).
ROCKSDB_OPTIONS = {
    "write_buffer_size": 4 * 2**20,
    "max_write_buffer_number": 2,
    "target_file_size_base": 8 * 2**20,
    "block_cache_size": 8 * 2**20,
    "bloom_filter_size": 10,
    "max_open_files": 256,
}


#: Producer, buffer and commit settings (docs/performance.md). A record of an internal topic is a
#: batch of up to 500 events (batches.py), so an agent's buffer and a poll count batches: 64
#: records a poll and 256 buffered are 32k and 128k events. Linger 5 ms keeps the added
#: event-to-score latency small. The bench's Faust floors (stream/bench/) run with the same settings.
FAUST_TUNING: dict[str, int | float] = {
    "producer_linger_ms": 5,
    "producer_max_batch_size": 1024 * 1024,
    "producer_max_request_size": 2 * 1024 * 1024,
    "stream_buffer_maxsize": 256,
    "broker_max_poll_records": 64,
    "producer_acks": -1,
    "broker_commit_interval": 1.0,
}
#: Faust waits for its producer buffer to ebb below this many messages after every table write
#: (default 100; faust-streaming #173): a batch writes one changelog record and one score update
#: per touched user, hundreds at a time.
PRODUCER_BUFFER_MESSAGES = 10_000


def _short_fetch_wait() -> None:
    """Faust's worker consumer, with FETCH_MAX_WAIT_MS (idempotent)."""
    from faust.transport.drivers import aiokafka as driver

    create = driver.AIOKafkaConsumerThread._create_worker_consumer
    if getattr(create, "_sway", False):
        return

    def patched(self: Any, transport: Any) -> Any:
        consumer = create(self, transport)
        consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS  # read when the consumer starts
        return consumer

    patched._sway = True  # type: ignore[attr-defined]
    driver.AIOKafkaConsumerThread._create_worker_consumer = patched  # type: ignore[method-assign]


def create_app(settings: Settings | None = None) -> tuple[faust.App, Runtime]:
    settings = settings or load_settings()
    logging.getLogger(__name__).info("scoring core: %s", core.IMPLEMENTATION)
    codecs.register()
    durability.install()  # table writes sent before their offsets commit
    _short_fetch_wait()
    faust_reads.install()  # Faust reads the changelogs; hops.py the internal topics
    ProducerBuffer.max_messages = PRODUCER_BUFFER_MESSAGES
    datadir = settings.data_dir / "worker" / settings.app_id
    datadir.parent.mkdir(parents=True, exist_ok=True)
    app = faust.App(
        settings.app_id,
        broker=settings.broker_url,
        broker_credentials=_credentials(settings),
        store="rocksdb://" if settings.store == "rocksdb" else "memory://",
        datadir=str(datadir),
        topic_partitions=settings.partitions,
        topic_replication_factor=1,
        table_standby_replicas=0,
        consumer_auto_offset_reset="earliest",
        web_enabled=True,
        web_port=settings.web_port,
        web_application_options={"middlewares": [web.problems]},  # every error as problem details
        web_bind=settings.web_bind or settings.web_host,
        web_host=settings.web_host,
        stream_wait_empty=True,  # agents buffer nothing now (hops.py reads); kept as a safeguard
        autodiscover=False,
        **FAUST_TUNING,
    )
    topology = declare(app, settings)
    faust_reads.read_elsewhere(topology.by_actor.get_topic_name(), topology.by_target.get_topic_name())
    if settings.store == "rocksdb":
        for table in (topology.users, topology.actors):
            table.options = dict(ROCKSDB_OPTIONS)  # read when the store opens, on first use
    rt = Runtime(
        settings=settings,
        params=settings.model_params(),
        clocks=PartitionClocks(time.time, max_future_ms=int(settings.max_future * 1000)),
        topology=topology,
        metrics=Metrics(),
    )
    for stage in (writes, edge, enrich, score, sweep, hops):
        stage.register(app, rt)
    readiness = observe.register(app, rt)
    feed = ScoreFeed(settings)
    web.register(app, rt, readiness, feed)
    app.task(feed.run)

    @app.task
    async def declare_outputs() -> None:
        """Create the topics no agent reads (interactions, DLQ, compacted scores) with their settings."""
        for topic in topology.outputs:
            await topic.maybe_declare()

    return app, rt
