"""Forward decay (Cormode et al. 2009): store value * 2^((t - landmark) / H) once, divide on read.

Why: an idle user costs nothing until read, every update is O(1), and adding contributions is
commutative, so the order events arrive in does not change the sums. Exponents are clamped so
that no gap between landmark and time, however long or however short the half-life, can
overflow a float (values simply decay to 0).
"""

from __future__ import annotations

#: Past this many half-lives between landmark and now, stored values are rebased to stay finite.
REBASE_AFTER_HALF_LIVES = 400.0
#: 2^±1000 is still a finite float; beyond it a value is indistinguishable from 0 anyway.
MAX_EXPONENT = 1000.0


def _clamped(x: float) -> float:
    return MAX_EXPONENT if x > MAX_EXPONENT else (-MAX_EXPONENT if x < -MAX_EXPONENT else x)


def growth(t_ms: int, landmark_ms: int, half_life_ms: int) -> float:
    """The factor a value observed at t is stored with (never 0, never infinite)."""
    return float(2.0 ** _clamped((t_ms - landmark_ms) / half_life_ms))


def shrink(t_ms: int, landmark_ms: int, half_life_ms: int) -> float:
    """1 / growth: multiply a stored value by this to read it at t."""
    return float(2.0 ** _clamped((landmark_ms - t_ms) / half_life_ms))


def decayed(stored: float, t_ms: int, landmark_ms: int, half_life_ms: int) -> float:
    return stored * shrink(t_ms, landmark_ms, half_life_ms)


def needs_rebase(t_ms: int, landmark_ms: int, half_life_ms: int) -> bool:
    return (t_ms - landmark_ms) / half_life_ms > REBASE_AFTER_HALF_LIVES


def too_old(t_ms: int, landmark_ms: int, half_life_ms: int) -> bool:
    """An event this far before the landmark contributes nothing measurable."""
    return (landmark_ms - t_ms) / half_life_ms > REBASE_AFTER_HALF_LIVES
