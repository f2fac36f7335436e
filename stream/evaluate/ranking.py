"""Tie-aware ranking metrics on weighted points, written by hand (no numpy/scipy).

Every function takes values `x` (the predictor), `y` (the target) and optional integer weights
`w`: point i stands for w_i identical users. Why weights: a bootstrap resample is a vector of
multiplicities, and users with the same (x, y) collapse into one weighted point, so a resample
costs the number of distinct points, not the number of users. With all weights 1 each metric is
its usual unweighted definition, and a weight of m equals m duplicated points (the tests check).

- `weighted_spearman`: Pearson correlation of average ranks (ties share the mean rank).
- `kendall_tau_b`: tau-b by Knight's method: sort by (x, y), count the inversions of y
  (a Fenwick tree over y's ranks), O(n log n).
- `ndcg_at_k`: linear gain y, discount 1/log2(1 + position); a tie group of x spanning
  positions p+1..p+W gives each member the mean discount of those positions (0 past k).
- `top_k_membership` / `precision_at_k`: ties at the k-th value share the last places, so the
  memberships sum to exactly min(k, n).
- `within_group_spearman`: Spearman inside groups of equal `group` (>= min_size users),
  weighted by group size; a group where either side is constant contributes 0.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from itertools import groupby

Weights = Sequence[int] | None


def _points(x: Sequence[float], y: Sequence[float], w: Weights) -> list[tuple[float, float, int]]:
    """(x, y, w) triples with w > 0; refuses sequences of different lengths."""
    if len(x) != len(y) or (w is not None and len(w) != len(x)):
        raise ValueError("x, y and w must have the same length")
    weights: Sequence[int] = [1] * len(x) if w is None else w
    return [(a, b, c) for a, b, c in zip(x, y, weights, strict=True) if c > 0]


def weighted_ranks(values: Sequence[float], w: Sequence[int]) -> list[float]:
    """1-based ascending average ranks where point i occupies w_i positions."""
    order = sorted(range(len(values)), key=values.__getitem__)
    ranks = [0.0] * len(values)
    before = 0
    for _, group in groupby(order, key=values.__getitem__):
        members = list(group)
        size = sum(w[i] for i in members)
        mean = before + (size + 1) / 2.0
        for i in members:
            ranks[i] = mean
        before += size
    return ranks


def weighted_pearson(x: Sequence[float], y: Sequence[float], w: Sequence[int]) -> float:
    """Pearson correlation with frequency weights; NaN when a side is constant or n < 2."""
    n = sum(w)
    if n < 2:
        return math.nan
    mx = math.fsum(a * c for a, c in zip(x, w, strict=True)) / n
    my = math.fsum(b * c for b, c in zip(y, w, strict=True)) / n
    sxy = math.fsum(c * (a - mx) * (b - my) for a, b, c in zip(x, y, w, strict=True))
    sxx = math.fsum(c * (a - mx) ** 2 for a, c in zip(x, w, strict=True))
    syy = math.fsum(c * (b - my) ** 2 for b, c in zip(y, w, strict=True))
    if sxx <= 1e-12 * n or syy <= 1e-12 * n:
        return math.nan
    return max(-1.0, min(1.0, sxy / math.sqrt(sxx * syy)))


def weighted_spearman(x: Sequence[float], y: Sequence[float], w: Weights = None) -> float:
    """Spearman's rho of the weighted points (average ranks); NaN if either side is constant."""
    pts = _points(x, y, w)
    xs, ys, ws = [p[0] for p in pts], [p[1] for p in pts], [p[2] for p in pts]
    return weighted_pearson(weighted_ranks(xs, ws), weighted_ranks(ys, ws), ws)


def _pairs(sizes: Sequence[int]) -> int:
    return sum(s * (s - 1) // 2 for s in sizes)


def _group_sizes(items: list[tuple[float, float, int]], key: int | None) -> list[int]:
    """Total weight of each run of equal key (0: x, 1: y, None: both) in sorted `items`."""
    ordered = items if key is None or key == 0 else sorted(items, key=lambda p: p[1])
    pick = (lambda p: (p[0], p[1])) if key is None else (lambda p: p[key])
    return [sum(p[2] for p in run) for _, run in groupby(ordered, key=pick)]


def weighted_inversions(ys: Sequence[float], ws: Sequence[int]) -> int:
    """Weighted count of pairs i < j with ys[i] > ys[j], O(n log n).

    A Fenwick tree over the ranks of y holds the weight seen so far at or below each rank; the
    weight above y_j is what was seen minus that prefix. It replaces the merge of Knight's
    merge sort (same count, same bound) and is fast when y takes few values, as counts do."""
    rank = {v: i + 1 for i, v in enumerate(sorted(set(ys)))}
    tree = [0] * (len(rank) + 1)
    seen = count = 0
    for y, c in zip(ys, ws, strict=True):
        r = rank[y]
        below, i = 0, r
        while i > 0:
            below += tree[i]
            i -= i & -i
        count += c * (seen - below)
        while r < len(tree):
            tree[r] += c
            r += r & -r
        seen += c
    return count


def kendall_tau_b(x: Sequence[float], y: Sequence[float], w: Weights = None) -> float:
    """Kendall's tau-b: (C - D) / sqrt((n0 - n1)(n0 - n2)); NaN when a side is constant.

    Sorted by (x, y), the discordant pairs are exactly the inversions of y, so
    C - D = n0 - n1 - n2 + n3 - 2 * inversions (n1, n2, n3: pairs tied on x, y, both)."""
    items = sorted(_points(x, y, w))
    n = sum(p[2] for p in items)
    n0 = n * (n - 1) // 2
    n1, n2 = _pairs(_group_sizes(items, 0)), _pairs(_group_sizes(items, 1))
    n3 = _pairs(_group_sizes(items, None))
    swaps = weighted_inversions([p[1] for p in items], [p[2] for p in items])
    denominator = (n0 - n1) * (n0 - n2)
    if denominator <= 0:
        return math.nan
    return max(-1.0, min(1.0, (n0 - n1 - n2 + n3 - 2 * swaps) / math.sqrt(denominator)))


def _discounts(k: int) -> list[float]:
    """prefix[p] = sum of 1/log2(1 + q) for q = 1..p, p = 0..k."""
    prefix = [0.0]
    for q in range(1, k + 1):
        prefix.append(prefix[-1] + 1.0 / math.log2(1 + q))
    return prefix


def _dcg(pts: list[tuple[float, float, int]], k: int, prefix: list[float]) -> float:
    """DCG@k of the points ranked by x descending, tie groups sharing their mean discount."""
    total, position = 0.0, 0
    ordered = sorted(pts, key=lambda p: -p[0])
    for _, run in groupby(ordered, key=lambda p: p[0]):
        members = list(run)
        size = sum(p[2] for p in members)
        gain = math.fsum(p[1] * p[2] for p in members)
        covered = prefix[min(position + size, k)] - prefix[min(position, k)]
        total += gain * covered / size
        position += size
        if position >= k:
            break
    return total


def ndcg_at_k(x: Sequence[float], y: Sequence[float], k: int, w: Weights = None) -> float:
    """NDCG@k with gain y and tie-averaged discounts; NaN when no point has a positive gain."""
    pts = _points(x, y, w)
    prefix = _discounts(k)
    ideal = _dcg([(b, b, c) for _, b, c in pts], k, prefix)
    return _dcg(pts, k, prefix) / ideal if ideal > 0 else math.nan


def top_k_membership(x: Sequence[float], k: int, w: Weights = None) -> list[float]:
    """Each point's share of the top k by x (its weight times the fraction of its tie group
    that fits); the shares sum to min(k, total weight)."""
    weights: Sequence[int] = [1] * len(x) if w is None else w
    order = sorted(range(len(x)), key=lambda i: -x[i])
    share = [0.0] * len(x)
    position = 0
    for _, run in groupby(order, key=x.__getitem__):
        members = [i for i in run if weights[i] > 0]
        size = sum(weights[i] for i in members)
        if size == 0:
            continue
        fits = max(0, min(size, k - position)) / size
        for i in members:
            share[i] = weights[i] * fits
        position += size
        if position >= k:
            break
    return share


def precision_at_k(x: Sequence[float], y: Sequence[float], k: int, w: Weights = None) -> float:
    """Share of the (tie-shared) top k by x that is relevant: y > 0 and y >= the k-th largest y.

    Counting every user tied with the target's k-th value as relevant lets a perfect order
    score 1 even when the target itself has ties at the boundary."""
    weights: Sequence[int] = [1] * len(x) if w is None else w
    n = sum(c for c in weights if c > 0)
    if n == 0 or len(x) != len(y):
        return math.nan
    places = min(k, n)
    threshold = _kth_largest(y, weights, places)
    share = top_k_membership(x, k, weights)
    hits = math.fsum(s for s, b in zip(share, y, strict=True) if b > 0 and b >= threshold)
    return hits / places


def _kth_largest(y: Sequence[float], w: Sequence[int], k: int) -> float:
    """The value at weighted position k of y sorted in descending order."""
    seen = 0
    for i in sorted(range(len(y)), key=lambda i: -y[i]):
        seen += max(0, w[i])
        if seen >= k:
            return y[i]
    return -math.inf


def within_group_spearman(groups: Sequence[Hashable], x: Sequence[float], y: Sequence[float],
                          w: Weights = None, min_size: int = 30) -> float:
    """Size-weighted mean Spearman inside groups of >= min_size users; NaN if no group is kept.

    Why: with groups of equal past count, it asks whether the predictor orders users the
    count cannot tell apart; the count itself scores 0 by construction."""
    weights: Sequence[int] = [1] * len(x) if w is None else w
    buckets: dict[Hashable, list[int]] = {}
    for i, g in enumerate(groups):
        if weights[i] > 0:
            buckets.setdefault(g, []).append(i)
    total, mass = 0.0, 0
    for members in buckets.values():
        size = sum(weights[i] for i in members)
        if size < min_size:
            continue
        rho = weighted_spearman([x[i] for i in members], [y[i] for i in members],
                                [weights[i] for i in members])
        total += size * (0.0 if math.isnan(rho) else rho)
        mass += size
    return total / mass if mass else math.nan
