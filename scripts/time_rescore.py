"""Time the batch reference alone (no gzip, no output): the core's events/s, for A/B runs.

    python scripts/time_rescore.py [--limit 200000] [--runs 3] [FILE]
    SWAY_PURE_CORE=1 python scripts/time_rescore.py     # the interpreted core

Why: `sway rescore` also pays for reading the gzip file and writing its output; comparing two
versions of the core is fairer on records already in memory.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import stream.core  # noqa: E402  (after the path: run from anywhere)
from stream.batch import rescore  # noqa: E402
from stream.producers.replay import records  # noqa: E402
from stream.settings import load_settings  # noqa: E402

HIGGS = ROOT.parent / "shared" / "data" / "higgs-activity_time.txt.gz"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("file", type=Path, nargs="?", default=HIGGS)
    ap.add_argument("--limit", type=int, default=200_000)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    raws = [value for _, value in records(args.file, "auto", args.limit)]
    settings = load_settings()
    params = settings.model_params()
    rates = []
    for _ in range(args.runs):
        gc.collect()
        began = time.perf_counter()
        run = rescore(raws, params, settings.emit_min_delta)
        run.scores(params)
        rates.append(len(raws) / (time.perf_counter() - began))
    sys.stdout.write(
        f"{len(raws):,} events, {stream.core.IMPLEMENTATION} core: "
        + ", ".join(f"{r:,.0f}/s" for r in rates)
        + f"; median {statistics.median(rates):,.0f}/s\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
