"""Many requests at once; imports up to tasks/.

``Run`` (run) works on many requests at once, one row each (rows), exported as a table
(export); concurrency lanes (lanes) pace submits; one poll scheduler (scheduler) follows
every task by the rules of ``tasks.follow``; sweeps (sweep) build request grids; the
display layer shows a run through the presenter seam (presenter); what a run will cost is
planned before launch (plan) and guarded by ``max_cost`` while it works (budget).
"""

from .lanes import Lane, LaneSet
from .plan import RunPlan
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
    "RunPlan",
    "RunRow",
    "build_sweep",
    "check_spending",
]
