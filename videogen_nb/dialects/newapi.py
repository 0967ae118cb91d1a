"""What new-api's task answers say beyond the ``Task`` fields: timing, charge, price ratios.

new-api's task object (``dto/task.go``, served by ``GET /v1/video/generations/{id}``) carries
``submit_time``/``start_time``/``finish_time`` (Unix seconds, 0 for "not yet"), ``quota``
(what the task was charged, in quota units: 500,000 per US dollar by default), ``platform``
and ``action``; its submit answer carries the header ``X-New-Api-Other-Ratios`` (the price
multipliers applied, JSON such as ``{"seconds":5,"size":1}``). The decoder keeps all of it
on ``Task.raw`` (the header under ``raw["_headers"]``); these readers take it from there,
tolerantly: whatever is missing or unreadable comes back as None.

>>> from videogen_nb.dialects.decode import decode_task
>>> task = decode_task({"code": "success", "data": {"id": 7, "task_id": "task_a",
...     "status": "IN_PROGRESS", "progress": "30%", "quota": 25000,
...     "submit_time": 100, "start_time": 112, "finish_time": 0}})
>>> task.id, task_timing(task).queue_seconds, task_timing(task).run_seconds, task_quota(task)
('task_a', 12.0, None, 25000)
"""

from __future__ import annotations

from typing import Any

import attrs

from ..core.task import Task
from .costs import QUOTA_PER_USD, ratios_object
from .readers import dig, epoch_of, text_of

__all__ = [
    "QUOTA_PER_USD",
    "TaskTiming",
    "other_ratios",
    "task_facts",
    "task_quota",
    "task_timing",
]


@attrs.define(frozen=True, kw_only=True)
class TaskTiming:
    """When a task was submitted, started and finished (epoch seconds, None when unknown)."""

    submitted_at: float | None = None
    started_at: float | None = None
    finished_at: float | None = None

    @property
    def queue_seconds(self) -> float | None:
        """Seconds between submit and the vendor starting the task."""
        return _span(self.submitted_at, self.started_at)

    @property
    def run_seconds(self) -> float | None:
        """Seconds between the vendor starting the task and its end."""
        return _span(self.started_at, self.finished_at)


def _span(start: float | None, end: float | None) -> float | None:
    if start is None or end is None or end < start:
        return None
    return end - start


def _task_object(raw: Any) -> dict[str, Any]:
    """The task object inside new-api's ``{"code","data":{...}}`` wrapper (or ``raw`` itself)."""
    node = raw
    for _depth in range(3):
        if not isinstance(node, dict):
            return {}
        if "task_id" in node or "status" in node:
            return node
        node = node.get("data")
    return node if isinstance(node, dict) else {}


def task_timing(task: Task) -> TaskTiming:
    """Submit, start and finish times of ``task`` as its gateway reported them."""
    node = _task_object(task.raw)
    return TaskTiming(
        submitted_at=epoch_of(node.get("submit_time")) or task.created_at,
        started_at=epoch_of(node.get("start_time")),
        finished_at=epoch_of(node.get("finish_time")) or epoch_of(node.get("finished_at")),
    )


def task_quota(task: Task) -> int | None:
    """What new-api charged for ``task``, in quota units (``QUOTA_PER_USD`` per dollar)."""
    value = _task_object(task.raw).get("quota")
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return int(number) if number == number and number >= 0 else None


def other_ratios(task: Task) -> dict[str, float] | None:
    """The price multipliers of ``X-New-Api-Other-Ratios`` on ``task``'s submit answer.

    Non-numeric entries are left out; a header that is not a JSON object gives None.
    """
    raw = task.raw
    kept = raw.get("_headers") if isinstance(raw, dict) else None
    parsed = ratios_object(kept if isinstance(kept, dict) else None)
    if parsed is None:
        return None
    ratios: dict[str, float] = {}
    for name, value in parsed.items():
        if isinstance(value, bool):
            continue
        try:
            ratios[str(name)] = float(value)
        except (TypeError, ValueError):
            continue
    return ratios


def task_facts(task: Task) -> dict[str, Any]:
    """Everything above in one JSON-ready dict (None for what the gateway did not say)."""
    node = _task_object(task.raw)
    timing = task_timing(task)
    return {
        "platform": text_of(node.get("platform")),
        "action": text_of(node.get("action")),
        "quota": task_quota(task),
        "fail_reason": text_of(node.get("fail_reason")),
        "queue_seconds": timing.queue_seconds,
        "run_seconds": timing.run_seconds,
        "other_ratios": other_ratios(task),
        "async_status": text_of(dig(node, ("async", "execution_status"))),
    }
