"""Python's cyclic garbage collector, tuned for a process that keeps a large live heap.

Why: a worker holds every user's and actor's state (millions of tracked objects at scale) and
allocates a batch's worth of short-lived dicts per record. With CPython's default thresholds
(700, 10, 10) the older generations are scanned often, and each full scan walks the whole heap:
measured on `scripts/time_rescore.py`, collection took about a third of the core's time. A young
generation of 50,000 allocations and objects frozen after start-up keep collection off the hot
path; cycles are still collected (asyncio and Faust make some), just in larger steps.
"""

from __future__ import annotations

import gc
import os

#: Thresholds of generations 0, 1 and 2 (CPython's default is 700, 10, 10).
THRESHOLDS = (200_000, 50, 1000)


def tune() -> tuple[int, int, int]:
    """Freeze what start-up allocated and raise the thresholds; `SWAY_GC=a,b,c` overrides them
    (for measuring), `SWAY_GC=default` keeps CPython's."""
    spec = os.environ.get("SWAY_GC", "")
    if spec == "default":
        return gc.get_threshold()
    thresholds = tuple(int(x) for x in spec.split(",")) if spec else THRESHOLDS
    gc.collect()
    gc.freeze()
    gc.set_threshold(*thresholds)
    return gc.get_threshold()
