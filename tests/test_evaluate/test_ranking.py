"""The protocol's tie-aware metrics: hand-computable cases, brute-force references, and the
property that a weight of m is the same as m copies of a point."""

from __future__ import annotations

import math
import random
from itertools import combinations

import pytest

from stream.evaluate.metrics import spearman
from stream.evaluate.ranking import (
    kendall_tau_b,
    ndcg_at_k,
    precision_at_k,
    top_k_membership,
    weighted_inversions,
    weighted_spearman,
    within_group_spearman,
)


def brute_tau_b(x: list[float], y: list[float]) -> float:
    """O(n^2) tau-b straight from the definition."""
    concordant = discordant = tied_x = tied_y = 0
    for i, j in combinations(range(len(x)), 2):
        dx, dy = x[i] - x[j], y[i] - y[j]
        if dx == 0 and dy == 0:
            continue
        if dx == 0:
            tied_x += 1
        elif dy == 0:
            tied_y += 1
        elif dx * dy > 0:
            concordant += 1
        else:
            discordant += 1
    den = math.sqrt((concordant + discordant + tied_x) * (concordant + discordant + tied_y))
    return (concordant - discordant) / den if den else math.nan


def expand(x: list[float], y: list[float], w: list[int]) -> tuple[list[float], list[float]]:
    xs = [a for a, c in zip(x, w, strict=True) for _ in range(c)]
    ys = [b for b, c in zip(y, w, strict=True) for _ in range(c)]
    return xs, ys


@pytest.mark.parametrize("seed", range(30))
def test_tau_b_matches_brute_force_with_ties(seed: int) -> None:
    rng = random.Random(seed)
    n = rng.randint(2, 40)
    x = [float(rng.randint(0, 5)) for _ in range(n)]
    y = [float(rng.randint(0, 3)) for _ in range(n)]
    expected = brute_tau_b(x, y)
    got = kendall_tau_b(x, y)
    if math.isnan(expected):
        assert math.isnan(got)
    else:
        assert got == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("seed", range(10))
def test_weights_are_copies(seed: int) -> None:
    rng = random.Random(100 + seed)
    n = rng.randint(3, 25)
    x = [float(rng.randint(0, 4)) for _ in range(n)]
    y = [float(rng.randint(0, 4)) for _ in range(n)]
    w = [rng.randint(0, 3) for _ in range(n)]
    xs, ys = expand(x, y, w)
    for weighted, plain in [
        (kendall_tau_b(x, y, w), brute_tau_b(xs, ys)),
        (weighted_spearman(x, y, w), spearman(xs, ys)),
        (ndcg_at_k(x, y, 5, w), ndcg_at_k(xs, ys, 5)),
        (precision_at_k(x, y, 5, w), precision_at_k(xs, ys, 5)),
    ]:
        assert (math.isnan(weighted) and math.isnan(plain)) or weighted == pytest.approx(plain)


def test_inversions_by_hand() -> None:
    assert weighted_inversions([3.0, 2.0, 1.0], [1, 1, 1]) == 3
    assert weighted_inversions([1.0, 2.0, 3.0], [1, 1, 1]) == 0
    assert weighted_inversions([2.0, 1.0], [2, 3]) == 6  # every copy of 2 before every copy of 1
    assert weighted_inversions([1.0, 1.0], [1, 1]) == 0  # ties are not inversions


def test_tau_b_by_hand() -> None:
    assert kendall_tau_b([1, 2, 3], [1, 2, 3]) == pytest.approx(1.0)
    assert kendall_tau_b([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    # x = (1, 1, 2), y = (1, 2, 3): C = 2, D = 0, one tie on x: 2 / sqrt(2 * 3)
    assert kendall_tau_b([1, 1, 2], [1, 2, 3]) == pytest.approx(2 / math.sqrt(6))
    assert math.isnan(kendall_tau_b([1, 1, 1], [1, 2, 3]))


def test_ndcg_of_a_perfect_order_is_one() -> None:
    y = [5.0, 0.0, 3.0, 3.0, 1.0, 0.0, 8.0]
    assert ndcg_at_k(y, y, 3) == pytest.approx(1.0)
    assert ndcg_at_k([2 * v + 1 for v in y], y, 100) == pytest.approx(1.0)
    assert ndcg_at_k([-v for v in y], y, 3) < 1.0


def test_ndcg_ties_share_the_mean_discount() -> None:
    # all tied: both points get (1/log2(2) + 1/log2(3)) / 2; gains 1 and 0
    ideal = 1.0
    assert ndcg_at_k([0.0, 0.0], [1.0, 0.0], 2) == pytest.approx((1 + 1 / math.log2(3)) / 2 / ideal)
    # a tie group straddling k = 1: only position 1 counts, shared by the two members
    assert ndcg_at_k([0.0, 0.0], [1.0, 0.0], 1) == pytest.approx(0.5)
    assert math.isnan(ndcg_at_k([1.0, 2.0], [0.0, 0.0], 2))


def test_membership_shares_the_boundary_tie() -> None:
    share = top_k_membership([9.0, 5.0, 5.0, 5.0, 1.0], 2)
    assert share == pytest.approx([1.0, 1 / 3, 1 / 3, 1 / 3, 0.0])
    rng = random.Random(7)
    for _ in range(50):
        x = [float(rng.randint(0, 6)) for _ in range(rng.randint(1, 60))]
        k = rng.randint(1, 80)
        assert math.fsum(top_k_membership(x, k)) == pytest.approx(min(k, len(x)))
        assert all(0.0 <= s <= 1.0 for s in top_k_membership(x, k))


def test_precision_by_hand() -> None:
    y = [4.0, 3.0, 0.0, 0.0]
    assert precision_at_k(y, y, 2) == pytest.approx(1.0)
    assert precision_at_k([0.0, 0.0, 1.0, 1.0], y, 2) == pytest.approx(0.0)
    # all tied: each user is half in the top 2; two of four are relevant -> 0.5
    assert precision_at_k([1.0] * 4, y, 2) == pytest.approx(0.5)
    # target tie at the boundary: 3 users tied at the 2nd value are all relevant
    assert precision_at_k([3.0, 2.0, 1.0, 0.0], [5.0, 2.0, 2.0, 2.0], 2) == pytest.approx(1.0)


def test_within_group_spearman_is_zero_for_the_count_itself() -> None:
    rng = random.Random(3)
    past = [float(rng.randint(1, 3)) for _ in range(300)]
    future = [float(rng.randint(0, 9)) for _ in range(300)]
    assert within_group_spearman(past, past, future) == 0.0
    # a predictor equal to the future inside every group is perfect
    assert within_group_spearman(past, future, future) == pytest.approx(1.0)


def test_within_group_spearman_weights_by_size_and_drops_small_groups() -> None:
    groups = ["a"] * 40 + ["b"] * 60 + ["c"] * 5
    x = [float(i) for i in range(40)] + [float(-i) for i in range(60)] + [0.0] * 5
    y = [float(i) for i in range(40)] + [float(i) for i in range(60)] + [1.0] * 5
    assert within_group_spearman(groups, x, y) == pytest.approx((40 * 1 + 60 * -1) / 100)
    assert math.isnan(within_group_spearman(groups, x, y, min_size=1000))
