"""Ranking metrics for the offline evaluation, written by hand (no numpy/scipy/networkx).

- `average_ranks` / `spearman`: Spearman's rho as the Pearson correlation of average ranks
  (tied values share the mean of the ranks they span).
- `top_k` / `top_k_overlap`: the k best ids by value, ties broken by id, and the share of two
  such sets that agree.
- `pagerank`: weighted PageRank by power iteration (damping 0.85, dangling mass spread
  uniformly, stop when the L1 change is below 1e-9 or after 50 iterations).
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from typing import TypeVar

from stream.evaluate.ranking import weighted_ranks

K = TypeVar("K", bound=Hashable)


def average_ranks(values: Sequence[float]) -> list[float]:
    """1-based ranks in ascending order; tied values get the mean of the ranks they span."""
    return weighted_ranks(values, [1] * len(values))


def pearson(x: Sequence[float], y: Sequence[float]) -> float:
    """Pearson correlation; NaN when either side is constant or there are fewer than 2 points."""
    if len(x) != len(y):
        raise ValueError(f"lengths differ: {len(x)} != {len(y)}")
    n = len(x)
    if n < 2:
        return math.nan
    mx = math.fsum(x) / n
    my = math.fsum(y) / n
    sxy = math.fsum((a - mx) * (b - my) for a, b in zip(x, y, strict=True))
    sxx = math.fsum((a - mx) ** 2 for a in x)
    syy = math.fsum((b - my) ** 2 for b in y)
    if sxx <= 0.0 or syy <= 0.0:
        return math.nan
    rho = sxy / math.sqrt(sxx * syy)
    return max(-1.0, min(1.0, rho))


def spearman(x: Sequence[float], y: Sequence[float]) -> float:
    """Spearman's rho with average ranks for ties, in [-1, 1]; NaN if either side is constant."""
    return pearson(average_ranks(x), average_ranks(y))


def top_k(values: Mapping[str, float], k: int) -> list[str]:
    """The k ids with the highest values, best first; ties broken by ascending id."""
    return sorted(values, key=lambda key: (-values[key], key))[: max(0, k)]


def top_k_overlap(a: Mapping[str, float], b: Mapping[str, float], k: int) -> float:
    """|top_k(a) ∩ top_k(b)| / min(k, n) in [0, 1], n = the number of ids (1 when identical).

    Dividing by min(k, n) keeps the value in [0, 1] on populations smaller than k; with at least
    k ids it is the plain |∩| / k.
    """
    n = min(k, len(a), len(b))
    if n <= 0:
        return math.nan
    return len(set(top_k(a, k)) & set(top_k(b, k))) / n


def pagerank(
    edges: Mapping[tuple[K, K], float],
    damping: float = 0.85,
    tol: float = 1e-9,
    max_iter: int = 50,
) -> dict[K, float]:
    """Weighted PageRank of a directed graph given as {(source, dest): weight}.

    Each node passes `damping` of its rank to its successors in proportion to edge weight;
    nodes without out-weight (dangling) spread theirs uniformly over all nodes; everyone gets
    (1 - damping) / n. Power iteration from the uniform vector until the L1 change is < `tol`,
    at most `max_iter` iterations. The result sums to 1. Self-loops count like other edges;
    drop them first if they should not.
    """
    index: dict[K, int] = {}
    for src, dst in edges:
        index.setdefault(src, len(index))
        index.setdefault(dst, len(index))
    n = len(index)
    if n == 0:
        return {}
    out_weight = [0.0] * n
    sources: list[int] = []
    targets: list[int] = []
    weights: list[float] = []
    for (src, dst), w in edges.items():
        if w <= 0:
            continue
        s, d = index[src], index[dst]
        out_weight[s] += w
        sources.append(s)
        targets.append(d)
        weights.append(w)
    # once: the damped share of the source's rank that follows each edge
    shares = [damping * w / out_weight[s] for s, w in zip(sources, weights, strict=True)]
    dangling = [i for i in range(n) if out_weight[i] <= 0.0]
    rank = [1.0 / n] * n
    for _ in range(max_iter):
        lost = damping * math.fsum(rank[i] for i in dangling)
        base = (1.0 - damping) / n + lost / n
        new = [base] * n
        for s, d, share in zip(sources, targets, shares, strict=True):
            new[d] += rank[s] * share
        total = math.fsum(new)
        new = [v / total for v in new]  # guard against drift
        change = math.fsum(abs(a - b) for a, b in zip(new, rank, strict=True))
        rank = new
        if change < tol:
            break
    return {node: rank[i] for node, i in index.items()}
