"""Many requests at once; imports up to tasks/.

``Run`` (run) works on many requests at once, one row each (rows), exported as a table
(export); concurrency lanes (lanes) pace submits; one poll scheduler (scheduler) follows
every task by the rules of ``tasks.follow``; sweeps (sweep) build request grids; the
display layer shows a run through the presenter seam (presenter).
"""

from .lanes import Lane, LaneSet
from .rows import RowState, RunRow
from .run import Run
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
