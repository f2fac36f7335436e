"""Compare two `sway rescore --out` files: how many users' scores differ, and by how much.

    python scripts/compare_scores.py before.jsonl after.jsonl [--tol 1e-6]

Why: a refactor for speed must keep the scores; this says where it does not, per field.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import orjson


def load(path: Path) -> dict[str, dict[str, Any]]:
    with path.open("rb") as f:
        return {m["user_id"]: m for m in map(orjson.loads, f)}


def fields(m: dict[str, Any]) -> dict[str, float]:
    out = {"score": float(m["score"])}
    out.update({f"components.{k}": float(v) for k, v in m["components"].items()})
    out.update({f"signals.{k}": float(v) for k, v in m["signals"].items()})
    out.update({f"trend.{k}": float(v) for k, v in m["trend"].items()})
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("before", type=Path)
    ap.add_argument("after", type=Path)
    ap.add_argument("--tol", type=float, default=1e-6)
    args = ap.parse_args()
    a, b = load(args.before), load(args.after)
    out = sys.stdout
    out.write(f"users: {len(a)} before, {len(b)} after, {len(a.keys() & b.keys())} in both\n")
    worst: dict[str, tuple[float, str]] = {}
    differ: dict[str, int] = {}
    for user in a.keys() & b.keys():
        fa, fb = fields(a[user]), fields(b[user])
        for name in fa.keys() | fb.keys():
            d = abs(fa.get(name, 0.0) - fb.get(name, 0.0))
            if d > args.tol:
                differ[name] = differ.get(name, 0) + 1
                if d > worst.get(name, (0.0, ""))[0]:
                    worst[name] = (d, user)
        if a[user].get("topics") != b[user].get("topics"):
            differ["topics"] = differ.get("topics", 0) + 1
        if a[user].get("networks") != b[user].get("networks"):
            differ["networks"] = differ.get("networks", 0) + 1
    if not differ:
        out.write(f"every field of every user matches within {args.tol}\n")
        return 0
    for name in sorted(differ):
        d, user = worst.get(name, (float("nan"), "-"))
        out.write(f"{name:28s} {differ[name]:7d} users differ; largest {d:.6g} ({user})\n")
    return 1


if __name__ == "__main__":
    raise SystemExit(main())
