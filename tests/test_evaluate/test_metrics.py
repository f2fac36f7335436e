"""The hand-written ranking metrics on cases small enough to check by hand."""

from __future__ import annotations

import math

import pytest

from stream.evaluate.metrics import (
    average_ranks,
    pagerank,
    pearson,
    spearman,
    top_k,
    top_k_overlap,
)


def test_average_ranks_share_the_mean_of_tied_positions() -> None:
    assert average_ranks([10.0, 20.0, 20.0, 5.0]) == [2.0, 3.5, 3.5, 1.0]
    assert average_ranks([7.0, 7.0, 7.0]) == [2.0, 2.0, 2.0]
    assert average_ranks([]) == []


def test_spearman_of_identical_orders_is_one() -> None:
    assert spearman([1, 2, 3, 4, 5], [10, 20, 30, 40, 50]) == pytest.approx(1.0)
    # only the order matters, not the values
    assert spearman([1, 2, 3, 4], [1, 4, 9, 1000]) == pytest.approx(1.0)


def test_spearman_of_reversed_orders_is_minus_one() -> None:
    assert spearman([1, 2, 3, 4, 5], [5, 4, 3, 2, 1]) == pytest.approx(-1.0)


def test_spearman_with_ties_matches_a_hand_computation() -> None:
    # ranks x = [1, 2.5, 2.5, 4], y = [1, 2, 3, 4], both means 2.5
    # sxy = 2.25 + 0 + 0 + 2.25 = 4.5, sxx = 4.5, syy = 5 -> rho = 4.5 / sqrt(22.5)
    assert spearman([1, 2, 2, 3], [1, 2, 3, 4]) == pytest.approx(4.5 / math.sqrt(22.5))
    assert spearman([1, 2, 2, 3], [1, 2, 3, 4]) == pytest.approx(0.9486833, abs=1e-7)


def test_spearman_agrees_with_the_textbook_formula_without_ties() -> None:
    x = [3.0, 1.0, 4.0, 1.5, 5.0, 9.0]
    y = [2.0, 7.0, 1.0, 8.0, 2.5, 8.5]
    rx, ry = average_ranks(x), average_ranks(y)
    n = len(x)
    d2 = sum((a - b) ** 2 for a, b in zip(rx, ry, strict=True))
    assert spearman(x, y) == pytest.approx(1 - 6 * d2 / (n * (n * n - 1)))


def test_spearman_is_nan_when_one_side_is_constant() -> None:
    assert math.isnan(spearman([1, 1, 1], [1, 2, 3]))
    assert math.isnan(spearman([1], [2]))
    with pytest.raises(ValueError):
        pearson([1, 2], [1, 2, 3])


def test_top_k_breaks_ties_by_id() -> None:
    values = {"b": 2.0, "a": 2.0, "c": 3.0, "d": 1.0}
    assert top_k(values, 2) == ["c", "a"]
    assert top_k(values, 10) == ["c", "a", "b", "d"]
    assert top_k(values, 0) == []


def test_overlap_of_identical_top_k_is_one() -> None:
    a = {str(i): float(i) for i in range(200)}
    b = {str(i): float(i) * 10 for i in range(200)}
    assert top_k_overlap(a, b, 100) == 1.0


def test_overlap_counts_the_shared_share() -> None:
    a = {"u1": 4.0, "u2": 3.0, "u3": 2.0, "u4": 1.0}
    b = {"u1": 1.0, "u2": 2.0, "u3": 3.0, "u4": 4.0}
    assert top_k_overlap(a, b, 2) == 0.0  # {u1, u2} vs {u4, u3}
    b["u1"] = 10.0
    assert top_k_overlap(a, b, 2) == 0.5  # {u1, u2} vs {u1, u4}
    # fewer ids than k: divides by the number of ids, so all of them in common is 1
    assert top_k_overlap(a, b, 100) == 1.0


def test_pagerank_of_a_star_ranks_the_hub_first_and_sums_to_one() -> None:
    edges = {(f"leaf{i}", "hub"): 1.0 for i in range(5)}
    ranks = pagerank(edges)
    assert max(ranks, key=ranks.__getitem__) == "hub"
    assert math.fsum(ranks.values()) == pytest.approx(1.0)
    leaves = {v for k, v in ranks.items() if k != "hub"}
    assert max(leaves) - min(leaves) < 1e-12  # symmetric leaves share a rank


def test_pagerank_of_a_cycle_is_uniform() -> None:
    ranks = pagerank({("a", "b"): 1.0, ("b", "c"): 1.0, ("c", "a"): 1.0})
    for v in ranks.values():
        assert v == pytest.approx(1 / 3)


def test_pagerank_with_a_dangling_node_matches_a_hand_computation() -> None:
    # a -> b, b dangling: r_a = 0.075 + 0.425 r_b and r_a + r_b = 1 -> r_b = 0.925 / 1.425
    ranks = pagerank({("a", "b"): 1.0})
    assert ranks["b"] == pytest.approx(0.925 / 1.425, abs=1e-8)
    assert ranks["a"] == pytest.approx(0.5 / 1.425, abs=1e-8)


def test_pagerank_follows_edge_weights() -> None:
    ranks = pagerank({("a", "b"): 3.0, ("a", "c"): 1.0})
    assert ranks["b"] > ranks["c"] > 0
    assert math.fsum(ranks.values()) == pytest.approx(1.0)
    assert pagerank({}) == {}
