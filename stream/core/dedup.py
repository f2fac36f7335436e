"""The bounded, expiring memory of an actor's recent event ids (platform duplicates).

Why per actor and in place: a platform that sends an event twice sends it with the same actor, so
the enrich stage (partitioned by actor) is where a duplicate is cheapest to recognise. Redeliveries
after a crash are recognised by origin offsets instead (redelivery.py), so this memory only needs
to span `SWAY_DEDUP_HORIZON` of stream time, and the users' states do not carry it at all.
"""

from __future__ import annotations


def remember(seen: dict[str, int], event_id: str, ts: int, horizon_ms: int, cap: int) -> None:
    """Add `event_id` to `seen` (oldest first), forgetting from the front ids older than
    `horizon_ms` before this one, and the oldest beyond `cap`. O(1) amortised: each id is
    inserted and removed once; an id that arrived out of time order waits for its turn."""
    seen[event_id] = ts
    cutoff = ts - horizon_ms
    while len(seen) > max(cap, 1) or next(iter(seen.values())) < cutoff:
        del seen[next(iter(seen))]
