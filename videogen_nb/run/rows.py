"""The rows of a ``Run``: one request each, and where it stands (``RowState``).

A row is mutated only on the run's loop thread; readers on other threads (a display, a
``Result`` snapshot) see a consistent-enough view because each field is replaced whole.
"""

from __future__ import annotations

import enum
import time

import attrs

from ..core.cost import Cost
from ..core.errors import SubmitOutcomeUnknownError
from ..core.request import VideoRequest
from ..core.states import EntryState
from ..core.task import Result, Task, TaskStatus
from ..insight.costs import cost_of
from ..store.journal import JournalEntry

__all__ = ["RowState", "RunRow", "row_from_entry"]


class RowState(str, enum.Enum):
    """Where one row of a run stands, as the live table shows it."""

    WAITING = "waiting"
    SUBMITTING = "submitting"
    QUEUED = "queued"
    IN_PROGRESS = "in_progress"
    DOWNLOADING = "downloading"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"
    TIMED_OUT = "timed_out"
    SUBMIT_UNKNOWN = "submit_unknown"

    @property
    def is_finished(self) -> bool:
        """True when the row will not change any more in this run."""
        return self in _FINISHED


#: rows that cost nothing unless the gateway reports a charge (a lost submit may have
#: created a task, so it keeps its estimate)
_UNBILLED = frozenset({RowState.FAILED, RowState.CANCELLED, RowState.TIMED_OUT})

_FINISHED = frozenset(
    {
        RowState.DONE,
        RowState.FAILED,
        RowState.CANCELLED,
        RowState.TIMED_OUT,
        RowState.SUBMIT_UNKNOWN,
    }
)


@attrs.define(kw_only=True, eq=False)
class RunRow:
    """One request of a run and what has become of it so far (mutated on the loop thread)."""

    index: int
    request: VideoRequest
    state: RowState = RowState.WAITING
    task: Task | None = None
    result: Result | None = None
    error: BaseException | None = None
    note: str | None = None
    entry: JournalEntry | None = None
    submitted_at: float | None = None  # epoch seconds
    finished_at: float | None = None  # epoch seconds

    @property
    def entry_id(self) -> int | None:
        """The journal entry's id, or None (no journal, or served from the cache)."""
        return self.entry.id if self.entry is not None else None

    @property
    def progress(self) -> int | None:
        """The task's progress 0-100 (100 once downloaded)."""
        if self.state is RowState.DONE:
            return 100
        return self.task.progress if self.task is not None else None

    @property
    def elapsed(self) -> float | None:
        """Seconds since submit (until the row finished)."""
        if self.submitted_at is None:
            return None
        end = self.finished_at if self.finished_at is not None else time.time()
        return max(0.0, end - self.submitted_at)

    @property
    def eta(self) -> float | None:
        """Seconds left, estimated from the reported progress (None when unknown)."""
        progress, elapsed = self.progress, self.elapsed
        if self.state.is_finished or not progress or progress >= 100 or not elapsed:
            return None
        return elapsed * (100 - progress) / progress

    @property
    def reported_cost(self) -> Cost | None:
        """The cost the gateway reported for this row's task (task or journal), or None."""
        if self.task is not None and self.task.cost is not None:
            return self.task.cost
        return self.entry.cost if self.entry is not None else None

    @property
    def failed(self) -> bool:
        """True for a row that ended without a video (failed, cancelled, timed out)."""
        return self.state in _UNBILLED

    @property
    def cost(self) -> Cost | None:
        """What this row costs: the reported cost, else the price table's estimate (marked
        as one) unless the row failed; None when unknown (``insight.costs.cost_of``)."""
        return cost_of(self.request, self.reported_cost, failed=self.failed)

    def snapshot(self) -> Result:
        """This row as a ``Result`` (final once the row is finished)."""
        if self.result is not None:
            return self.result
        return self.result_now()

    def result_now(self) -> Result:
        """A ``Result`` built from what the row holds now: request, last task, error."""
        return Result(
            request=self.request,
            task=self.task,
            error=self.error,
            elapsed=self.elapsed,
            journal_id=self.entry_id,
        )


def row_from_entry(index: int, entry: JournalEntry) -> RunRow:
    """A row that picks up an unfinished journal entry (after a restart). Its task, if the
    entry has one, is known by the id its submit returned: the journal's ``task_id``."""
    row = RunRow(index=index, request=entry.request_obj(), entry=entry)
    row.submitted_at = entry.submitted_at
    if entry.state in (EntryState.SENDING, EntryState.SUBMIT_UNKNOWN):
        # The POST went out but its answer never came back: the gateway may have created
        # (and billed) the task. Only the user may decide to send it again.
        row.state = RowState.SUBMIT_UNKNOWN
        row.error = SubmitOutcomeUnknownError(
            "the process stopped while this request was being submitted, so the gateway "
            "may have created the task; run.retry_unknown() resubmits it with the same "
            "Idempotency-Key"
        )
    elif entry.task_id:
        completed = entry.state == EntryState.COMPLETED
        row.task = Task(
            id=entry.task_id,
            status=TaskStatus.COMPLETED if completed else TaskStatus.QUEUED,
            progress=entry.progress,
            video_url=entry.video_url,
            model=entry.model,
        )
    return row
