"""The app factory: one Faust app per Settings, no module-level app (config is not frozen at
import, tests can build their own)."""

from __future__ import annotations

import ssl
import time

import faust

from stream.clock import StreamClock
from stream.pipeline import codecs, durability, enrich, ingest, observe, score, sweep, web
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


def create_app(settings: Settings | None = None) -> tuple[faust.App, Runtime]:
    settings = settings or load_settings()
    codecs.register()
    durability.install()  # table writes sent before their offsets commit
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
        web_bind=settings.web_bind or settings.web_host,
        web_host=settings.web_host,
        producer_linger_ms=5,
        producer_acks=-1,
        stream_wait_empty=False,
        broker_commit_interval=1.0,
        autodiscover=False,
    )
    topology = declare(app, settings)
    rt = Runtime(
        settings=settings,
        params=settings.model_params(),
        clock=StreamClock(time.time, max_future_ms=int(settings.max_future * 1000)),
        topology=topology,
        metrics=Metrics(),
    )
    for stage in (ingest, enrich, score, sweep):
        stage.register(app, rt)
    readiness = observe.register(app, rt)
    feed = ScoreFeed(settings)
    web.register(app, rt, readiness, feed)
    app.task(feed.run)

    @app.task
    async def declare_outputs() -> None:
        """Create the topics Sway only writes (DLQ, compacted scores) with their settings."""
        for topic in topology.outputs:
            await topic.maybe_declare()

    return app, rt
