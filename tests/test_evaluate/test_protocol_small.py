"""The protocol end to end on the first 20 000 Higgs lines: every metric for every predictor,
cut and horizon, intervals in order, the held-out cuts flagged, and the HTML page written.
Shapes and ranges only; what the numbers say is for the whole file."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from stream.cli import main
from stream.core.params import DEFAULT
from stream.evaluate import HiggsReport, format_report, run_higgs
from stream.evaluate.higgs import ENGAGERS, METHODS, SWAY
from stream.evaluate.protocol import HELD_OUT, HORIZONS, METRICS, TIE_BROKEN
from stream.evaluate.report_html import render

DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "higgs-activity_time.txt.gz"
CUTS = [0.25, 0.55, 0.80]

pytestmark = pytest.mark.skipif(not DATA.exists(), reason=f"{DATA} is not there")


@pytest.fixture(scope="module")
def report() -> HiggsReport:
    return run_higgs(DATA, CUTS, DEFAULT, 20_000, False, bootstrap=40, seed=1)


def test_every_metric_per_cut_and_horizon(report: HiggsReport) -> None:
    got = {(r.fraction, r.horizon) for r in report.protocol}
    assert got == {(c, h) for c in CUTS for h, _ in HORIZONS}
    for r in report.protocol:
        assert r.held_out == (r.fraction in HELD_OUT)
        assert {*METHODS, TIE_BROKEN, "component: reach", "signal: engagers"} <= set(r.metrics)
        for name, ms in r.metrics.items():
            assert list(ms) == list(METRICS), name
        for m in ("spearman", "kendall_tau_b", "ndcg@100", "precision@100"):
            assert -1.0 <= r.metrics[SWAY][m] <= 1.0
        assert 0.0 <= r.metrics[SWAY]["ndcg@100"] <= 1.0
        assert r.metrics[ENGAGERS]["within_group_spearman"] == 0.0
        assert 0 < r.users_3plus < r.users


def test_intervals_are_ordered_and_paired(report: HiggsReport) -> None:
    for r in report.protocol:
        assert set(r.intervals) == {SWAY, TIE_BROKEN}
        for name, ivs in r.intervals.items():
            assert list(ivs) == list(METRICS)
            for m, iv in ivs.items():
                assert iv.diff == pytest.approx(r.metrics[name][m] - r.metrics[ENGAGERS][m])
                assert not math.isnan(iv.low) and iv.low <= iv.high, (name, m, iv)


def test_the_24h_target_is_bounded_by_the_end_target(report: HiggsReport) -> None:
    """Decile means of the day horizon never exceed those to the end of the data."""
    by = {(r.fraction, r.horizon): r for r in report.protocol}
    for cut in CUTS:
        end, day = by[(cut, "end")], by[(cut, "24h")]
        for a, b in zip(end.deciles[ENGAGERS], day.deciles[ENGAGERS], strict=True):
            assert math.isnan(a) or b <= a + 1e-9


def test_json_and_text_carry_the_protocol(report: HiggsReport) -> None:
    data = json.loads(json.dumps(report.to_json(), allow_nan=False))
    results = data["protocol"]["results"]
    assert len(results) == len(CUTS) * len(HORIZONS)
    assert data["protocol"]["bootstrap"] == 40
    text = format_report(report)
    assert "held-out cuts" in text and "tuning cuts" in text
    assert text.index("tuning cuts") < text.index("held-out cuts")


def test_html_is_self_contained(report: HiggsReport) -> None:
    page = render(report)
    assert page.count("<svg") == len(report.protocol) + 2 * len(METRICS)
    assert "Held-out cuts" in page and "Tuning cuts" in page
    assert "<script" not in page
    assert not re.search(r'(src|href)="(https?:)?//', page)


def test_cli_writes_the_report(tmp_path: Path) -> None:
    out = tmp_path / "higgs.html"
    result = CliRunner().invoke(main, ["evaluate", "higgs", "--file", str(DATA), "--limit", "5000",
                                       "--cut", "0.5", "--bootstrap", "5", "--report", str(out)])
    assert result.exit_code == 0, result.output
    assert "<svg" in out.read_text(encoding="utf-8")
    assert "cut 50%, horizon 24h" in result.output


def test_cli_json_keeps_working_with_the_protocol() -> None:
    result = CliRunner().invoke(main, ["evaluate", "higgs", "--file", str(DATA), "--limit", "5000",
                                       "--cut", "0.5", "--bootstrap", "3", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [r["horizon"] for r in data["protocol"]["results"]] == [h for h, _ in HORIZONS]
    assert data["protocol"]["results"][0]["held_out"] is False


def test_svg_fragments_are_well_formed(report: HiggsReport) -> None:
    import xml.etree.ElementTree as ET

    for svg in re.findall(r"<svg.*?</svg>", render(report), flags=re.S):
        ET.fromstring(svg)
