"""`sway evaluate higgs --report FILE.html`: the protocol as one self-contained HTML page.

No external links, scripts or fonts: the tables are plain HTML and the plots inline SVG drawn
here, so the file can be attached to a review and opened offline years later.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

from stream.evaluate import protocol
from stream.evaluate.higgs import BASELINES, SWAY, HiggsReport, _definitions, _iso
from stream.evaluate.protocol import METRICS, ProtocolResult

#: the lines of the decile plot: the score and the baselines (components stay in the tables)
PLOTTED: tuple[str, ...] = (SWAY, *BASELINES, protocol.TIE_BROKEN)
COLOURS: tuple[str, ...] = ("#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")
STYLE = """
body{font-family:sans-serif;margin:2em;max-width:1200px;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em;font-size:13px}
td,th{border:1px solid #ccc;padding:3px 7px;text-align:right}
th:first-child,td:first-child{text-align:left}
.held{background:#fff6e0}.neg{color:#b00}.pos{color:#060}
h2{border-bottom:2px solid #888}svg{background:#fafafa;border:1px solid #ddd;margin:4px}
"""


def _num(x: float, digits: int = 3) -> str:
    return "n/a" if math.isnan(x) else f"{x:+.{digits}f}"


def _metrics_table(r: ProtocolResult) -> str:
    head = "".join(f"<th>{escape(m)}</th>" for m in METRICS)
    rows = [f"<tr><th>predictor</th>{head}</tr>"]
    for name, ms in r.metrics.items():
        cells = "".join(f"<td>{_num(ms[m])}</td>" for m in METRICS)
        rows.append(f"<tr><td>{escape(name)}</td>{cells}</tr>")
    return "<table>" + "".join(rows) + "</table>"


def _interval_cell(diff: float, low: float, high: float) -> str:
    css = "pos" if low > 0 else "neg" if high < 0 else ""
    return f'<td class="{css}">{_num(diff)} [{_num(low)}, {_num(high)}]</td>'


def _interval_table(r: ProtocolResult) -> str:
    head = "".join(f"<th>{escape(m)}</th>" for m in METRICS)
    rows = [f"<tr><th>minus the count (95% interval)</th>{head}</tr>"]
    for name, ivs in r.intervals.items():
        cells = "".join(_interval_cell(ivs[m].diff, ivs[m].low, ivs[m].high) for m in METRICS)
        rows.append(f"<tr><td>{escape(name)}</td>{cells}</tr>")
    return "<table>" + "".join(rows) + "</table>"


def decile_svg(r: ProtocolResult, width: int = 560, height: int = 300) -> str:
    """Mean future engagers per decile (log scale, 1 + value), one line per method."""
    left, right, top, bottom = 55, 190, 20, 40
    series = {name: r.deciles[name] for name in PLOTTED if name in r.deciles}
    finite = [v for d in series.values() for v in d if not math.isnan(v)]
    peak = math.log10(1 + max(finite, default=1.0)) or 1.0
    plot_w, plot_h = width - left - right, height - top - bottom

    def px(i: int) -> float:
        return left + plot_w * i / 9

    def py(v: float) -> float:
        return top + plot_h * (1 - math.log10(1 + v) / peak)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}">',
             f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" '
             'stroke="#444"/>',
             f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="#444"/>']
    for i in range(10):
        parts.append(f'<text x="{px(i):.1f}" y="{top + plot_h + 15}" font-size="11" '
                     f'text-anchor="middle">{i + 1}</text>')
    for tick in (0, 1, 3, 10, 30, 100, 300, 1000):
        if math.log10(1 + tick) <= peak:
            parts.append(f'<text x="{left - 5}" y="{py(tick) + 4:.1f}" font-size="10" '
                         f'text-anchor="end">{tick}</text>')
    parts.append(f'<text x="{left + plot_w / 2}" y="{height - 5}" font-size="11" '
                 f'text-anchor="middle">decile of the predictor (1 = top 10%)</text>')
    for n, (name, values) in enumerate(series.items()):
        colour = COLOURS[n % len(COLOURS)]
        points = [(px(i), py(v)) for i, v in enumerate(values) if not math.isnan(v)]
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{path}"/>')
        parts += [f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}"/>' for x, y in points]
        parts.append(f'<text x="{left + plot_w + 10}" y="{top + 14 * n + 10}" font-size="11" '
                     f'fill="{colour}">{escape(name)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def interval_svg(metric: str, results: Sequence[ProtocolResult], width: int = 560) -> str:
    """Dot and whisker of (predictor - count) on one metric, a row per cut, horizon, predictor."""
    rows = [(r, name, r.intervals[name][metric]) for r in results for name in r.intervals]
    left, right, top, step = 260, 20, 25, 16
    height = top + step * len(rows) + 30
    spread = [abs(v) for _, _, iv in rows for v in (iv.low, iv.high, iv.diff) if not math.isnan(v)]
    span = max(spread, default=0.1) or 0.1
    plot_w = width - left - right

    def px(v: float) -> float:
        return left + plot_w * (v + span) / (2 * span)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}">',
             f'<text x="5" y="15" font-size="12" font-weight="bold">{escape(metric)}: '
             f'predictor - count</text>',
             f'<line x1="{px(0):.1f}" y1="{top - 5}" x2="{px(0):.1f}" y2="{height - 25}" stroke="#888" '
             f'stroke-dasharray="4 3"/>']
    for j, (r, name, iv) in enumerate(rows):
        y = top + step * j + 8
        colour = COLOURS[PLOTTED.index(name) % len(COLOURS)] if name in PLOTTED else "#333"
        label = f"{'held-out ' if r.held_out else ''}{r.fraction:.0%} {r.horizon}: {name}"
        parts.append(f'<text x="{left - 8}" y="{y + 4}" font-size="11" text-anchor="end">'
                     f'{escape(label)}</text>')
        if not (math.isnan(iv.low) or math.isnan(iv.high)):
            parts.append(f'<line x1="{px(iv.low):.1f}" y1="{y}" x2="{px(iv.high):.1f}" y2="{y}" '
                         f'stroke="{colour}" stroke-width="2"/>')
        if not math.isnan(iv.diff):
            parts.append(f'<circle cx="{px(iv.diff):.1f}" cy="{y}" r="4" fill="{colour}"/>')
    for v in (-span, 0.0, span):
        parts.append(f'<text x="{px(v):.1f}" y="{height - 8}" font-size="10" '
                     f'text-anchor="middle">{v:+.3f}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _section(title: str, results: Sequence[ProtocolResult]) -> list[str]:
    out = [f"<h2>{escape(title)}</h2>"]
    if not results:
        return [*out, "<p>none</p>"]
    for r in results:
        css = ' class="held"' if r.held_out else ""
        out += [f"<h3{css}>cut {r.fraction:.0%} ({escape(_iso(r.cut_ms))}), horizon {escape(r.horizon)}: "
                f"{r.users:,} users, {r.users_3plus:,} with &ge; {protocol.MIN_PAST} past engagers</h3>",
                _metrics_table(r), _interval_table(r), decile_svg(r)]
    out.append("<h3>paired bootstrap intervals</h3>")
    out += [interval_svg(m, results) for m in METRICS]
    return out


def render(report: HiggsReport) -> str:
    """The whole page: definitions, then the held-out cuts, then the tuning cuts."""
    held = [r for r in report.protocol if r.held_out]
    tuning = [r for r in report.protocol if not r.held_out]
    body = [
        f"<h1>Sway offline evaluation: {escape(report.path)}</h1>",
        f"<p>{report.lines:,} records, {escape(_iso(report.start_ms))} .. {escape(_iso(report.end_ms))}; "
        f"{report.bootstrap} paired bootstrap resamples (seed {report.seed}); "
        f"{report.seconds:.0f} s.</p>",
        "<ul>" + "".join(f"<li>{escape(d)}</li>" for d in _definitions(report.k, None)) + "</ul>",
        f"<pre>{escape(protocol.__doc__ or '')}</pre>",
        *_section("Held-out cuts", held),
        *_section("Tuning cuts", tuning),
    ]
    return ("<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>Sway evaluation</title>"
            f"<style>{STYLE}</style></head><body>" + "\n".join(body) + "</body></html>\n")
