"""new-api as it is today (GATEWAYS.md): the shapes its newer versions send, as personalities.

Each is one ``Behaviour`` knob, so a test picks exactly the facts it checks;
``NEWAPI_TODAY`` turns them all on at once:

- ``task_object``: ``GET /v1/video/generations/{id}`` answers with the full task object of
  new-api's ``dto/task.go``: an INTEGER ``id`` (the database row; the public id is
  ``task_id``), ``quota`` (what the task was charged, 500,000 units per US dollar),
  ``platform``, ``action``, ``user_id``, ``group``, ``channel_id``, ``fail_reason``,
  ``submit_time``/``start_time``/``finish_time``, ``progress`` as ``"NN%"``, ``properties``
  and ``async``.
- ``newest_videos``: ``GET /v1/videos/{id}`` answers with only ``created_at, fail_reason,
  finished_at, platform, progress, status, task_id``: UPPERCASE internal statuses, no URL.
- ``artifact_links``: the video URL a task names is new-api's own artifact route with an
  expiring HMAC token (``sandbox/artifacts.py``); ``artifact_ttl`` sets its lifetime and
  ``artifact_expired=N`` makes the next N artifact downloads find their token expired.
- ``other_ratios``: submit answers carry ``X-New-Api-Other-Ratios`` (the price multipliers).
- ``stepped_progress``: progress only moves in steps (10, 20, 30, then 100).
"""

from __future__ import annotations

import json
from typing import Any

from .state import Phase, SandboxTask
from .vendor import vendor_payload

__all__ = [
    "NEWAPI_TODAY",
    "OTHER_RATIOS_HEADER",
    "QUOTA_PER_USD",
    "USD_PER_SECOND",
    "newest_video_body",
    "other_ratios",
    "task_object_body",
]

#: every personality of this module at once: ``vg.sandbox.start(**NEWAPI_TODAY)``
NEWAPI_TODAY: dict[str, Any] = {
    "task_object": True,
    "newest_videos": True,
    "artifact_links": True,
    "other_ratios": True,
    "stepped_progress": True,
}

OTHER_RATIOS_HEADER = "X-New-Api-Other-Ratios"
#: new-api's default quota units per US dollar (a deployment can change it)
QUOTA_PER_USD = 500_000
#: what one second of video costs in the sandbox, in US dollars (before the ratios)
USD_PER_SECOND = 0.05

_INTERNAL_STATUS = {
    "not_start": "NOT_START",
    "submitted": "SUBMITTED",
    "queued": "QUEUED",
    "in_progress": "IN_PROGRESS",
    "completed": "SUCCESS",
    "failed": "FAILURE",
    "cancelled": "FAILURE",
}
_CANCEL_MESSAGE = "task cancelled by user"
# The share of a task's run time it spends waiting before the vendor starts it (state.py).
_QUEUE_SHARE = 0.25


def _platform(model: str) -> str:
    for prefix, platform in (("kling", "kling"), ("veo", "gemini"), ("sora", "sora")):
        if model.startswith(prefix):
            return platform
    return "runway"


def other_ratios(task: SandboxTask) -> dict[str, float]:
    """The price multipliers new-api applied to this submit (``seconds`` and ``size``)."""
    w, h = task.request.size
    size_ratio = 1.0 if w * h <= 1280 * 720 else round(w * h / (1280 * 720), 3)
    return {"seconds": float(task.request.duration), "size": size_ratio}


def other_ratios_header(task: SandboxTask) -> dict[str, str]:
    """The submit answer's ``X-New-Api-Other-Ratios`` header."""
    return {OTHER_RATIOS_HEADER: json.dumps(other_ratios(task), separators=(",", ":"))}


def _quota(task: SandboxTask, phase: Phase) -> int:
    """Charged at submit, refunded when the task fails (new-api's pre-consume and refund)."""
    if phase.state in ("failed", "cancelled"):
        return 0
    ratios = other_ratios(task)
    return round(USD_PER_SECOND * ratios["seconds"] * ratios["size"] * QUOTA_PER_USD)


def _failure_text(task: SandboxTask, phase: Phase) -> str:
    if phase.state == "cancelled":
        return _CANCEL_MESSAGE
    if phase.state == "failed" and task.failure is not None:
        return task.failure[1]
    return ""


def _times(task: SandboxTask, phase: Phase) -> tuple[int, int, int]:
    """``submit_time, start_time, finish_time`` in Unix seconds; 0 for "not yet"."""
    submit = int(task.created_at)
    started = phase.state == "in_progress" or phase.terminal
    start = int(task.created_at + _QUEUE_SHARE * task.run_seconds) if started else 0
    finish = int(task.cancelled_at or task.finishes_at) if phase.terminal else 0
    return submit, start, finish


def _row_id(task: SandboxTask) -> int:
    # A stable small integer per task, like an auto-increment primary key.
    return 1000 + int.from_bytes(task.id.encode()[-4:], "big") % 100_000


def task_object_body(task: SandboxTask, phase: Phase, url: str) -> dict[str, Any]:
    """``GET /v1/video/generations/{id}`` with new-api's full ``dto/task.go`` task object."""
    submit, start, finish = _times(task, phase)
    status = phase.odd or _INTERNAL_STATUS[phase.state]
    return {
        "code": "success",
        "message": "",
        "data": {
            "id": _row_id(task),
            "created_at": submit,
            "updated_at": finish or start or submit,
            "task_id": task.id,
            "platform": _platform(task.model),
            "user_id": 1,
            "group": "default",
            "channel_id": 3,
            "quota": _quota(task, phase),
            "action": "generate" if task.request.image is not None else "textGenerate",
            "status": status,
            "fail_reason": _failure_text(task, phase),
            "result_url": url,
            "submit_time": submit,
            "start_time": start,
            "finish_time": finish,
            "progress": f"{phase.progress}%",
            "properties": {"input": task.request.prompt[:64], "upstream_model_name": task.model},
            "data": vendor_payload(task, phase, url),
            "async": {
                "execution_status": "finished" if phase.terminal else "polling",
                "attempt": 1,
                "request_sent_at": submit,
                "error_phase": "upstream" if phase.state == "failed" else "",
                "error_code": task.failure[0] if task.failure and phase.state == "failed" else "",
                "billing_status": "refunded" if phase.state == "failed" else "charged",
            },
        },
    }


def newest_video_body(task: SandboxTask, phase: Phase) -> dict[str, Any]:
    """``GET /v1/videos/{id}`` as new-api rc.30 and later answers it: no URL, no ``id``."""
    submit, _start, finish = _times(task, phase)
    return {
        "created_at": submit,
        "fail_reason": _failure_text(task, phase),
        "finished_at": finish,
        "platform": _platform(task.model),
        "progress": f"{phase.progress}%",
        "status": phase.odd or _INTERNAL_STATUS[phase.state],
        "task_id": task.id,
    }
