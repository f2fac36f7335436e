"""Enrich waits while this worker's score stage is far behind it.

Why: the network component weighs an engagement by the engager's settled score, which enrich
reads from the score stage's table. After a restart, a failover or a broker outage both stages
work off a backlog, and enrich (the cheaper stage) ran far ahead: an engager whose own engagement
was still queued for the score stage was read at the floor score 1.0, where the batch reference
reads their real score (tests/reliability measured up to 4.5 points on one user, 1.2 on average).
Holding enrich within LIMIT records of the score stage keeps that window small. At steady state
the score stage keeps up and enrich never waits.

The hop reader (hops.py) pauses its `sway-by-actor` partitions while the score stage owes more
than LIMIT records and resumes them once it owes RESUME or fewer (hysteresis: enrich does not
wake for every record scored). The score stage's own partitions are never paused, so the wait
always ends.
"""

from __future__ import annotations

#: A record is a batch of one partition (batches.py); an edge poll becomes up to partitions² of
#: them at low rates (a few events each), so the limit is in the hundreds.
LIMIT = 256
RESUME = LIMIT // 2


class Hysteresis:
    """Whether enrich should be paused, given how many records the score stage owes."""

    def __init__(self, limit: int = LIMIT, resume: int = RESUME) -> None:
        self.limit, self.resume = limit, resume
        self.paused = False

    def update(self, owed: int) -> bool | None:
        """True: pause now; False: resume now; None: no change."""
        if not self.paused and owed > self.limit:
            self.paused = True
            return True
        if self.paused and owed <= self.resume:
            self.paused = False
            return False
        return None

    def reset(self) -> None:
        """A new assignment starts unpaused (the consumer forgets pauses with it)."""
        self.paused = False
