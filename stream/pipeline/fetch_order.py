"""Records of an input partition reach the agents in offset order, each once per fetch position.

Why: faust-streaming 0.15's fetch loop (`Consumer._drain_messages`) hands over whatever a fetch
returned as long as its offset is not below the partition's read offset. Three ways that went
wrong were found by tests/reliability (a worker that looked healthy while its group's commit
stayed stuck, and later events counted as redeliveries and dropped):

- a batch fetched before the seek that ends recovery (or a rebalance) kept being handed over
  after the seek moved the partition back to its committed offset: the stale records jumped past
  a record never handed over, Faust registered the jump as a gap (acknowledged, so committable),
  and the records fetched again from the committed offset were then dropped as already read;
- a record whose hand-over a rebalance cut short was still marked read;
- a record fetched before a rebalance was handed over when one of the loop's awaits (a commit)
  spanned the whole rebalance (faust-streaming issue #221 describes this half).

`install()` replaces the loop with Faust's, changed in one respect: on Sway's input topics
(the acknowledged ones, which are neither compacted nor transactional, so their offsets have no
holes) a record is handed over only when it is the next one expected, and a record is marked read
only once the streams took it. A jump ahead is skipped for the rest of that batch and the partition
is sought back to the expected offset, so the next fetch starts there. A jump that a fresh fetch
repeats is real only when the log no longer holds the records (deleted by retention, _deleted);
then it goes through as Faust would. Changelog partitions, read by recovery, keep Faust's
behaviour.

Commits follow the same rule (`_new_offset`): an offset is committed only at the end of the run of
acknowledged offsets that starts where the partition's reading started (its committed offset, or
the first record handed over when it had none). Faust's own rule takes the first run wherever it
starts, treats the committed offset as the last one processed, and skips the check when that is 0
or unknown, so a record fetched before a rebalance and abandoned was committed past when it was
the only one missing (lost), and left the commit stuck forever when two were (the group's lag
never reached zero: a two-worker bench never drained). A missing head now has the partition sought
back to it; the records after it are delivered again and recognised (redelivery.py).

Limit: an offset with no record in a log that still holds the records around it (a transaction
marker; Sway's own topics, written by idempotent producers without transactions, have none) is
passed only after JUMP_REPEATS fetches that show it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from faust.transport.consumer import CONSUMER_FETCHING, Consumer

_ORIGINAL_PERFORM_SEEK = Consumer.perform_seek
_ORIGINAL_NEW_OFFSET = Consumer._new_offset
_ORIGINAL_SEEK = Consumer.seek


def _kept(self: Any, name: str) -> dict[Any, Any]:
    """A per-partition dict Sway keeps on the consumer, made on first use."""
    found: dict[Any, Any] | None = getattr(self, name, None)
    if found is None:
        found = {}
        setattr(self, name, found)
    return found


def _expected(self: Any) -> dict[Any, int]:
    """Per partition, the offset the next record handed over must have (absent: unknown)."""
    return _kept(self, "_sway_expected")


def _sought(self: Any) -> int:
    """How many seeks this consumer has done: one that lands during a hand-over wins over it."""
    return int(getattr(self, "_sway_seeks", 0))


def _started(self: Any) -> dict[Any, int]:
    """Per partition without a committed offset, the first offset handed over since its seek."""
    return _kept(self, "_sway_started")


#: How long a missing head may wait for its acknowledgement before it is read again.
HEAD_PATIENCE_S = 2.0


def _missing(self: Any) -> dict[Any, tuple[int, float]]:
    """Partitions whose head is missing: (head, since when)."""
    return _kept(self, "_sway_missing")


def _reseek(self: Any) -> dict[Any, int]:
    """Partitions whose head went missing: the offset the fetch loop seeks them back to."""
    return _kept(self, "_sway_reseek")


#: Fetch rounds in a row, and seconds, that an active input partition may hold records from its
#: next expected offset on without handing any over before it is read again from that offset.
STALL_ROUNDS = 3
STALL_PATIENCE_S = 2.0


def _quiet(self: Any) -> dict[Any, tuple[int, float]]:
    """Per partition with records waiting: (fetch rounds with none handed over, since when)."""
    return _kept(self, "_sway_quiet")


def _stalled(self: Any, handed: set[Any], now: float) -> list[tuple[Any, int]]:
    """After a fetch round: the input partitions whose records stopped coming, and where to read
    them again from.

    Why: Faust drops records fetched for a partition that is not active at that moment (paused
    by recovery, or a stream buffer that was full), and aiokafka's position has moved past them.
    A later record shows the jump (and the loop seeks back), but when none comes (the last
    records of a burst, the end of a replay) nothing would ever fetch them again. A restarted
    worker in tests/reliability/test_crash.py sat 10 minutes that way, its group's lag stuck."""
    quiet = _quiet(self)
    out: list[tuple[Any, int]] = []
    active = self._get_active_partitions()
    for tp, want in _expected(self).items():
        if tp in handed or tp not in active or not self.app.topics.acks_enabled_for(tp.topic):
            quiet.pop(tp, None)
            continue
        try:
            high = self.highwater(tp)
        except Exception:  # noqa: BLE001 - not assigned any more: nothing to wait for
            high = None
        if high is None or high <= want:
            quiet.pop(tp, None)
            continue
        rounds, since = quiet.get(tp, (0, now))
        rounds += 1
        if rounds >= STALL_ROUNDS and now - since >= STALL_PATIENCE_S:
            out.append((tp, want))
            quiet.pop(tp, None)
        else:
            quiet[tp] = (rounds, since)
    return out


async def _perform_seek(self: Any) -> None:
    await _ORIGINAL_PERFORM_SEEK(self)
    self._sway_seeks = _sought(self) + 1
    expected, started = _expected(self), _started(self)
    started.clear()
    _reseek(self).clear()
    _missing(self).clear()
    _quiet(self).clear()
    for tp, offset in self._read_offset.items():
        if offset is None:
            expected.pop(tp, None)  # no committed offset: the client's reset policy decides
        else:
            expected[tp] = offset


def _new_offset(self: Any, tp: Any) -> int | None:
    """The offset to commit on `tp`, or None: see the module's docstring."""
    if not self.app.topics.acks_enabled_for(tp.topic):
        return _ORIGINAL_NEW_OFFSET(self, tp)
    head = self._committed_offset.get(tp) or _started(self).get(tp)
    acked = self._acked[tp]
    if head is None or not acked:
        return None
    # offsets with no record (acknowledged by the fetch loop as gaps) count as acknowledged
    gaps = self._gap[tp]
    if gaps:
        for entry in sorted(gaps.overlap(0, max(acked) + 1), key=lambda x: x.begin):
            acked.extend(range(entry.begin, entry.end))
        gaps.chop(0, max(acked) + 1)
    acked.sort()
    index = self._acked_index[tp]
    while acked and acked[0] < head:  # committed already (a redelivery acknowledged again)
        index.discard(acked.pop(0))
    if not acked:
        return None
    if acked[0] != head:
        # a late acknowledgement from before a rebalance can run ahead of the head for a moment;
        # a head still missing HEAD_PATIENCE_S later is never coming
        missing = _missing(self)
        first = missing.setdefault(tp, (head, time.monotonic()))
        if first[0] != head:
            missing[tp] = (head, time.monotonic())
        elif time.monotonic() - first[1] >= HEAD_PATIENCE_S and _reseek(self).get(tp) != head:
            _reseek(self)[tp] = head
            del missing[tp]
            self.log.warning(
                "%s[%s]: offsets from %s were never processed (first acknowledged: %s); "
                "reading again from %s", tp.topic, tp.partition, head, acked[0], head,
            )  # fmt: skip
        return None
    _missing(self).pop(tp, None)
    end = 1
    while end < len(acked) and acked[end] == acked[end - 1] + 1:
        end += 1
    done = acked[end - 1]
    del acked[:end]
    index.difference_update(range(head, done + 1))
    return done + 1


async def _seek(self: Any, partition: Any, offset: int) -> None:
    await _ORIGINAL_SEEK(self, partition, offset)
    self._sway_seeks = _sought(self) + 1
    _expected(self)[partition] = offset
    _quiet(self).pop(partition, None)


#: Fetches after a seek that may repeat a jump over records still in the log before it is taken
#: as real anyway (a hole no record fills, e.g. a transaction marker: Sway's own topics have none).
JUMP_REPEATS = 8


async def _deleted(self: Any, tp: Any, want: int, repeats: int) -> bool:
    """Whether the records from `want` on are gone from the log (retention), so a jump over them
    is real.

    Why not simply "a fetch after the seek repeated it": Faust drops records fetched for a
    partition that is paused by the time they are handed over, and that happens again after a
    seek. The jump then looked real, was acknowledged as a gap and committed past: the record was
    lost (tests/reliability/test_crash.py in CI: one engagement missing after two SIGKILLs; the
    worker logs showed the same jump repeated 11 s after its first seek)."""
    if repeats >= JUMP_REPEATS:
        return True
    try:
        start = (await self.earliest_offsets(tp)).get(tp)
    except Exception:  # noqa: BLE001 - cannot tell: read it again rather than skip it
        return False
    return start is not None and start > want


def _current(self: Any, message: Any) -> bool:
    """Whether the record belongs to this generation and the flow may take it now."""
    return bool(self.flow_active and message.generation_id == self.app.consumer_generation_id)


def _left(self: Any, message: Any, why: str) -> None:
    self.log.info(
        "Left %s[%s]@%s unread (%s); it is fetched again",
        message.topic,
        message.partition,
        message.offset,
        why,
    )


async def _drain_messages(self: Any, fetcher: Any) -> None:  # pragma: no cover - a worker loop
    """Faust 0.15's fetch loop, with the ordering rule above."""
    callback = self.callback
    getmany = self.getmany
    consumer_should_stop = self._stopped.is_set
    fetcher_should_stop = fetcher._stopped.is_set
    read_offsets = self._read_offset
    expected = _expected(self)
    set_flag = self.diag.set_flag
    unset_flag = self.diag.unset_flag
    commit_every = self._commit_every
    acks_enabled_for = self.app.topics.acks_enabled_for
    yield_every = 100
    since_yield = 0
    #: partition -> (the expected offset a jump was skipped at, the seek count after its seek,
    #: fetches after a seek that repeated it): only a batch fetched after that seek can show the
    #: jump is real, and only when the log no longer holds the record (_deleted)
    jumped: dict[Any, tuple[int, int, int]] = {}

    async def back_to(tp: Any, want: int, repeats: int) -> None:
        """Have the next fetch of `tp` start at `want`, and remember the jump and that seek."""
        if tp in self.assignment():  # fetch from there, whatever moved us
            with contextlib.suppress(Exception):
                await self.seek(tp, want)
        jumped[tp] = (want, _sought(self), repeats)

    try:
        reseek = _reseek(self)
        started = _started(self)
        while not (consumer_should_stop() or fetcher_should_stop()):
            for tp, offset in list(reseek.items()):
                if tp in self.assignment():  # a missing head (_new_offset): fetch it again
                    with contextlib.suppress(Exception):
                        await self.seek(tp, offset)
                reseek.pop(tp, None)
            set_flag(CONSUMER_FETCHING)
            fetched_at = _sought(self)
            batch = getmany(timeout=1.0)
            skipping: set[Any] = set()
            handed: set[Any] = set()
            await self.sleep(0)
            if not self.should_stop:
                async for tp, message in batch:
                    since_yield += 1
                    if since_yield > yield_every:
                        await asyncio.sleep(0)
                        since_yield = 0
                    if commit_every is not None and self._n_acked >= commit_every:
                        self._n_acked = 0
                        await self.commit()
                    if not _current(self, message):
                        _left(self, message, "fetched before a rebalance")
                        break  # the seek that ends the rebalance fetches it again
                    if tp in skipping:
                        continue
                    offset = message.offset
                    ordered = acks_enabled_for(message.topic)
                    want = expected.get(tp)
                    gap: tuple[int, int] | None = None  # offsets with no record, to acknowledge
                    if ordered and want is not None and read_offsets[tp] is not None:
                        if offset < want:
                            continue  # already read at this position
                        if offset > want:
                            seen = jumped.get(tp)
                            if seen is None or seen[0] != want or fetched_at < seen[1]:
                                skipping.add(tp)
                                _left(self, message, f"expected offset {want} first")
                                if seen is None or seen[0] != want:
                                    await back_to(tp, want, 0)
                                continue  # a batch fetched before that seek proves nothing
                            if not await _deleted(self, tp, want, seen[2] + 1):
                                # a fetch after the seek repeated the jump, yet the record is
                                # there: Faust dropped it again (a partition paused meanwhile)
                                skipping.add(tp)
                                _left(self, message, f"expected offset {want} first, again")
                                await back_to(tp, want, seen[2] + 1)
                                continue
                            self.log.warning(
                                "%s[%s]: no records at offsets %s..%s; going on at %s",
                                message.topic, message.partition, want, offset - 1, offset,
                            )  # fmt: skip
                            gap = (want, offset)
                    else:
                        r_offset = read_offsets[tp]
                        if r_offset is not None and offset < r_offset:
                            continue  # Faust's rule, for changelogs and unknown positions
                        if r_offset and offset - r_offset > 1 and ordered:
                            gap = (r_offset + 1, offset)
                    if gap is not None:
                        await self._add_gap(tp, *gap)
                        if not _current(self, message):
                            _left(self, message, "fetched before a rebalance")
                            break
                    seeks = _sought(self)
                    handing = asyncio.ensure_future(callback(message))
                    await self.wait_first(handing, self.suspend_flow.wait())
                    if not handing.done() or handing.cancelled():
                        _left(self, message, "hand-over cut short by a rebalance")
                        break
                    handing.result()
                    if _sought(self) == seeks:  # else the seek's position stands
                        if ordered and want is None and tp not in started:
                            started[tp] = offset  # no committed offset: reading starts here
                        read_offsets[tp] = offset
                        expected[tp] = offset + 1
                        jumped.pop(tp, None)
                        handed.add(tp)
                for tp, offset in _stalled(self, handed, time.monotonic()):
                    self.log.warning(
                        "%s[%s]: records from %s are waiting and none came for %.0fs; reading again "
                        "from %s", tp.topic, tp.partition, offset, STALL_PATIENCE_S, offset,
                    )  # fmt: skip
                    reseek[tp] = offset
            unset_flag(CONSUMER_FETCHING)
    except self.consumer_stopped_errors:
        if self.transport.app.should_stop:
            self.log.info("Broker stopped consumer, shutting down...")
            return
        raise
    except asyncio.CancelledError:
        if self.transport.app.should_stop:
            self.log.info("Consumer shutting down for user cancel.")
            return
        raise
    except Exception as exc:
        self.log.exception("Drain messages raised: %r", exc)
        raise
    finally:
        unset_flag(CONSUMER_FETCHING)


def install() -> None:
    """Idempotent; applies to every Faust app in this process."""
    Consumer._drain_messages = _drain_messages  # type: ignore[method-assign]
    Consumer.perform_seek = _perform_seek  # type: ignore[method-assign]
    Consumer._new_offset = _new_offset  # type: ignore[method-assign]
    Consumer.seek = _seek  # type: ignore[method-assign]
