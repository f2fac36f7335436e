"""The batch reference: the same core as the stream, over a file, without Kafka.

Events are processed in file order with stream time = the latest event time so far, which is
what one worker sees on a replay; the result is what `sway rescore` prints and what the
streaming-vs-batch test compares with the live pipeline.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from stream.core import model, stages
from stream.core.params import Params
from stream.core.state import ActorState, UserState
from stream.events.validate import Rejected, validate_event


@dataclass
class BatchRun:
    users: dict[str, UserState] = field(default_factory=dict)
    actors: dict[str, ActorState] = field(default_factory=dict)
    now: int = 0
    events: int = 0
    rejected: int = 0
    duplicates: int = 0
    emitted: int = 0

    def feed(self, raw: bytes, params: Params, min_delta: float = 0.01) -> None:
        """One record of `interactions`, through validate → enrich → score."""
        self.events += 1
        event = validate_event(raw)
        if isinstance(event, Rejected):
            self.rejected += 1
            return
        actor_id: str = event["actor_id"]
        actor, out = stages.enrich(
            self.actors.get(actor_id), event, self.users.get(actor_id), params
        )
        if out is None:
            self.duplicates += 1
            return
        self.actors[actor_id] = actor
        self.now = max(self.now, event["ts"])
        target = stages.target_of(out)
        seen = self.actors.get(target)
        scored = stages.score_event(
            self.users.get(target),
            out,
            self.now,
            seen.last_action if seen else None,
            params,
            min_delta,
        )
        if scored.why == "duplicate":
            self.duplicates += 1
            return
        self.users[target] = scored.state
        self.emitted += scored.emit

    def scores(self, params: Params, at: int | None = None) -> dict[str, model.Score]:
        """Every user's score at stream time `at` (default: the end of the file)."""
        when = self.now if at is None else at
        out = {}
        for user_id, state in self.users.items():
            seen = self.actors.get(user_id)
            current = model.touch(state, seen.last_action) if seen else state
            out[user_id] = model.score(current, when, params)
        return out


def rescore(records: Iterable[bytes], params: Params, min_delta: float = 0.01) -> BatchRun:
    run = BatchRun()
    for raw in records:
        run.feed(raw, params, min_delta)
    return run
