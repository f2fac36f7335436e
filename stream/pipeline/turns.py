"""Taking turns on the event loop: a worker answers HTTP on the loop that scores.

Why: one batch record of 500 events holds the loop ~25 ms per stage, and one poll of the edge or
the hops many times that; every request that arrives meanwhile waits it out (at 500 req/s on
`/users/{id}` while scoring, p99 was 87-124 ms with the loop held up to 0.2 s at a time). The
loops that handle many items hand the loop over every TURN items, so a request waits for one
turn, not for a poll.
"""

from __future__ import annotations

import asyncio

#: Items handled between two turns: ~2-5 ms of scoring, a few µs to hand the loop over.
TURN = 100


async def take_turns() -> None:
    """Let every ready callback run (a request's bytes, a timer) before going on."""
    await asyncio.sleep(0)
