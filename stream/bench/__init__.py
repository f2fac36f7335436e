"""`sway bench` and the apps it compares Sway with: tooling, not part of a worker.

- runner.py: the phases (preload, raw consume, floors, peer, pipeline, latency, memory) and the report;
- floor.py: bare Faust apps, one record per event and batched (Faust's own ceiling);
- peer.py: the same events through a Quix Streams app (what a user might pick instead).
"""

from stream.bench.runner import BenchOptions, format_report, run, simulated_records

__all__ = ["BenchOptions", "format_report", "run", "simulated_records"]
