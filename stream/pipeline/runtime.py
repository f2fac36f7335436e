"""What the agents share: settings, model parameters, the stream clock, topology and metrics."""

from __future__ import annotations

import time
from dataclasses import dataclass

from stream.clock import StreamClock
from stream.core.params import Params
from stream.pipeline.backpressure import ScoreBacklog
from stream.pipeline.metrics import Metrics
from stream.pipeline.topology import Topology
from stream.settings import Settings


@dataclass
class Runtime:
    settings: Settings
    params: Params
    clock: StreamClock
    topology: Topology
    metrics: Metrics
    backlog: ScoreBacklog

    def wall_ms(self) -> int:
        return int(time.time() * 1000)
