"""Erasure: a user's state without anything an erased account contributed."""

from __future__ import annotations

from stream.core import integrity
from stream.core.params import Params
from stream.core.state import TopicStat, UserState


def forget(state: UserState, engager_id: str, params: Params) -> UserState | None:
    """A copy without what `engager_id` contributed (None if they never engaged).

    Totals lose exactly the engager's stored share. The per-network and per-topic breakdowns do
    not keep per-engager parts, so they lose the same fraction of their totals, and the engager
    is dropped from topic evidence and from the reasons explain shows."""
    stat = state.engagers.get(engager_id)
    if stat is None:
        return None
    new = state.copy()
    del new.engagers[engager_id]
    integrity.count_suspect(new, stat, -1.0, params)
    reach_left = 1.0 - stat.reach / state.reach if state.reach > 0 else 1.0
    inter_left = 1.0 - stat.weight / state.interactions if state.interactions > 0 else 1.0
    reach_left, inter_left = max(0.0, reach_left), max(0.0, inter_left)
    new.reach = max(0.0, state.reach - stat.reach)
    new.interactions = max(0.0, state.interactions - stat.weight)
    new.amplifying = max(0.0, state.amplifying - stat.amp)
    new.network = max(0.0, state.network - stat.net)
    new.reasons = tuple(r for r in state.reasons if f" by {engager_id} on " not in r.text)
    new.contents = {c: v * inter_left for c, v in state.contents.items()}
    new.networks = {n: (r * reach_left, i * inter_left) for n, (r, i) in state.networks.items()}
    new.topics = {
        t: TopicStat(s.interactions * inter_left, tuple(e for e in s.engagers if e != engager_id), s.contents)
        for t, s in state.topics.items()
    }
    return new
