"""Issue C: the adversarial scenarios run end to end through one real worker."""

from __future__ import annotations

import math

from stream.evaluate.scenarios import format_table, run_scenarios
from stream.settings import load_settings


def test_every_adversarial_scenario_stays_within_its_bound(broker: str) -> None:
    # 150 bots (18,000 actions) instead of 300 keep the run under ~90 s; the CLI runs the full farm.
    results = run_scenarios(load_settings(), print, bots=150)
    table = format_table(results)
    print(table)
    names = [r.name for r in results]
    for n in range(1, 9):
        assert any(name.startswith(str(n)) for name in names), (n, names)
    assert all(math.isfinite(r.effect) for r in results), table
    failing = [r.name for r in results if not r.holds]
    assert not failing, f"bounds that fail: {failing}\n{table}"
    assert table.splitlines()[-1] == f"{len(results)} of {len(results)} bounds hold"
