"""The discount census on the first 15 000 Higgs lines: each switch really switches its rule
off (the rule discounts nothing in its own variant while it does as shipped), the other rules
keep firing, and every variant is measured at every cut and horizon."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from stream.cli import main
from stream.core.params import DEFAULT
from stream.evaluate.census import CENSUS_METRICS, VARIANTS, VariantResult, format_census, run_census
from stream.evaluate.protocol import HORIZONS

DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "higgs-activity_time.txt.gz"
CUTS = [0.25, 0.80]

pytestmark = pytest.mark.skipif(not DATA.exists(), reason=f"{DATA} is not there")


@pytest.fixture(scope="module")
def census() -> dict[str, VariantResult]:
    return {r.name: r for r in run_census(DATA, DEFAULT, limit=15_000, cuts=CUTS)}


def test_every_variant_is_measured_at_every_cut_and_horizon(census: dict[str, VariantResult]) -> None:
    assert list(census) == list(VARIANTS)
    for result in census.values():
        assert sorted(result.metrics) == sorted((c, h) for c in CUTS for h, _ in HORIZONS)
        for values in result.metrics.values():
            assert set(values) == set(CENSUS_METRICS)
            assert all(-1.0 <= v <= 1.0 for v in values.values())


@pytest.mark.parametrize(("variant", "reason"), [("no repeat discount", "repeat"),
                                                  ("no reciprocity", "reciprocal")])
def test_a_rule_switched_off_discounts_nothing(census: dict[str, VariantResult], variant: str,
                                               reason: str) -> None:
    assert census["as shipped"].discounts.get(reason, 0) > 0
    assert census[variant].discounts.get(reason, 0) == 0
    # the other rules still fire
    others = {k: v for k, v in census["as shipped"].discounts.items() if k not in {reason, "self"}}
    assert any(census[variant].discounts.get(k, 0) > 0 for k in others)


def test_without_rate_limits_fewer_engagements_look_automated(census: dict[str, VariantResult]) -> None:
    shipped = census["as shipped"].discounts.get("automated", 0)
    assert shipped > 0
    assert census["no rate limits"].discounts.get("automated", 0) < shipped


def test_switching_reciprocity_off_changes_the_ranking(census: dict[str, VariantResult]) -> None:
    shipped, off = census["as shipped"].metrics, census["no reciprocity"].metrics
    assert any(abs(shipped[k]["spearman"] - off[k]["spearman"]) > 1e-6 for k in shipped)


def test_the_table_and_the_cli(census: dict[str, VariantResult]) -> None:
    text = format_census(list(census.values()))
    for name in VARIANTS:
        assert name in text
    out = CliRunner().invoke(main, ["evaluate", "census", "--file", str(DATA), "--limit", "3000", "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert [v["variant"] for v in data] == list(VARIANTS)
