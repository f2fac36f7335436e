"""Batch records of the internal topics: bounded in items and bytes, order kept, nothing lost."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from stream.pipeline import batches

ITEMS = st.lists(
    st.fixed_dictionaries({"event_id": st.text(max_size=20), "pad": st.text(max_size=3000)}),
    max_size=1200,
)


@settings(max_examples=60, deadline=None, database=None)
@given(ITEMS)
def test_records_are_bounded_and_hold_every_item_in_order(items: list[dict[str, str]]) -> None:
    records = list(batches.encode(items))
    assert [item for raw in records for item in batches.decode(raw)] == items
    for raw in records:
        assert len(batches.decode(raw)) <= batches.MAX_ITEMS
        assert len(raw) <= batches.MAX_BYTES or len(batches.decode(raw)) == 1


def test_a_lone_object_is_one_item() -> None:
    """Records written one item at a time (before batching) are still read."""
    assert batches.decode(b'{"erase": "u1", "at": 5}') == [{"erase": "u1", "at": 5}]


def test_grouping_keeps_each_partition_in_order() -> None:
    groups = batches.by_partition([(1, "a"), (0, "b"), (1, "c")])
    assert groups == {1: ["a", "c"], 0: ["b"]}
