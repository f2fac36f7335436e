"""The bounded, expiring memory of applied event ids that makes every stage idempotent."""

from __future__ import annotations

from bisect import bisect_left
from itertools import islice
from operator import itemgetter

#: Below this many ids nothing is pruned (cheap for the long tail of quiet accounts).
PRUNE_FROM = 64

_BY_TS = itemgetter(1)


def remember(seen: dict[str, int], event_id: str, ts: int, horizon_ms: int, cap: int) -> dict[str, int]:
    """A new map with `event_id` added; ids older than `horizon_ms` before the newest are
    forgotten, and at most `cap` of the newest are kept.

    Why the detours: this runs for every event on maps of up to `cap` ids (a star's hour of
    retweets), so the common cases stay in C (min/max/copy/slice) instead of a Python-level
    comprehension. The result, order included, is exactly the plain filter's:
    `{k: v for k, v in seen.items() if v >= cutoff}` plus the new id."""
    values = seen.values()
    newest = max(ts, max(values, default=ts))
    if len(seen) < PRUNE_FROM:
        kept = dict(seen)
    else:
        cutoff = newest - horizon_ms
        if min(values) >= cutoff:  # nothing expired
            kept = dict(seen)
        else:
            expired = bisect_left(sorted(values), cutoff)
            if max(islice(values, expired)) < cutoff:  # the expired ids are the oldest-inserted
                kept = dict(islice(seen.items(), expired, None))
            else:
                kept = {k: v for k, v in seen.items() if v >= cutoff}
    kept[event_id] = ts
    if len(kept) > cap:
        order = list(kept.values())
        if order == sorted(order):  # already in time order: the stable sort would not move anything
            kept = dict(islice(kept.items(), len(kept) - cap, None))
        else:
            kept = dict(sorted(kept.items(), key=_BY_TS)[-cap:])
    return kept
