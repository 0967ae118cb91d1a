"""Two more things the sandbox serves: OpenRouter's video API and OpenAI-style remix.

OpenRouter (GATEWAYS.md, "OpenRouter"), always on, under the origin's ``/api/v1``:

- ``POST /api/v1/videos`` answers ``{"id", "polling_url", "status": "pending"}`` (the
  polling URL absolute, on this origin);
- ``GET /api/v1/videos/{id}`` goes ``pending`` -> ``in_progress`` -> ``completed`` (with
  ``unsigned_urls`` and ``usage: {cost, is_byok}``) or ``failed`` (with ``error``, and
  ``usage`` too when ``charge_failures`` is on: a gateway that bills failures);
- ``GET /api/v1/videos/{id}/content?index=0`` serves the bytes behind the bearer;
- ``GET /api/v1/videos/models`` lists provider-prefixed models (``google/veo-3.1``).

Remix, with the OpenAI routes (``openai_routes``): ``POST /v1/videos/{id}/remix`` with
``{"prompt": ...}`` makes a new task from a completed one; its video is rendered from the
origin's request with the new prompt joined to the origin's, and the answer names the
origin in ``remixed_from_video_id``. An unfinished origin is refused with 400.

The fault knobs of ``behaviour`` apply to the ``/v1`` routes only (OpenRouter's live
under ``/api``), so these tests drive OpenRouter through its own failures
(``failure_rate``) and errors.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

import attrs
from aiohttp import web

from ..core import wire
from .parse import SandboxHTTPError, middleware_error, parse_submit, task_error
from .state import SandboxTask
from .vendor import submit_body

if TYPE_CHECKING:
    from .server import SandboxServer

__all__ = ["OPENROUTER_MODELS", "PRICE_PER_SECOND", "add_routes"]

#: the models the OpenRouter personality lists and accepts (besides the sandbox's own)
OPENROUTER_MODELS: tuple[str, ...] = (
    "google/veo-3.1",
    "google/veo-3.1-fast",
    "openai/sora-2",
    "openai/sora-2-pro",
    "bytedance/seedance-1-pro",
)
#: what the personality charges, in US dollars per second of video (``usage.cost``)
PRICE_PER_SECOND = 0.10

_JOB = wire.OPENROUTER_VIDEOS + "/{task_id}"
_CONTENT = _JOB + wire.CONTENT_SUFFIX
_REMIX = wire.ROUTE_VIDEOS + "/{task_id}" + wire.REMIX_SUFFIX
_STATUS = {
    "not_start": "pending",
    "submitted": "pending",
    "queued": "pending",
    "in_progress": "in_progress",
    "completed": "completed",
    "failed": "failed",
    "cancelled": "cancelled",
}


def _json(body: Any) -> web.Response:
    return web.Response(
        body=json.dumps(body, ensure_ascii=False).encode(), content_type="application/json"
    )


def _error(status: int, message: str) -> SandboxHTTPError:
    """OpenRouter's error shape: ``{"error": {"code": <http status>, "message": ...}}``."""
    return SandboxHTTPError(status, {"error": {"code": status, "message": message}})


def _image_url(part: Any) -> Any:
    return part.get("image_url", {}).get("url") if isinstance(part, dict) else None


def _as_unified(body: dict[str, Any]) -> dict[str, Any]:
    """An OpenRouter submit body in the shape ``parse_submit`` reads (one validator)."""
    out: dict[str, Any] = {k: body[k] for k in ("model", "prompt", "duration", "seed") if k in body}
    if body.get("size") or body.get("aspect_ratio"):
        out["size"] = body.get("size") or body.get("aspect_ratio")
    for part in body.get("frame_images") or ():
        name = "last_image" if part.get("frame_type") == "last_frame" else "image"
        out[name] = _image_url(part)
    references = [_image_url(part) for part in body.get("input_references") or ()]
    if references and "image" not in out:
        out["image"] = references[0]
    return out


class _Routes:
    """The handlers, bound to one ``SandboxServer`` (its state, renders and byte serving)."""

    def __init__(self, server: SandboxServer) -> None:
        self.server = server

    def _origin(self, request: web.Request) -> str:
        return f"{request.scheme}://{request.host}"

    def _task(self, request: web.Request) -> SandboxTask:
        task = self.server.state.tasks.get(request.match_info["task_id"])
        if task is None:
            raise _error(404, f"video job {request.match_info['task_id']!r} not found")
        return task

    def _job(self, request: web.Request, task: SandboxTask) -> dict[str, Any]:
        phase = self.server.state.observe(task)
        origin = self._origin(request)
        job: dict[str, Any] = {
            "id": task.id,
            "polling_url": f"{origin}{wire.OPENROUTER_VIDEOS}/{task.id}",
            "status": _STATUS[phase.state],
        }
        if phase.state == "completed":
            job["generation_id"] = "gen-" + task.id.removeprefix("task_")
            job["unsigned_urls"] = [
                f"{origin}{wire.OPENROUTER_VIDEOS}/{task.id}{wire.CONTENT_SUFFIX}?index=0"
            ]
            job["usage"] = self._usage(task)
        elif phase.state == "failed" and task.failure is not None:
            job["error"] = task.failure[1]
            if self.server.state.behaviour.charge_failures:
                job["usage"] = self._usage(task)
        return job

    @staticmethod
    def _usage(task: SandboxTask) -> dict[str, Any]:
        """``usage``: the job's cost (``PRICE_PER_SECOND`` per second) and no BYOK."""
        return {"cost": round(PRICE_PER_SECOND * task.request.duration, 4), "is_byok": False}

    async def submit(self, request: web.Request) -> web.Response:
        state = self.server.state
        key = request.headers.get(wire.IDEMPOTENCY_KEY_HEADER)
        task = state.task_for_key(key)
        if task is None:
            body = await self.server._read_body(request)
            known = state.known_models | frozenset(OPENROUTER_MODELS)
            parsed = parse_submit(_as_unified(body), known_models=known, openai_route=False)
            task = state.create_task(parsed)
            state.remember_key(key, task)
        job = self._job(request, task)
        return _json({"id": job["id"], "polling_url": job["polling_url"], "status": "pending"})

    async def poll(self, request: web.Request) -> web.Response:
        return _json(self._job(request, self._task(request)))

    async def content(self, request: web.Request) -> web.StreamResponse:
        task = self._task(request)
        if request.query.get("index", "0") != "0":
            raise _error(404, f"no video at index {request.query['index']!r}")
        phase = self.server.state.observe(task)
        if phase.state != "completed":
            raise _error(400, f"video job is {_STATUS[phase.state]}, not completed")
        return await self.server._serve_video(request, task)

    async def models(self, request: web.Request) -> web.Response:
        data = [
            {
                "id": name,
                "canonical_slug": name,
                "name": name,
                "created": 1_700_000_000,
                "supported_resolutions": ["720p", "1080p"],
                "supported_aspect_ratios": ["16:9", "9:16"],
                "supported_durations": [4, 8],
                "pricing_skus": {"per-video-second": f"{PRICE_PER_SECOND:.2f}"},
                "allowed_passthrough_parameters": [],
            }
            for name in OPENROUTER_MODELS
        ]
        return _json({"data": data})

    async def remix(self, request: web.Request) -> web.Response:
        state = self.server.state
        if not state.behaviour.openai_routes:
            raise middleware_error(404, f"Invalid URL ({request.method} {request.path})")
        origin = self.server._video_task(request)
        key = request.headers.get(wire.IDEMPOTENCY_KEY_HEADER)
        task = state.task_for_key(key)
        if task is None:
            body = await self.server._read_body(request)
            prompt = body.get("prompt")
            if not isinstance(prompt, str) or not prompt.strip():
                raise task_error(400, "invalid_request", "prompt is required")
            phase = state.observe(origin)
            if phase.state != "completed":
                raise middleware_error(
                    400, f"task is not completed yet, status: {phase.state}", "invalid_request"
                )
            task = state.create_task(_remixed(origin, prompt))
            state.remember_key(key, task)
        answer = submit_body(task, openai_route=True)
        answer["remixed_from_video_id"] = origin.id
        return _json(answer)


def _remixed(origin: SandboxTask, prompt: str) -> Any:
    """The origin's request with the new prompt joined on (the video derives from both)."""
    digest = hashlib.sha256(f"{origin.request.fingerprint}|remix|{prompt}".encode()).hexdigest()
    return attrs.evolve(
        origin.request, prompt=f"{origin.request.prompt} / remix: {prompt}", fingerprint=digest
    )


def add_routes(router: web.UrlDispatcher, server: SandboxServer) -> None:
    """Register OpenRouter's routes and the remix route of ``server`` on ``router``."""
    routes = _Routes(server)
    router.add_post(wire.OPENROUTER_VIDEOS, routes.submit)
    router.add_get(wire.OPENROUTER_MODELS, routes.models)  # before {task_id} matches "models"
    router.add_get(_JOB, routes.poll)
    router.add_get(_CONTENT, routes.content)
    router.add_post(_REMIX, routes.remix)
