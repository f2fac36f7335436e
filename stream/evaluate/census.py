"""The discount census: how often each integrity rule fires on honest data, and what it costs.

Why: issue H found the score ordering users of equal past engager count worse than chance on
Higgs, a network with no bots or pods planted in it. Each rule is a suspect; switching one off
alone (everything else as shipped) and re-running the same protocol says which rule turns the
information in raw interactions into negative information. No bootstrap here: the census
compares variants on the same users, and the point values decide where to look next.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stream.core.params import Params
from stream.evaluate import protocol
from stream.evaluate.higgs import SWAY, run_higgs

#: Rule switched off -> the parameters without it. "as shipped" is the reference.
VARIANTS: dict[str, Callable[[Params], Params]] = {
    "as shipped": lambda p: p,
    "no repeat discount": lambda p: dataclasses.replace(p, repeat_discount=False),
    "no reciprocity": lambda p: dataclasses.replace(p, reciprocal_weight=1.0),
    "no rate limits": lambda p: dataclasses.replace(p, bot_day_rate=1e12, bot_hour_rate=1e12),
    "no never-posts rule": lambda p: dataclasses.replace(p, lurker_weight=1.0, fresh_weight=1.0),
}
#: What the census reports per variant, cut and horizon (the score's values).
CENSUS_METRICS: tuple[str, ...] = ("within_group_spearman", "spearman", "spearman_3plus")


@dataclass(frozen=True)
class VariantResult:
    name: str
    #: engagements discounted, by first reason, over the whole replay
    discounts: dict[str, float]
    #: (fraction, horizon) -> metric -> the score's value
    metrics: dict[tuple[float, str], dict[str, float]]


def run_census(path: Path, params: Params, limit: int | None = None, cuts: list[float] | None = None,
               progress: bool = False) -> list[VariantResult]:
    out = []
    for name, change in VARIANTS.items():
        report = run_higgs(path, cuts, change(params), limit, progress, bootstrap=0)
        metrics = {(r.fraction, r.horizon): {m: r.metrics[SWAY][m] for m in CENSUS_METRICS}
                   for r in report.protocol}
        out.append(VariantResult(name, report.discounts, metrics))
    return out


def to_json(results: list[VariantResult]) -> list[dict[str, Any]]:
    return [{"variant": r.name, "discounts": r.discounts,
             "results": [{"fraction": f, "horizon": h, "held_out": f in protocol.HELD_OUT, **m}
                         for (f, h), m in sorted(r.metrics.items())]} for r in results]


def format_census(results: list[VariantResult]) -> str:
    reasons = sorted({why for r in results for why in r.discounts})
    lines = ["engagements discounted over the replay, by first reason (integrity.discount_reason):",
             f"{'variant':<22}" + "".join(f"{why:>14}" for why in reasons)]
    lines += [f"{r.name:<22}" + "".join(f"{r.discounts.get(why, 0):>14,.0f}" for why in reasons)
              for r in results]
    keys = sorted(results[0].metrics)
    for metric in CENSUS_METRICS:
        lines += ["", f"{metric} of the score (* held out); change from 'as shipped' in brackets:",
                  f"{'variant':<22}" + "".join(f"{_label(f, h):>18}" for f, h in keys)]
        base = results[0].metrics
        for r in results:
            cells = []
            for key in keys:
                v = r.metrics[key][metric]
                cells.append(f"{v:+.3f}" if r is results[0] else f"{v:+.3f} ({v - base[key][metric]:+.3f})")
            lines.append(f"{r.name:<22}" + "".join(f"{c:>18}" for c in cells))
    return "\n".join(lines)


def _label(fraction: float, horizon: str) -> str:
    star = "*" if fraction in protocol.HELD_OUT else ""
    return f"{fraction:.2f}{star} {horizon}"
