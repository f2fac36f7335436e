"""Compile the scoring core with mypyc into build/mypyc/ (`make compile`).

    python scripts/compile_core.py

Why: the core's per-event Python is most of what a worker and `sway rescore` spend (docs/
performance.md). mypyc compiles the same typed sources to C extension modules, which
`stream/core/__init__.py` loads only when they match the sources exactly; nothing else changes.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import stream.core as core  # noqa: E402  (after the path: run from anywhere)


def main() -> int:
    from mypyc.build import mypycify
    from setuptools import Distribution

    began = time.monotonic()
    work = ROOT / "build" / "mypyc-work"
    out = core.BUILD
    shutil.rmtree(work, ignore_errors=True)
    shutil.rmtree(out, ignore_errors=True)
    sources = [f"stream/core/{name}.py" for name in core.COMPILED_MODULES]
    stamp = core.fingerprint()  # of the sources as compiled, before anyone edits them
    os.chdir(ROOT)
    extensions = mypycify(sources, opt_level="3", group_name="sway_core", target_dir=str(work / "c"))
    dist = Distribution({"name": "sway-core", "ext_modules": extensions})
    cmd = dist.get_command_obj("build_ext")
    cmd.build_lib = str(out)  # type: ignore[attr-defined]
    cmd.build_temp = str(work / "obj")  # type: ignore[attr-defined]
    cmd.ensure_finalized()
    cmd.run()
    (out / "STAMP").write_text(stamp + "\n")
    shutil.rmtree(work, ignore_errors=True)
    took = time.monotonic() - began
    sys.stdout.write(f"compiled {len(sources)} core modules into {out.relative_to(ROOT)} in {took:.0f}s\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
