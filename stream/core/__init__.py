"""The scoring core: pure functions and batch folds over plain state. No Kafka, no Faust, no wall
clock.

The same sources run interpreted or compiled by mypyc (`make compile`, part of `make install`;
about 1.5x faster, with identical scores). The compiled modules (in `build/mypyc/`) are used only
when they were built from exactly these sources, for this Python; otherwise, or with
`SWAY_PURE_CORE=1`, the core is interpreted. `IMPLEMENTATION` says which one runs.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sys
from pathlib import Path

#: The modules mypyc compiles: the per-event path (the rest is read once per request or test).
COMPILED_MODULES = (
    "actor", "decay", "dedup", "erasure", "fold", "history", "integrity", "params",
    "redelivery", "scoring", "signals", "stages", "state",
)  # fmt: skip
HERE = Path(__file__).resolve().parent
BUILD = HERE.parent.parent / "build" / "mypyc"


def fingerprint() -> str:
    """What a compiled build must have been made from: these sources, this interpreter."""
    digest = hashlib.sha256(sys.version.encode())
    for name in COMPILED_MODULES:
        digest.update(name.encode() + b"\0" + (HERE / f"{name}.py").read_bytes())
    return digest.hexdigest()[:20]


def _compiled_build() -> Path | None:
    if os.environ.get("SWAY_PURE_CORE", "") not in ("", "0"):
        return None
    stamp = BUILD / "STAMP"
    try:
        built = stamp.read_text().strip()
    except OSError:
        return None
    if built != fingerprint():
        logging.getLogger(__name__).info("compiled core is stale (run `make compile`): interpreted")
        return None
    return BUILD


_build = _compiled_build()
if _build is not None:
    __path__.insert(0, str(_build / "stream" / "core"))  # the compiled modules shadow the sources
    if str(_build) not in sys.path:
        sys.path.append(str(_build))  # mypyc's shared library is a top-level module
#: "compiled" (mypyc) or "interpreted": shown by /health and `sway bench`.
IMPLEMENTATION = "compiled" if _build is not None else "interpreted"
