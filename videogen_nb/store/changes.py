"""What each journal write changes, as pure functions of the stored entry and the news.

``Journal.record_*`` read the entry inside their transaction, ask a function here for the
columns to change, check the state move against ``core.states.TRANSITIONS``
(``check_move``), and write. Keeping the rules here, away from SQL, makes each one a small
function that can be read (and tested) alone.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from typing import Any

from ..core.errors import IllegalTransitionError, TaskIdConflictError, ValidationError
from ..core.scoring import VOTE_KINDS
from ..core.states import EntryState
from ..core.task import Task, TaskStatus
from .entries import COST_COLUMNS, JournalEntry, cost_columns

__all__ = [
    "TASK_FIELDS",
    "UPDATABLE",
    "IllegalTransitionError",
    "Since",
    "check_move",
    "describe_error",
    "epoch",
    "json_value",
    "names",
    "submit_changes",
    "task_changes",
    "validate_vote",
    "vote_scope",
]

#: the columns a task snapshot fills
TASK_FIELDS = (
    "status",
    "progress",
    "video_url",
    "url_expires_at",
    "submitted_at",
    "completed_at",
    "error",
    "error_code",
)
#: the columns a write may change (id, request, fingerprint, times of creation never change)
UPDATABLE = frozenset(
    {
        "state",
        "dialect",
        "task_id",
        "status",
        "progress",
        "video_url",
        "url_expires_at",
        "path",
        "checksum",
        "size",
        "submitted_at",
        "completed_at",
        "downloaded_at",
        "error",
        "error_code",
        "spec",
        *COST_COLUMNS,
    }
)
_REMOTE_TERMINAL = frozenset(s.value for s in TaskStatus if s.is_terminal)

#: a point in time for the ``since=`` filters: a datetime (naive means local time), a date
#: (its midnight, local), epoch seconds, or a timedelta meaning "that long ago"
Since = dt.datetime | dt.date | dt.timedelta | float | int | None


def _restarts(entry: JournalEntry, changes: dict[str, Any]) -> bool:
    """True when ``changes`` replace the entry's known task with another (a resubmission)."""
    new_task = changes.get("task_id")
    return entry.task_id is not None and new_task is not None and new_task != entry.task_id


def _check(entry_id: int, old: EntryState, new: EntryState) -> None:
    if not old.can_become(new):
        raise IllegalTransitionError(entry_id, old, new)


def check_move(entry: JournalEntry, changes: dict[str, Any]) -> None:
    """Raise ``IllegalTransitionError`` when ``changes`` move ``entry`` to a state its
    current one may not become. A resubmission is two moves: back to ``created``, then to
    what the new task is; both are checked."""
    old = entry.state
    if _restarts(entry, changes):
        _check(entry.id, old, EntryState.CREATED)
        old = EntryState.CREATED
    if "state" in changes:
        _check(entry.id, old, EntryState(changes["state"]))


def _is_stale(entry: JournalEntry, status: TaskStatus) -> bool:
    # a pending snapshot after a terminal one is stale (a lagging replica, a late poll)
    return not status.is_terminal and (
        entry.state is EntryState.COMPLETED or entry.status in _REMOTE_TERMINAL
    )


def _progress_and_url(task: Task, status: TaskStatus) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    if task.progress is not None:
        changes["progress"] = int(task.progress)
    elif status is TaskStatus.COMPLETED:
        changes["progress"] = 100
    if task.video_url:
        changes["video_url"] = task.video_url
    if task.expires_at is not None:
        changes["url_expires_at"] = float(task.expires_at)
    return changes


def _error_fields(task: Task, status: TaskStatus) -> dict[str, Any]:
    if status is TaskStatus.COMPLETED:
        return {"error": None, "error_code": None}
    if task.error or task.error_code:
        return {"error": task.error, "error_code": task.error_code}
    return {}


def _state_fields(entry: JournalEntry, status: TaskStatus, now: float) -> dict[str, Any]:
    if not status.is_terminal:
        return {"state": EntryState.SUBMITTED}
    # the three terminal task statuses have entry states of the same name
    changes: dict[str, Any] = {"state": EntryState(status.value)}
    if entry.completed_at is None:
        changes["completed_at"] = now
    return changes


def task_changes(entry: JournalEntry, task: Task, now: float) -> dict[str, Any]:
    """What a task snapshot changes on an entry; nothing once it was downloaded, nor when
    the snapshot is older news than what is stored."""
    if entry.state is EntryState.DOWNLOADED:
        return {}
    status = TaskStatus(task.status)
    if _is_stale(entry, status):
        return {}
    changes: dict[str, Any] = {"status": status.value}
    changes.update(_progress_and_url(task, status))
    changes.update(_error_fields(task, status))
    changes.update(_state_fields(entry, status, now))
    changes.update(cost_columns(task.cost))  # a reported cost is kept, failed task or not
    return changes


def submit_changes(
    entry: JournalEntry, task: Task, dialect: str | None, now: float
) -> dict[str, Any]:
    """What an accepted submit changes: the task id, the dialect that worked, the submit
    time and what the task says. A task id other than the stored one is refused
    (``TaskIdConflictError``): the gateway made the first task and may bill it, so the
    entry never forgets it (two submitters of one entry: the second one's task is extra)."""
    if entry.state is EntryState.DOWNLOADED:
        return {}
    changes: dict[str, Any] = {"task_id": task.id}
    if dialect is not None:
        changes["dialect"] = dialect
    if _restarts(entry, changes):
        raise TaskIdConflictError(entry.id, str(entry.task_id), task.id)
    if entry.submitted_at is None:
        changes["submitted_at"] = now
    changes.update(task_changes(entry, task, now))
    return changes


def describe_error(error: BaseException | str) -> tuple[str, str | None]:
    """``("Type: message", code)`` of an exception (its ``code``, or its task's error code),
    or the text itself and no code."""
    if isinstance(error, str):
        return error, None
    message = str(error)
    text = f"{type(error).__name__}: {message}" if message else type(error).__name__
    code = getattr(error, "code", None)
    task = getattr(error, "task", None)
    if code is None and isinstance(task, Task):
        code = task.error_code
    return text, (str(code) if code is not None else None)


def json_value(value: Any) -> Any:
    """``value`` as it reads back from JSON (so comparisons and the entry match the file)."""
    return json.loads(json.dumps(value, default=str))


def epoch(value: Since, now: float, field: str = "since") -> float | None:
    """``value`` as epoch seconds (a timedelta counts back from ``now``); None for None."""
    if value is None:
        return None
    if isinstance(value, dt.timedelta):
        return now - value.total_seconds()
    if isinstance(value, dt.datetime):
        return value.timestamp()
    if isinstance(value, dt.date):
        return dt.datetime.combine(value, dt.time()).timestamp()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    raise ValidationError(
        field, f"expected a datetime, date, timedelta or epoch seconds, got {type(value).__name__}"
    )


def names(value: str | Iterable[str] | None) -> list[str] | None:
    """A filter argument (one name or many) as a list; None means no filter."""
    if value is None:
        return None
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value]


def _check_vote_shape(
    kind: str, shown: tuple[str, ...], winner: str | None, loser: str | None
) -> None:
    involved = [v for v in (winner, loser) if v is not None]
    if shown and any(v not in shown for v in involved):
        raise ValidationError("winner", f"winner/loser must be among candidates {shown}")
    if kind == "best" and (winner is None or loser is not None):
        raise ValidationError("winner", "a 'best' vote names a winner and no loser")
    if kind == "pair" and (winner is None or loser is None or winner == loser):
        raise ValidationError("loser", "a 'pair' vote names a winner and a different loser")
    if kind == "tie" and len(set(involved if len(involved) == 2 else shown)) < 2:
        raise ValidationError("candidates", "a 'tie' needs two tied candidates")
    if kind == "skip" and involved:
        raise ValidationError("winner", "a 'skip' vote names no winner or loser")


def validate_vote(
    kind: str, row_key: str, candidates: Sequence[str], winner: str | None, loser: str | None
) -> tuple[str, ...]:
    """Raise ``ValidationError`` unless the vote is well formed; return the candidates as
    a tuple of names."""
    if kind not in VOTE_KINDS:
        raise ValidationError("kind", f"must be one of {', '.join(VOTE_KINDS)}, got {kind!r}")
    if not isinstance(row_key, str) or not row_key:
        raise ValidationError("row_key", "must be a non-empty string")
    if isinstance(candidates, str):
        raise ValidationError("candidates", "must be a sequence of names, not one string")
    shown = tuple(str(c) for c in candidates)
    _check_vote_shape(kind, shown, winner, loser)
    return shown


def vote_scope(
    kind: str, candidates: tuple[str, ...], winner: str | None, loser: str | None
) -> str:
    """What a later vote replaces: the row's verdict (best/skip) or one unordered pair
    (pair/tie: changing "A beats B" into "A ties B" is the same question answered again)."""
    if kind in ("best", "skip"):
        return "row"
    members = (winner, loser) if winner is not None and loser is not None else candidates
    return "pair\x1f" + "\x1f".join(sorted({str(m) for m in members}))
