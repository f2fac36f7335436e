"""A backlog larger than the agents' buffers is worked off, not stalled.

One fetch loop hands records to every agent and blocks on a full buffer, so a stage that stops
reading stops all of them. The first version of enrich's backpressure did exactly that once
enrich's buffer filled (found by `sway bench`: 98,030 of 100,000 events read, then 1 record every
2 s); this preloads enough events for enrich's buffer to fill before the worker starts (68 s
here; the old backpressure had not finished after 150 s).
"""

from __future__ import annotations

import uuid
from pathlib import Path

from stream.bench import simulated_records
from stream.kafka import send_all
from stream.settings import load_settings
from tests.conftest import eventually
from tests.integration.conftest import running_worker

EVENTS = 60_000  # enough for enrich's buffer (16,384) to fill; the old backpressure stalled here


def _metrics(text: str) -> tuple[float, float]:
    """(records read by ingest, records still owed on every input partition)."""
    read, owed = 0.0, 0.0
    for line in text.splitlines():
        if line.startswith("sway_events_in_total "):
            read = float(line.split()[-1])
        elif line.startswith("sway_consumer_lag{"):
            owed += float(line.split()[-1])
    return read, owed


async def test_a_backlog_bigger_than_the_buffers_is_worked_off(broker: str, tmp_path: Path) -> None:
    prefix = f"itb{uuid.uuid4().hex[:8]}-"
    settings = load_settings(topic_prefix=prefix, partitions=4)
    sent = await send_all(settings, settings.topic("interactions"), simulated_records(EVENTS, 2000, 7))
    assert sent == EVENTS
    with running_worker(tmp_path, "backlog", prefix) as worker:

        def drained() -> bool:
            status, body = worker.get_raw("/metrics", timeout=5)
            read, owed = _metrics(body.decode())
            return status == 200 and read == EVENTS and owed == 0

        await eventually(drained, 240, f"{EVENTS} preloaded events worked off")
