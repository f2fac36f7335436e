"""What Faust's own consumer reads: the changelogs, while it recovers the tables, and nothing else.

Why: the internal hops are read by hops.py with aiokafka on the worker's event loop. Faust still
subscribes to them (their agents hold the subscription), because its group is what assigns their
partitions together with the tables'. Faust pauses every partition while it recovers and resumes
them after; `install()` leaves these topics paused, so its fetch loop never hands one of their
records to an agent (its fetcher takes at most one fetch of each partition and holds it).

This replaced `fetch_order.py`: fixes to faust-streaming 0.15's fetch loop and commit rule
(records handed over out of order around seeks, records dropped for a paused partition, commits
past a record that never came; the README's Reliability section tells them). Those bugs are in a
code path no Sway record takes any more.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from faust.transport.consumer import Consumer

_ORIGINAL_RESUME = Consumer.resume_partitions
#: Topics Faust subscribes to but never reads (hops.py does).
_READ_ELSEWHERE: set[str] = set()


def read_elsewhere(*topics: str) -> None:
    """Keep these topics paused in Faust's consumer."""
    _READ_ELSEWHERE.update(topics)


def _resume_partitions(self: Any, tps: Iterable[Any]) -> None:
    _ORIGINAL_RESUME(self, [tp for tp in tps if tp.topic not in _READ_ELSEWHERE])


def install() -> None:
    """Idempotent; applies to every Faust app in this process."""
    Consumer.resume_partitions = _resume_partitions  # type: ignore[method-assign]
