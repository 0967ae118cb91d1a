"""The response bodies: new-api's wrapper, the OpenAI video object, vendor-like raw JSON.

Each vendor family nests its result differently (Kling ``task_result.videos[0].url``,
Veo ``response.videos[0].uri``, Runway ``output[0]``, Sora an OpenAI object), and new-api
passes that raw JSON through under ``data.data``; the client's tolerant decoder must cope.
"""

from __future__ import annotations

from typing import Any

from .state import Phase, SandboxTask

__all__ = [
    "gemini_generations_body",
    "generations_body",
    "openai_video_object",
    "submit_body",
    "vendor_payload",
]

_NEW_API_STATUS = {
    "not_start": "NOT_START",
    "submitted": "SUBMITTED",
    "queued": "QUEUED",
    "in_progress": "IN_PROGRESS",
    "completed": "SUCCESS",
    "failed": "FAILURE",
    "cancelled": "FAILURE",
}

_OPENAI_STATUS = {
    "not_start": "queued",
    "submitted": "queued",
    "queued": "queued",
    "in_progress": "in_progress",
    "completed": "completed",
    "failed": "failed",
    "cancelled": "cancelled",
}

_CANCEL_MESSAGE = "task cancelled by user"


def _failure(task: SandboxTask, phase: Phase) -> tuple[str, str] | None:
    if phase.state == "cancelled":
        return ("cancelled", _CANCEL_MESSAGE)
    if phase.state == "failed":
        return task.failure
    return None


def _millis(task: SandboxTask) -> bool:
    # Kling channels report millisecond timestamps through new-api.
    return task.model.startswith("kling")


def submit_body(task: SandboxTask, *, openai_route: bool) -> dict[str, Any]:
    """new-api's answer to a submit (both routes)."""
    body: dict[str, Any] = {
        "id": task.id,
        "task_id": task.id,
        "object": "video",
        "model": task.model,
        "status": "queued",
        "progress": 0,
        "created_at": int(task.created_at),
    }
    if openai_route:
        w, h = task.request.size
        body["seconds"] = str(task.request.duration)
        body["size"] = f"{w}x{h}"
    return body


def openai_video_object(task: SandboxTask, phase: Phase, url: str) -> dict[str, Any]:
    """``GET /v1/videos/{id}`` as new-api answers it (URL under ``metadata.url``)."""
    scale = 1000 if _millis(task) else 1
    w, h = task.request.size
    obj: dict[str, Any] = {
        "id": task.id,
        "task_id": task.id,
        "object": "video",
        "model": task.model,
        "status": phase.odd or _OPENAI_STATUS[phase.state],
        "progress": phase.progress,
        "created_at": int(task.created_at * scale),
        "seconds": str(task.request.duration),
        "size": f"{w}x{h}",
        "metadata": {"url": url},
    }
    if phase.state == "completed":
        obj["completed_at"] = int(task.finishes_at * scale)
        obj["expires_at"] = int((task.finishes_at + 3600) * scale)
    failure = _failure(task, phase)
    if failure is not None:
        obj["completed_at"] = int((task.cancelled_at or task.finishes_at) * scale)
        obj["error"] = {"code": failure[0], "message": failure[1]}
    return obj


def generations_body(task: SandboxTask, phase: Phase, url: str) -> dict[str, Any]:
    """``GET /v1/video/generations/{id}``: new-api's ``{"code","message","data"}`` wrapper."""
    failure = _failure(task, phase)
    finish = 0
    if phase.terminal:
        finish = int(task.cancelled_at or task.finishes_at)
    return {
        "code": "success",
        "message": "",
        "data": {
            "task_id": task.id,
            "action": "generate",
            "status": phase.odd or _NEW_API_STATUS[phase.state],
            "fail_reason": failure[1] if failure else "",
            "result_url": url,
            "progress": f"{phase.progress}%",
            "submit_time": int(task.created_at),
            "start_time": int(task.created_at) if phase.progress > 0 else 0,
            "finish_time": finish,
            "data": vendor_payload(task, phase, url),
        },
    }


def gemini_generations_body(task: SandboxTask, phase: Phase, url: str) -> dict[str, Any]:
    """``GET /v1/video/generations/{id}`` as new-api answers it for Gemini/Vertex channels."""
    status = {
        "completed": "succeeded",
        "failed": "failed",
        "cancelled": "failed",
        "in_progress": "processing",
    }.get(phase.state, "queued")
    data: dict[str, Any] = {"status": phase.odd or status, "task_id": task.id}
    if phase.state == "completed":
        data |= {"url": url, "format": "mp4"}
    failure = _failure(task, phase)
    if failure is not None:
        data["error"] = failure[1]
    return {"code": "success", "data": data}


def vendor_payload(task: SandboxTask, phase: Phase, url: str) -> dict[str, Any]:
    """Raw upstream JSON in the style of the model's vendor."""
    model = task.model
    failure = _failure(task, phase)
    done = phase.state == "completed"
    seconds = str(task.request.duration)
    if model.startswith("kling"):
        kling_status = {"completed": "succeed", "failed": "failed", "cancelled": "failed"}.get(
            phase.state, "processing" if phase.state == "in_progress" else "submitted"
        )
        data: dict[str, Any] = {
            "task_id": task.id.removeprefix("task_"),
            "task_status": kling_status,
            "task_status_msg": failure[1] if failure else "",
            "created_at": int(task.created_at * 1000),
            "updated_at": int(task.created_at * 1000),
        }
        if done:
            data["task_result"] = {"videos": [{"id": task.id, "url": url, "duration": seconds}]}
        return {"code": 0, "message": "SUCCEED", "request_id": task.id, "data": data}
    if model.startswith("veo"):
        op: dict[str, Any] = {"name": f"operations/{task.id}", "done": phase.terminal}
        if done:
            op["response"] = {
                "@type": "type.googleapis.com/cloud.ai.generativelanguage.v1beta.PredictLongRunningResponse",
                "videos": [{"uri": url, "mimeType": "video/mp4"}],
            }
        elif failure:
            op["error"] = {"code": 3, "message": failure[1]}
        return op
    if model.startswith("sora"):
        return openai_video_object(task, phase, "") | {"metadata": {}}
    runway_status = {
        "completed": "SUCCEEDED",
        "failed": "FAILED",
        "cancelled": "CANCELLED",
        "in_progress": "RUNNING",
    }.get(phase.state, "PENDING")
    body = {"id": task.id, "status": runway_status, "progress": phase.progress / 100.0}
    if done:
        body["output"] = [url]
    if failure:
        body["failure"] = failure[1]
        body["failureCode"] = failure[0]
    return body
