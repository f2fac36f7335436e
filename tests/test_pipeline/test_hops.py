"""The hop reader's rules that need no broker: enrich's backpressure, and Faust leaving the
internal topics alone (the rest is covered end to end by tests/integration and tests/reliability)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from faust.types import TP

from stream.pipeline import faust_reads
from stream.pipeline.backpressure import Hysteresis


def test_enrich_pauses_above_the_limit_and_resumes_only_well_below_it() -> None:
    throttle = Hysteresis(limit=10, resume=5)
    owed = [3, 10, 11, 12, 8, 6, 5, 4, 11]
    changes = [throttle.update(n) for n in owed]
    assert changes == [None, None, True, None, None, None, False, None, True]


def test_a_new_assignment_starts_unpaused() -> None:
    throttle = Hysteresis(limit=10, resume=5)
    assert throttle.update(50) is True
    throttle.reset()
    assert throttle.update(7) is None  # not paused, so nothing to resume
    assert not throttle.paused


def test_faust_never_resumes_the_topics_the_hops_read(monkeypatch: Any) -> None:
    resumed: list[Any] = []
    monkeypatch.setattr(faust_reads, "_ORIGINAL_RESUME", lambda self, tps: resumed.extend(tps))
    monkeypatch.setattr(faust_reads, "_READ_ELSEWHERE", {"p-sway-by-actor", "p-sway-by-target"})
    after_recovery = [TP("p-sway-by-actor", 0), TP("p-sway-by-target", 1), TP("p-interactions", 0)]
    faust_reads._resume_partitions(SimpleNamespace(), after_recovery)
    assert resumed == [TP("p-interactions", 0)]
