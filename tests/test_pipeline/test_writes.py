"""The batch outputs' commit-time drain: no commit passes a record not yet acknowledged, and
stages never wait for a send (a scripted producer, no broker)."""

from __future__ import annotations

import asyncio
from typing import Any

from stream.pipeline.writes import Output


class Builder:
    def __init__(self) -> None:
        self.records: list[Any] = []

    def append(self, timestamp: Any, key: Any, value: Any) -> object:
        self.records.append((key, value))
        return object()


class Producer:
    """Hands a batch over at once and acknowledges it only when the test says so."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, int, list[Any], asyncio.Future[Any]]] = []

    def create_batch(self) -> Builder:
        return Builder()

    async def send_batch(self, builder: Builder, topic: str, partition: int) -> asyncio.Future[Any]:
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.sent.append((topic, partition, builder.records, fut))
        return fut

    def ack_all(self) -> None:
        for *_, fut in self.sent:
            if not fut.done():
                fut.set_result(type("Meta", (), {"offset": 0})())


def output() -> tuple[Output, Producer]:
    out = Output.__new__(Output)  # the state only: no Faust app, no Service machinery
    producer = Producer()
    out.producer = producer  # type: ignore[assignment]
    out.pending, out.dirty, out.dirty_keys, out.tables = [], {}, 0, {}
    out._open, out._full, out._queued, out._senders = {}, {}, 0, {}
    out._sealed, out._handed, out._progress, out._failed = {}, {}, asyncio.Event(), None
    out._cache_lock = asyncio.Lock()
    return out, producer


async def test_a_commit_waits_for_every_record_appended_before_it() -> None:
    out, producer = output()
    out.append("scores", 0, b"u1", b"{}")
    out.kick()  # what a stage does after a batch: never waits
    drain = asyncio.ensure_future(out.drain())
    await asyncio.sleep(0.05)
    assert [records for _, _, records, _ in producer.sent] == [[(b"u1", b"{}")]]
    assert not drain.done()  # handed over, not acknowledged: the commit must wait
    producer.ack_all()
    await asyncio.wait_for(drain, 1)


async def test_two_drains_at_once_both_wait_for_the_records_before_them() -> None:
    """A commit and a rebalance's flush may drain together; neither may return while a record
    appended before it is unacknowledged (taking the pending list away let the second pass)."""
    out, producer = output()
    out.append("scores", 0, b"u1", b"{}")
    first = asyncio.ensure_future(out.drain())
    second = asyncio.ensure_future(out.drain())
    await asyncio.sleep(0.05)
    assert len(producer.sent) == 1
    assert not first.done() and not second.done()
    producer.ack_all()
    await asyncio.wait_for(asyncio.gather(first, second), 1)
    assert out.pending == []


async def test_a_drain_does_not_wait_for_what_stages_append_after_it() -> None:
    out, producer = output()
    out.append("scores", 0, b"u1", b"{}")
    drain = asyncio.ensure_future(out.drain())
    await asyncio.sleep(0.01)
    out.append("scores", 0, b"u2", b"{}")  # steady traffic on the same partition
    out.kick()
    producer.sent[0][3].set_result(type("Meta", (), {"offset": 0})())
    await asyncio.wait_for(drain, 1)


async def test_a_cache_sent_in_turns_keeps_each_keys_values_in_order(monkeypatch: Any) -> None:
    """Sending the changelog cache hands the loop over between states; a state cached again
    meanwhile and sent by another stage must land after its older value (recovery reads the
    last one)."""
    from stream.pipeline import turns

    monkeypatch.setattr(turns, "BUDGET_SECONDS", -1.0)  # a turn after every state
    out, producer = output()
    table = type("Table", (), {"changelog_topic": type("T", (), {"get_topic_name": lambda self: "cl"})()})()
    for i in range(5):
        out.cache(table, 0, f"u{i}", b"old", bytes)
    first = asyncio.ensure_future(out.send_cache())
    await asyncio.sleep(0)  # the first send is under way, and takes a turn
    out.cache(table, 0, "u4", b"new", bytes)
    second = asyncio.ensure_future(out.send_cache())
    await asyncio.wait_for(asyncio.gather(first, second), 1)
    await asyncio.sleep(0.05)
    values = [v for _, _, records, _ in producer.sent for k, v in records if k == b"u4"]
    assert values == [b"old", b"new"]
