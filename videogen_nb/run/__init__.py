"""Many requests at once; imports up to tasks/: ``Run``, concurrency lanes, the poll scheduler, sweeps.

The run layer: many requests at once (``Run``), concurrency lanes, the poll scheduler."""

from .lanes import Lane, LaneSet
from .run import RowState, Run, RunRow
from .scheduler import PollScheduler
from .sweep import DEFAULT_MAX_TASKS, build_sweep, check_spending

__all__ = [
    "DEFAULT_MAX_TASKS",
    "Lane",
    "LaneSet",
    "PollScheduler",
    "RowState",
    "Run",
    "RunRow",
    "build_sweep",
    "check_spending",
]
