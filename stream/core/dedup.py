"""The bounded, expiring memory of applied event ids that makes every stage idempotent."""

from __future__ import annotations

#: Below this many ids nothing is pruned (cheap for the long tail of quiet accounts).
PRUNE_FROM = 64


def remember(seen: dict[str, int], event_id: str, ts: int, horizon_ms: int, cap: int) -> dict[str, int]:
    """A new map with `event_id` added; ids older than `horizon_ms` before the newest are
    forgotten, and at most `cap` of the newest are kept."""
    newest = max(ts, max(seen.values(), default=ts))
    kept = (
        {k: v for k, v in seen.items() if v >= newest - horizon_ms} if len(seen) >= PRUNE_FROM else dict(seen)
    )
    kept[event_id] = ts
    if len(kept) > cap:
        kept = dict(sorted(kept.items(), key=lambda kv: kv[1])[-cap:])
    return kept
