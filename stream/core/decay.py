"""Forward decay (Cormode et al. 2009): store value * 2^((t - landmark) / H) once, divide on read.

Why: an idle user costs nothing until read, every update is O(1), and adding contributions is
commutative, so the order events arrive in does not change the sums.
"""

from __future__ import annotations

#: Past this many half-lives between landmark and now, stored values are rebased to stay finite.
REBASE_AFTER_HALF_LIVES = 400.0


def growth(t_ms: int, landmark_ms: int, half_life_ms: int) -> float:
    """The factor a value observed at t is stored with; value at T = stored / growth(T)."""
    return 2.0 ** ((t_ms - landmark_ms) / half_life_ms)


def decayed(stored: float, t_ms: int, landmark_ms: int, half_life_ms: int) -> float:
    return stored / growth(t_ms, landmark_ms, half_life_ms)


def needs_rebase(t_ms: int, landmark_ms: int, half_life_ms: int) -> bool:
    return abs(t_ms - landmark_ms) / half_life_ms > REBASE_AFTER_HALF_LIVES
