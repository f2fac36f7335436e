"""What the agents share: settings, model parameters, the stream clock, topology and metrics."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from stream.clock import PartitionClocks
from stream.core.board import Index
from stream.core.params import Params
from stream.pipeline.metrics import Metrics
from stream.pipeline.topology import Topology, partition_of
from stream.settings import Settings


@dataclass
class Runtime:
    settings: Settings
    params: Params
    clocks: PartitionClocks
    topology: Topology
    metrics: Metrics
    #: the edge service and the batch output producer, once Faust has started them
    edge: Any = None
    output: Any = None
    hops: Any = None
    #: topic -> the stage that takes its batch records (hops.py reads them)
    handlers: dict[str, Any] = field(default_factory=dict)
    output_ready: asyncio.Event = field(default_factory=asyncio.Event)
    #: the leaderboard of this worker's score partitions (score.py keeps it, hops.py rebuilds it)
    board: Index = field(default_factory=Index)

    def now_of(self, user_id: str) -> int:
        """Stream time of the partition that holds this user."""
        return self.clocks[partition_of(user_id, self.settings.partitions)].now()

    def wall_ms(self) -> int:
        return int(time.time() * 1000)
