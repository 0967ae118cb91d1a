"""The values a generation produces: ``TaskStatus``, ``Task`` and ``Result``.

A ``Task`` is one snapshot of a remote task as the gateway last described it, already
decoded from whatever shape the gateway sent (see ``dialects.decode``). A ``Result`` is
what the toolkit made of one request in the end: the last task snapshot, the local file,
or the error that stopped it.
"""

from __future__ import annotations

import enum
import pathlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import attrs

from .cost import Cost

if TYPE_CHECKING:
    from .request import VideoRequest

__all__ = ["Result", "Task", "TaskStatus", "set_result_html_renderer"]

#: how a ``Result`` shows itself as HTML; the display layer installs it (it sits above this
#: module, which may not import it)
_result_html_renderer: Callable[[Result], str] | None = None


def set_result_html_renderer(renderer: Callable[[Result], str] | None) -> None:
    """Install the function that renders a ``Result`` as HTML (None removes it)."""
    global _result_html_renderer
    _result_html_renderer = renderer


class TaskStatus(str, enum.Enum):
    """Where a remote task stands; every gateway's status string maps onto one of these."""

    QUEUED = "queued"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_terminal(self) -> bool:
        """True once the task can no longer change (completed, failed or cancelled)."""
        return self in (TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.CANCELLED)


@attrs.define(frozen=True, kw_only=True)
class Task:
    """One snapshot of a remote video task.

    ``progress`` is 0-100 (or None when the gateway says nothing); ``video_url`` is set only
    when the task completed and the gateway named a URL that parses as one; ``error`` holds
    the gateway's failure text verbatim. ``cost`` is the cost the gateway reported, if any.
    ``raw`` keeps the response body as it came.

    >>> Task(id="task_1", status=TaskStatus.QUEUED).status.is_terminal
    False
    """

    id: str
    status: TaskStatus
    progress: int | None = None
    video_url: str | None = None
    error: str | None = None
    error_code: str | None = None
    model: str | None = None
    created_at: float | None = None
    completed_at: float | None = None
    expires_at: float | None = None
    #: seconds the server asked the client to wait before the next poll (openai-poll-after-ms)
    poll_after: float | None = None
    #: the status string exactly as the gateway sent it, for logs and unknown-status reports
    status_text: str | None = None
    #: what the gateway reported this task costs (None: it said nothing); estimates from the
    #: price table never go here
    cost: Cost | None = None
    raw: Any = attrs.field(default=None, eq=False, repr=False)

    def __repr__(self) -> str:
        bits = [f"id={self.id!r}", f"status={self.status.value}"]
        if self.progress is not None:
            bits.append(f"progress={self.progress}%")
        if self.model:
            bits.append(f"model={self.model!r}")
        if self.video_url:
            bits.append(f"video_url={self.video_url!r}")
        if self.error:
            bits.append(f"error={self.error!r}")
        return f"Task({', '.join(bits)})"


@attrs.define(frozen=True, kw_only=True)
class Result:
    """What one request came to: the final ``task``, the downloaded ``path``, or the ``error``.

    ``elapsed`` is the seconds from submit to download (None when served from the cache
    without waiting); ``cached`` says the journal answered without any HTTP call; ``spec``
    holds the measured video properties and findings once the spec check has run.
    """

    request: VideoRequest
    task: Task | None = None
    path: pathlib.Path | None = None
    error: BaseException | None = attrs.field(default=None, eq=False)
    elapsed: float | None = None
    cached: bool = False
    journal_id: int | None = None
    spec: Any = attrs.field(default=None, eq=False)

    @property
    def ok(self) -> bool:
        """True when the video was generated and downloaded."""
        return self.error is None and self.path is not None

    @property
    def status(self) -> str:
        """A short word for tables: the task's status, ``error`` or ``pending``."""
        if self.error is not None:
            return "failed" if self.task is None else self.task.status.value
        if self.task is None:
            return "pending"
        return self.task.status.value

    def _repr_html_(self) -> str | None:
        """The video with its caption, or the status and the gateway's message (escaped)."""
        renderer = _result_html_renderer
        return renderer(self) if renderer is not None else None

    def __repr__(self) -> str:
        bits = [f"model={self.request.model!r}", f"status={self.status}"]
        if self.task is not None:
            bits.append(f"task_id={self.task.id!r}")
        if self.path is not None:
            bits.append(f"path={str(self.path)!r}")
        if self.elapsed is not None:
            bits.append(f"elapsed={self.elapsed:.1f}s")
        if self.cached:
            bits.append("cached=True")
        if self.error is not None:
            bits.append(f"error={type(self.error).__name__}: {self.error}")
        return f"Result({', '.join(bits)})"
