"""How high can any score of these signals get on `sway evaluate higgs`? (issue B, README)

`sway evaluate higgs` ranks users by the Sway score and by three baselines and compares each
ranking with the number of distinct accounts that engage the user after the cut (Spearman's rho,
average ranks for ties). The distinct-engager count has kept the best rho. This script asks
whether that is Sway's fault or the data's, with two checks on the same users and cuts:

1. **Ties.** The count gives one rank to every user with the same count, and most users have
   1-3 engagers. Any continuous score breaks those ties. Here the count itself is made
   continuous by decaying each engager by its age (30-day half-life: a factor between 0.91 and 1
   over the Higgs week, so the order between different counts barely moves) and the rho drops.
2. **A learned ceiling.** A gradient-boosted model is given 14 per-user signals a score could
   use (the count, interactions, engagers in the last 1/6/24 h, engagers by type, the user's own
   activity, time since first and last engagement, the engagers' own counts, reciprocity). It is
   trained to predict the rank of the target on the other four cuts and scored on the held-out
   cut (so nothing is tuned to the cut it is judged on).

Not part of Sway and not run by `make test`: it needs `pip install -e '.[analysis]'`
(numpy, scipy, scikit-learn). Run: `.venv/bin/python scripts/higgs_ceiling.py` (about 1 min).
"""

from __future__ import annotations

import gzip
import sys
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
from scipy.stats import rankdata, spearmanr
from sklearn.ensemble import HistGradientBoostingRegressor

HIGGS = Path(__file__).resolve().parents[2] / "shared" / "data" / "higgs-activity_time.txt.gz"
CUTS = (0.30, 0.40, 0.55, 0.70, 0.85)
HALF_LIVES_H = (6, 24, 24 * 30)
SIGNALS = ("engagers", "interactions", "engagers_1h", "engagers_6h", "engagers_24h", "retweeters",
           "mentioners", "repliers", "own_actions", "own_targets", "since_last_s", "since_first_s",
           "engagers_engagers", "reciprocal")  # fmt: skip


def load(path: Path) -> list[tuple[int, int, int, str]]:
    rows = []
    with gzip.open(path, "rt") as f:
        for line in f:
            a, b, t, kind = line.split()
            if a != b:  # self-interactions count for nothing, as in `sway evaluate higgs`
                rows.append((int(a), int(b), int(t), kind))
    rows.sort(key=lambda r: r[2])
    return rows


def cut_data(rows: list[tuple[int, int, int, str]], cut: float) -> dict[str, np.ndarray]:
    engagers: defaultdict[int, set[int]] = defaultdict(set)
    future: defaultdict[int, set[int]] = defaultdict(set)
    recent = {h: defaultdict(set) for h in (1, 6, 24)}
    by_type: defaultdict[int, defaultdict[str, set[int]]] = defaultdict(lambda: defaultdict(set))
    received, acted = Counter[int](), Counter[int]()
    targets: defaultdict[int, set[int]] = defaultdict(set)
    first, last, last_pair = {}, {}, {}
    for a, b, t, kind in rows:
        if t > cut:
            future[b].add(a)
            continue
        engagers[b].add(a)
        received[b] += 1
        acted[a] += 1
        targets[a].add(b)
        first.setdefault(b, t)
        last[b] = t
        last_pair[(a, b)] = t
        by_type[b][kind].add(a)
        for h, users in recent.items():
            if t > cut - h * 3600:
                users[b].add(a)
    users = sorted(engagers)
    index = {u: i for i, u in enumerate(users)}
    x = np.array(
        [
            [len(engagers[u]), received[u], len(recent[1][u]), len(recent[6][u]), len(recent[24][u]),
             len(by_type[u]["RT"]), len(by_type[u]["MT"]), len(by_type[u]["RE"]), acted[u],
             len(targets[u]), cut - last[u], cut - first[u],
             np.mean([len(engagers.get(a, ())) for a in engagers[u]]), len(engagers[u] & targets[u])]
            for u in users
        ],
        dtype=float,
    )  # fmt: skip
    decayed = {h: np.zeros(len(users)) for h in HALF_LIVES_H}
    for (_, b), t in last_pair.items():
        for h, arr in decayed.items():
            arr[index[b]] += 2.0 ** (-(cut - t) / (h * 3600))
    y = np.array([len(future[u]) for u in users], dtype=float)
    return {"x": x, "y": y, **{f"decayed_{h}h": arr for h, arr in decayed.items()}}


def out(cells: list[str]) -> None:
    sys.stdout.write(" | ".join(cells) + "\n")


def rho(a: np.ndarray, b: np.ndarray) -> float:
    return float(spearmanr(a, b)[0])


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else HIGGS
    rows = load(path)
    t0, t1 = rows[0][2], rows[-1][2]
    data = {f: cut_data(rows, t0 + f * (t1 - t0)) for f in CUTS}
    head = ["cut", "users", "count", *(f"count decayed {h}h" for h in HALF_LIVES_H), "learned (14 signals)"]
    out(head)
    out(["---"] * len(head))
    means: defaultdict[str, list[float]] = defaultdict(list)
    for f, d in data.items():
        train = [g for g in data if g != f]
        model = HistGradientBoostingRegressor(
            max_iter=200, learning_rate=0.05, max_leaf_nodes=15, random_state=0
        )
        model.fit(
            np.vstack([data[g]["x"] for g in train]),
            np.concatenate([rankdata(data[g]["y"]) / len(data[g]["y"]) for g in train]),
        )
        row = {"count": rho(d["x"][:, 0], d["y"])}
        row |= {f"count decayed {h}h": rho(d[f"decayed_{h}h"], d["y"]) for h in HALF_LIVES_H}
        row["learned (14 signals)"] = rho(model.predict(d["x"]), d["y"])
        for k, v in row.items():
            means[k].append(v)
        out([f"{f:.2f}", f"{len(d['y']):,}", *(f"{v:.4f}" for v in row.values())])
    out(["mean", "", *(f"{np.mean(v):.4f}" for v in means.values())])
    mid = [i for i, f in enumerate(CUTS) if f in (0.40, 0.55, 0.70)]
    out(["mean 0.40/0.55/0.70", "", *(f"{np.mean([v[i] for i in mid]):.4f}" for v in means.values())])


if __name__ == "__main__":
    main()
