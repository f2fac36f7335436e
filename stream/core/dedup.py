"""The bounded, expiring memory of an actor's recent event ids (platform duplicates).

Why per actor and in place: a platform that sends an event twice sends it with the same actor, so
the enrich stage (partitioned by actor) is where a duplicate is cheapest to recognise. Redeliveries
after a crash are recognised by origin offsets instead (redelivery.py), so this memory only needs
to span `SWAY_DEDUP_HORIZON` of stream time, and the users' states do not carry it at all.
"""

from __future__ import annotations

from itertools import islice


def remember(seen: dict[str, int], event_id: str, ts: int, horizon_ms: int, cap: int) -> int:
    """Add `event_id` to `seen` (oldest first), forgetting from the front ids older than
    `horizon_ms` before this one, and the oldest beyond `cap`; returns how many it forgot.
    O(1) amortised: each id is inserted and removed once; an id that arrived out of time order
    waits for its turn."""
    seen[event_id] = ts
    cutoff = ts - horizon_ms
    left, limit = len(seen), max(cap, 1)
    drop = 0
    for stamp in seen.values():
        if left > limit or stamp < cutoff:
            drop, left = drop + 1, left - 1
        else:
            break
    for event in list(islice(seen, drop)) if drop else ():
        del seen[event]
    return drop


def compacted(seen: dict[str, int], dropped: int) -> bool:
    """Whether a map that forgot `dropped` ids from its front should be copied afresh.

    Why: a dict keeps a deleted entry's slot until it is resized, and finding its first item
    walks past all of them, so a busy actor's map (ids in, ids out) would cost more per event
    the longer it lived. A copy is compact; copying after a share of its size was forgotten
    keeps both costs O(1) amortised."""
    return dropped > 16 + len(seen) // 8
