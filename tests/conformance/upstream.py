"""A small OpenAI-style video server: the upstream that the LiteLLM proxy forwards to.

It speaks the routes of OpenAI's published spec (``openai_videos_spec.json``):
``POST /v1/videos`` (JSON or multipart), ``GET /v1/videos/{id}``,
``GET /v1/videos/{id}/content``, and answers like OpenAI does where the tests need it:

- a job takes ``job_seconds`` (queued, then in_progress with progress, then completed);
- a prompt containing ``[fail]`` makes a job that ends ``failed`` with ``FAILURE_MESSAGE``;
- a prompt containing ``[429]`` is refused once with 429 and ``Retry-After: 1``, then accepted;
- a ``seconds`` or ``size`` outside the spec's enums is refused with 422, naming the field;
- a wrong bearer gets 401.

Every submit is recorded (its fields, and its file parts with their bytes) on
``submissions`` so tests can check what really reached the upstream. It runs on a thread
of its own, so one instance can serve a whole session of tests on different loops.
"""

from __future__ import annotations

import asyncio
import pathlib
import threading
import time
import uuid
from typing import Any

import attrs
from aiohttp import web

from tests.support import make_mp4

UPSTREAM_KEY = "upstream-secret-key"
FAILURE_MESSAGE = "Your request was blocked by our moderation system."
RATE_LIMIT_MESSAGE = "Rate limit reached for videos per min: please retry in 1s."
SECONDS = ("4", "8", "12")
SIZES = ("720x1280", "1280x720", "1024x1792", "1792x1024")


@attrs.define(kw_only=True)
class Submission:
    """One ``POST /v1/videos`` as the upstream received it."""

    content_type: str
    fields: dict[str, Any]
    #: file parts: name -> (filename, content type, bytes)
    files: dict[str, tuple[str | None, str | None, bytes]]


@attrs.define(kw_only=True)
class Job:
    """One video job and the bytes it ends with."""

    id: str
    model: str
    prompt: str
    seconds: str
    size: str
    created: float
    fails: bool
    video: bytes


class OpenAIVideoUpstream:
    """Start with ``start()``, stop with ``stop()``; ``base_url`` ends in ``/v1``."""

    def __init__(self, workdir: pathlib.Path, *, job_seconds: float = 2.0, port: int = 0) -> None:
        self.workdir = workdir
        self.job_seconds = job_seconds
        self.submissions: list[Submission] = []
        self.jobs: dict[str, Job] = {}
        self.refused_once: set[str] = set()
        self.requests: list[str] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None
        self.port = port

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>/v1``, the ``api_base`` LiteLLM is given."""
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> OpenAIVideoUpstream:
        """Serve on a free port of 127.0.0.1 from a thread of its own."""
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._serve(), self._loop).result(timeout=10)
        return self

    def stop(self) -> None:
        """Stop serving and end the thread."""
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)

    async def _serve(self) -> None:
        app = web.Application(middlewares=[self._auth])
        app.router.add_post("/v1/videos", self._create)
        app.router.add_get("/v1/videos/{id}", self._retrieve)
        app.router.add_get("/v1/videos/{id}/content", self._content)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    @web.middleware
    async def _auth(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self.requests.append(f"{request.method} {request.path}")
        if request.headers.get("Authorization") != f"Bearer {UPSTREAM_KEY}":
            return _error(401, "Incorrect API key provided.", code="invalid_api_key")
        return await handler(request)

    async def _create(self, request: web.Request) -> web.Response:
        submission = await _read_submission(request)
        self.submissions.append(submission)
        fields = submission.fields
        prompt = str(fields.get("prompt") or "")
        if not prompt:
            return _invalid("prompt", "is required")
        if "[429]" in prompt and prompt not in self.refused_once:
            self.refused_once.add(prompt)
            return _error(429, RATE_LIMIT_MESSAGE, code="rate_limit_exceeded", retry_after="1")
        seconds, size = str(fields.get("seconds", "4")), str(fields.get("size", "720x1280"))
        if seconds not in SECONDS:
            return _invalid("seconds", f"must be one of {', '.join(SECONDS)}")
        if size not in SIZES:
            return _invalid("size", f"must be one of {', '.join(SIZES)}")
        job = self._new_job(str(fields.get("model") or "sora-2"), prompt, seconds, size)
        return web.json_response(self._video_object(job))

    def _new_job(self, model: str, prompt: str, seconds: str, size: str) -> Job:
        ident = f"video_{uuid.uuid4().hex}"
        clip = make_mp4(self.workdir / f"{ident}.mp4", frames=4, shade=len(self.jobs) * 37 % 200)
        job = Job(
            id=ident,
            model=model,
            prompt=prompt,
            seconds=seconds,
            size=size,
            created=time.time(),
            fails="[fail]" in prompt,
            video=clip.read_bytes(),
        )
        self.jobs[ident] = job
        return job

    def _status(self, job: Job) -> tuple[str, int]:
        done = (time.time() - job.created) / self.job_seconds
        if done >= 1:
            return ("failed", 100) if job.fails else ("completed", 100)
        if done < 0.15:
            return "queued", 0
        return "in_progress", int(done * 100)

    def _video_object(self, job: Job) -> dict[str, Any]:
        status, progress = self._status(job)
        finished = status in ("completed", "failed")
        return {
            "id": job.id,
            "object": "video",
            "model": job.model,
            "status": status,
            "progress": progress,
            "created_at": int(job.created),
            "completed_at": int(job.created + self.job_seconds) if finished else None,
            "expires_at": int(job.created + 3600) if status == "completed" else None,
            "prompt": job.prompt,
            "size": job.size,
            "seconds": job.seconds,
            "remixed_from_video_id": None,
            "error": (
                {"code": "moderation_blocked", "message": FAILURE_MESSAGE}
                if status == "failed"
                else None
            ),
        }

    async def _retrieve(self, request: web.Request) -> web.Response:
        job = self.jobs.get(request.match_info["id"])
        if job is None:
            return _error(
                404, f"Video with id '{request.match_info['id']}' not found.", code="not_found"
            )
        return web.json_response(self._video_object(job))

    async def _content(self, request: web.Request) -> web.Response:
        job = self.jobs.get(request.match_info["id"])
        if job is None:
            return _error(
                404, f"Video with id '{request.match_info['id']}' not found.", code="not_found"
            )
        if self._status(job)[0] != "completed":
            return _error(400, "Video is not ready yet.", code="video_not_ready")
        return web.Response(body=job.video, content_type="video/mp4")


async def _read_submission(request: web.Request) -> Submission:
    fields: dict[str, Any] = {}
    files: dict[str, tuple[str | None, str | None, bytes]] = {}
    if request.content_type == "multipart/form-data":
        reader = await request.multipart()
        async for part in reader:
            data = await part.read()  # type: ignore[union-attr]
            if part.filename is not None:  # type: ignore[union-attr]
                content_type = part.headers.get("Content-Type")  # type: ignore[union-attr]
                files[part.name or ""] = (part.filename, content_type, bytes(data))  # type: ignore[union-attr]
            else:
                fields[part.name or ""] = bytes(data).decode()  # type: ignore[union-attr]
    elif request.can_read_body:
        fields = dict(await request.json())
    return Submission(content_type=request.content_type, fields=fields, files=files)


def _error(
    status: int,
    message: str,
    *,
    code: str,
    param: str | None = None,
    retry_after: str | None = None,
) -> web.Response:
    body = {
        "error": {
            "message": message,
            "type": "invalid_request_error",
            "param": param,
            "code": code,
        }
    }
    headers = {"Retry-After": retry_after} if retry_after else None
    return web.json_response(body, status=status, headers=headers)


def _invalid(field: str, why: str) -> web.Response:
    """A 422 that names the field twice over: OpenAI's ``param`` and a ``validation`` list."""
    body = {
        "error": {
            "message": "Your request is not valid",
            "type": "invalid_request_error",
            "param": field,
            "code": "invalid_value",
            "validation": [{"location": ["body", field], "message": why}],
        }
    }
    return web.json_response(body, status=422)
