"""What ``client.remix`` checks before anything is sent: which finished task it starts from.

A remix is a new task made from a finished one and a new prompt (OpenAI-style
``POST /v1/videos/{id}/remix``). Its origin may be a ``Result``, a ``Task`` or a task id;
it must have completed (a gateway cannot remix a video it has not made), and the id must
be the one its submit returned (the id that routes every call).
"""

from __future__ import annotations

import attrs

from ..core.errors import ValidationError
from ..core.states import EntryState
from ..core.task import Result, Task, TaskStatus
from ..tasks.recorder import Recorder

__all__ = ["RemixOrigin", "remix_origin"]

#: journal states of an entry whose video exists
_DONE = (EntryState.COMPLETED, EntryState.DOWNLOADED)


@attrs.define(frozen=True)
class RemixOrigin:
    """The finished task a remix starts from: its id and (when known) its model."""

    task_id: str
    model: str | None


#: states after which no video will come
_ENDED = ("failed", "cancelled", "timed_out", "expired")


def _unfinished(task_id: str, state: str) -> ValidationError:
    advice = (
        "it has no video to remix"
        if state in _ENDED
        else "wait for it first (client.wait) and remix the result"
    )
    return ValidationError(
        "origin",
        f"task {task_id} is {state}, not completed: only a finished video can be remixed; {advice}",
    )


def remix_origin(origin: object, *, recorder: Recorder, gateway: str) -> RemixOrigin:
    """The origin of a remix, checked: a completed ``Result``/``Task``, or a task id the
    journal knows as finished (an id it does not know is left for the gateway to judge).

    Raises ``ValidationError`` (field ``origin``) for anything else, before any request.
    """
    if isinstance(origin, Result):
        if origin.task is None:
            raise ValidationError(
                "origin", f"this result has no task to remix (it ended in {origin.error!r})"
            )
        origin = attrs.evolve(origin.task, model=origin.task.model or origin.request.model)
    if isinstance(origin, Task):
        if not origin.id:
            raise ValidationError("origin", "this result has no task id to remix")
        if origin.status is not TaskStatus.COMPLETED:
            raise _unfinished(origin.id, origin.status.value)
        entry = recorder.by_task_id(origin.id, gateway=gateway)
        return RemixOrigin(origin.id, origin.model or (entry.model if entry else None))
    if isinstance(origin, str) and origin.strip():
        task_id = origin.strip()
        entry = recorder.by_task_id(task_id, gateway=gateway)
        if entry is not None and entry.state not in _DONE:
            raise _unfinished(task_id, entry.state.value)
        return RemixOrigin(task_id, entry.model if entry is not None else None)
    raise ValidationError(
        "origin",
        f"remix a vg.Result, a vg.Task or a task id, got {type(origin).__name__}",
    )
