"""`run_higgs` end to end on the first 20 000 Higgs lines: the report's shape and ranges only
(whether Sway wins is a question for the whole file, not for a few hours of it)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from stream.core.params import DEFAULT
from stream.evaluate import HiggsReport, format_report, run_higgs
from stream.evaluate.higgs import METHODS

DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "higgs-activity_time.txt.gz"

pytestmark = pytest.mark.skipif(not DATA.exists(), reason=f"{DATA} is not there")


@pytest.fixture(scope="module")
def report() -> HiggsReport:
    return run_higgs(DATA, [0.3, 0.6], DEFAULT, 20_000, False, bootstrap=10)


def test_report_has_every_cut_and_method(report: HiggsReport) -> None:
    assert report.lines == 20_000
    assert [c.fraction for c in report.cuts] == [0.3, 0.6]
    assert report.start_ms < report.cuts[0].cut_ms < report.cuts[1].cut_ms < report.end_ms
    for cut in [*report.cuts]:
        assert cut.users > 0
        assert 0 < cut.users_engaged_after <= cut.users
        assert cut.events_before > 0 and cut.events_after > 0
        assert [m.name for m in cut.methods] == list(METHODS)
        assert set(cut.beats) == set(METHODS[1:])
        assert len(cut.top) == 10
        assert cut.top == sorted(cut.top, key=lambda t: (-t.target, t.user_id))
    assert report.cuts[1].users >= report.cuts[0].users  # pre-cut data only grows
    assert [m.name for m in report.mean] == list(METHODS)


def test_values_are_in_range(report: HiggsReport) -> None:
    for methods in [*(c.methods for c in report.cuts), report.mean]:
        for m in methods:
            assert -1.0 <= m.spearman <= 1.0, m
            assert 0.0 <= m.overlap <= 1.0, m
            assert m.median_rank_of_top >= 1
    for cut in report.cuts:
        assert all(1.0 <= v <= 100.0 for v in cut.values["sway score"].values())
        assert math.fsum(cut.values["pagerank"].values()) <= 1.0 + 1e-9
        assert set(cut.values["target"]) == set(cut.values["distinct engagers"])
        assert all(e <= i for e, i in zip(cut.values["distinct engagers"].values(),
                                          cut.values["interactions"].values(), strict=True))


def test_mean_is_the_mean_of_the_cuts(report: HiggsReport) -> None:
    for i, m in enumerate(report.mean):
        assert m.spearman == pytest.approx(sum(c.methods[i].spearman for c in report.cuts) / 2)
        assert m.overlap == pytest.approx(sum(c.methods[i].overlap for c in report.cuts) / 2)


def test_json_and_text(report: HiggsReport) -> None:
    data = report.to_json()
    json.dumps(data, allow_nan=False)  # strict JSON: no NaN
    assert len(data["cuts"]) == 2 and data["k"] == 100
    assert {m["method"] for m in data["mean"]["methods"]} == set(METHODS)
    text = format_report(report)
    for needle in ["cut 30%", "cut 60%", "mean over 2 cuts", "spearman", "top-100", *METHODS]:
        assert needle in text


def test_bad_cuts_are_refused() -> None:
    with pytest.raises(ValueError):
        run_higgs(DATA, [0.0], DEFAULT, 100, False)
    with pytest.raises(ValueError):
        run_higgs(DATA, [1.5], DEFAULT, 100, False)


def test_the_tie_diagnostic_breaks_only_the_counts_ties(report: HiggsReport) -> None:
    """The count with its ties broken keeps the count's order, so it can only reorder inside ties."""
    for cut in report.cuts:
        ties = cut.ties
        # far fewer distinct counts than users: most users sit in a tie
        assert 1 <= ties["engagers_distinct_values"] < cut.users / 10
        assert ties["sway_distinct_values"] > ties["engagers_distinct_values"]
        assert -1.0 <= ties["engagers_ties_broken_by_interactions_spearman"] <= 1.0
        assert "ties broken by interactions" in format_report(report)
