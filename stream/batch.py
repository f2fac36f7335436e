"""The batch reference: the same core as the stream, over a file, without Kafka.

Records are taken in file order, in batches as a worker's poll would take them: a batch is
enriched (each actor copied once), then scored (each target copied, folded and scored once), with
stream time = the latest event time so far. The result is what `sway rescore` prints and what the
streaming-vs-batch test compares with the live pipeline.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from stream.core import model, stages
from stream.core.params import Params
from stream.core.state import ActorState, UserState
from stream.events.validate import Rejected, validate_event

#: Records per batch: what one poll of the edge typically hands over per partition.
BATCH = 500


@dataclass
class BatchRun:
    users: dict[str, UserState] = field(default_factory=dict)
    actors: dict[str, ActorState] = field(default_factory=dict)
    now: int = 0
    events: int = 0
    rejected: int = 0
    duplicates: int = 0
    emitted: int = 0

    def feed(self, raws: Iterable[bytes], params: Params, min_delta: float = 0.01) -> None:
        """One batch of `interactions` records, through validate → enrich → score.

        A batch that spans a settling period's turn (in stream time) is folded as two, so
        enrich reads the scores that closed the period, as the stream does once its score stage
        is past the turn (history.settled_score)."""
        segment: list[dict[str, Any]] = []
        period = self.now // params.settle_ms
        now = self.now
        for raw in raws:
            self.events += 1
            event = validate_event(raw)
            if isinstance(event, Rejected):
                self.rejected += 1
                continue
            now = max(now, event["ts"])
            if now // params.settle_ms != period:
                self._fold(segment, params, min_delta)
                segment, period = [], now // params.settle_ms
            segment.append(event)
        self._fold(segment, params, min_delta)

    def _fold(self, events: list[dict[str, Any]], params: Params, min_delta: float) -> None:
        enrich = stages.ActorBatch(self.actors.get, self.users.get, params, owned=True)
        forwarded = []
        for event in events:
            out = enrich.add(event)
            if out is None:
                self.duplicates += 1
            else:
                forwarded.append(out)
        self.actors.update(enrich.touched)
        score = stages.TargetBatch(
            self.users.get, self._last_action, params, min_delta, owned=True, details=False
        )
        now = self.now
        for out in forwarded:
            now = max(now, out["ts"])
            if score.add(out, now) == "duplicate":
                self.duplicates += 1
        self.now = now
        for scored in score.close():
            self.users[scored.state.user_id] = scored.state
            self.emitted += scored.emit

    def _last_action(self, user_id: str) -> int | None:
        seen = self.actors.get(user_id)
        return seen.last_action if seen is not None else None

    def scores(self, params: Params, at: int | None = None) -> dict[str, model.Score]:
        """Every user's score at stream time `at` (default: the end of the file)."""
        when = self.now if at is None else at
        out = {}
        for user_id, state in self.users.items():
            seen = self.actors.get(user_id)
            current = model.touch(state, seen.last_action) if seen else state
            out[user_id] = model.score(current, when, params)
        return out


    def feed_all(
        self, records: Iterable[bytes], params: Params, min_delta: float = 0.01, batch: int = BATCH
    ) -> None:
        """Every record, `batch` at a time."""
        it = iter(records)
        while chunk := list(islice(it, batch)):
            self.feed(chunk, params, min_delta)


def rescore(
    records: Iterable[bytes], params: Params, min_delta: float = 0.01, batch: int = BATCH
) -> BatchRun:
    run = BatchRun()
    run.feed_all(records, params, min_delta, batch)
    return run
