"""Taking turns on the event loop: a worker answers HTTP on the loop that scores.

Why: one batch record of 500 events held the loop ~25 ms per stage, and one poll of the edge or
the hops many times that; every request that arrived meanwhile waited it out (at 500 req/s on
`/users/{id}` while scoring, p99 was 87-124 ms with the loop held up to 0.2 s at a time). A
count of items between turns is wrong on a slower or busier machine (100 items took 2 ms on one
day and 15 ms on another), so the loops that handle many items ask the clock: a stage hands the
loop over once it has held it for BUDGET_SECONDS.
"""

from __future__ import annotations

import asyncio
import time

#: The longest a stage keeps the loop before letting ready callbacks run (a request, a timer).
BUDGET_SECONDS = 0.004

_clock = time.perf_counter
_last = [_clock()]  # when the loop was last handed over, by any stage (one loop per worker)


def due() -> bool:
    """True once the running stage has held the loop for its budget (about 60 ns to ask)."""
    return _clock() - _last[0] > BUDGET_SECONDS


async def take() -> None:
    """Let every ready callback run before going on."""
    await asyncio.sleep(0)
    _last[0] = _clock()
