"""The compiled core (mypyc, `make compile`) is the one that runs, and scores exactly like the
sources it was built from."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

import stream.core as core
from stream.producers.simulate import World, WorldConfig

ROOT = Path(__file__).resolve().parents[2]
HIGGS = ROOT.parent / "shared" / "data" / "higgs-activity_time.txt.gz"
PURE = os.environ.get("SWAY_PURE_CORE", "") not in ("", "0")


def rescored(source: Path, out: Path, pure: bool, limit: int) -> dict[str, dict[str, object]]:
    env = {**os.environ, "SWAY_PURE_CORE": "1" if pure else "0"}
    probe = "import stream.core, stream.core.signals as s; print(stream.core.IMPLEMENTATION, s.__file__)"
    which = subprocess.run(
        [sys.executable, "-c", probe], env=env, cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    assert which[0] == ("interpreted" if pure else "compiled"), which
    assert which[1].endswith(".py") == pure, which
    subprocess.run(
        [sys.executable, "-m", "stream", "rescore", str(source), "--limit", str(limit), "--out", str(out)],
        env=env, cwd=ROOT, capture_output=True, check=True,
    )  # fmt: skip
    users = {}
    for line in out.read_bytes().splitlines():
        message = orjson.loads(line)
        message.pop("updated_at")  # wall clock
        users[message["user_id"]] = message
    return users


@pytest.mark.skipif(PURE, reason="SWAY_PURE_CORE: the interpreted core was asked for")
def test_make_compile_built_the_core_that_runs() -> None:
    """`make test` compiles the core first; a stale or missing build would silently cost speed."""
    assert core.IMPLEMENTATION == "compiled", "run `make compile` (build/mypyc/ missing or stale)"
    import stream.core.fold as fold

    assert not fold.__file__.endswith(".py")


@pytest.mark.skipif(PURE, reason="SWAY_PURE_CORE: the interpreted core was asked for")
def test_compiled_and_interpreted_cores_give_identical_scores(tmp_path: Path) -> None:
    """Every field of every user's final update, on real Higgs data and on a simulated world with
    topics, networks, sentiment and bots (paths Higgs does not take)."""
    world = tmp_path / "world.jsonl"
    with world.open("wb") as f:
        for event in World(WorldConfig(users=400, days=6, seed=11)).events():
            f.write(orjson.dumps(event) + b"\n")
    sources = [(world, 1_000_000)] + ([(HIGGS, 40_000)] if HIGGS.exists() else [])
    for source, limit in sources:
        pure = rescored(source, tmp_path / "pure.jsonl", True, limit)
        compiled = rescored(source, tmp_path / "compiled.jsonl", False, limit)
        assert len(pure) > 300
        assert compiled == pure, source.name


def test_a_build_from_other_sources_is_not_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Edit one line of the core and the compiled modules no longer match: the sources run."""
    copy = tmp_path / "core"
    shutil.copytree(core.HERE, copy)
    monkeypatch.setattr(core, "HERE", copy)
    before = core.fingerprint()
    signals = copy / "signals.py"
    signals.write_text(signals.read_text().replace("1.0 / (1.0 + earlier)", "1.0 / (2.0 + earlier)"))
    assert core.fingerprint() == before  # integrity.py holds that line, not signals.py
    integrity = copy / "integrity.py"
    integrity.write_text(integrity.read_text().replace("1.0 / (1.0 + earlier)", "1.0 / (2.0 + earlier)"))
    assert core.fingerprint() != before
    stamp = tmp_path / "build" / "STAMP"
    stamp.parent.mkdir()
    stamp.write_text(before)
    monkeypatch.setattr(core, "BUILD", stamp.parent)
    monkeypatch.delenv("SWAY_PURE_CORE", raising=False)
    assert core._compiled_build() is None
    stamp.write_text(core.fingerprint())
    assert core._compiled_build() == stamp.parent
    monkeypatch.setenv("SWAY_PURE_CORE", "1")
    assert core._compiled_build() is None
