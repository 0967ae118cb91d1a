"""The sandbox's aiohttp application: routes, auth, fault injection, byte serving.

``SandboxServer`` owns the state and the render cache; ``make_app`` builds an
``aiohttp.web.Application`` for it. ``handle.start`` runs one on its own thread.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import secrets
import time
from typing import Any

from aiohttp import web

from ..core import wire
from .artifacts import ARTIFACT_NOT_FOUND, ARTIFACT_ROUTE, ArtifactSigner, artifact_path
from .behaviour import Behaviour, behaviour_from_changes
from .billing import with_reported_cost
from .faults import (
    expired_url_body,
    malformed_body,
    rate_limit_answer,
    server_error_answer,
)
from .newapi import newest_video_body, other_ratios_header, task_object_body
from .openrouter import add_routes as add_openrouter_routes
from .parse import SandboxHTTPError, middleware_error, parse_submit, task_error
from .render import RenderCache
from .state import SandboxState, SandboxTask
from .vendor import (
    gemini_generations_body,
    generations_body,
    openai_video_object,
    submit_body,
)

__all__ = ["ADMIN_CONFIG", "ADMIN_STATS", "SANDBOX_KEY", "SandboxServer", "make_app"]

ADMIN_STATS = "/_sandbox/stats"
ADMIN_CONFIG = "/_sandbox/config"
FILE_ROUTE = "/files/{token}.mp4"

_GEN_TASK = wire.ROUTE_GENERATIONS + "/{task_id}"
_VIDEO_TASK = wire.ROUTE_VIDEOS + "/{task_id}"
_VIDEO_CONTENT = _VIDEO_TASK + wire.CONTENT_SUFFIX
_SUBMIT_ROUTES = (wire.ROUTE_GENERATIONS, wire.ROUTE_VIDEOS)
_UNIFIED_ROUTES = (wire.ROUTE_GENERATIONS, _GEN_TASK)
_OPENAI_ROUTES = (wire.ROUTE_VIDEOS, _VIDEO_TASK, _VIDEO_CONTENT)
# Presigned routes: a valid token in the URL stands in for the bearer key.
_PRESIGNED = (FILE_ROUTE,)
_MAX_BODY = 64 * 1024 * 1024


class _Aborted(Exception):
    """The connection was cut on purpose; nothing more is to be written."""


def _rid() -> str:
    return secrets.token_hex(12)


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        body=json.dumps(body, ensure_ascii=False).encode(),
        status=status,
        content_type="application/json",
        headers=headers,
    )


def _abort(request: web.Request) -> None:
    transport = request.transport
    if transport is not None:
        transport.abort()
    raise _Aborted


def _parse_range(header: str | None, size: int) -> tuple[int, int] | str | None:
    """``(start, end)`` inclusive, ``None`` for the whole file, ``"unsatisfiable"``."""
    if not header or not header.startswith("bytes="):
        return None
    spec = header[len("bytes=") :].strip()
    if "," in spec:  # multiple ranges: serving the whole file is allowed
        return None
    first, sep, last = spec.partition("-")
    if not sep:
        return None
    try:
        if first == "":
            length = int(last)
            if length <= 0:
                return "unsatisfiable"
            return max(0, size - length), size - 1
        start = int(first)
        end = int(last) if last else size - 1
    except ValueError:
        return None
    if start >= size or end < start:
        return "unsatisfiable"
    return start, min(end, size - 1)


class SandboxServer:
    """One sandbox: behaviour, tasks, counters and renders, served by ``app()``."""

    def __init__(self, behaviour: Behaviour | None = None) -> None:
        self.state = SandboxState(behaviour or Behaviour())
        self.renders = RenderCache()
        self.artifacts = ArtifactSigner()
        # downloads left that find their artifact token expired (knob ``artifact_expired``)
        self.artifact_expired_left = self.state.behaviour.artifact_expired

    # --- control ------------------------------------------------------------------------

    def configure(self, changes: dict[str, Any]) -> Behaviour:
        """Apply behaviour ``changes`` (call on the server loop)."""
        new = behaviour_from_changes(self.state.behaviour, changes)
        self.state.configure(new, list(changes))
        if "artifact_expired" in changes:
            self.artifact_expired_left = new.artifact_expired
        return new

    def stats(self, *, include_tasks: bool = True) -> dict[str, Any]:
        """All counters (call on the server loop)."""
        return self.state.stats(include_tasks=include_tasks, render=self.renders)

    def close(self) -> None:
        """Release the render threads."""
        self.renders.close()

    def app(self) -> web.Application:
        """The aiohttp application serving every route of the sandbox."""
        app = web.Application(middlewares=[self._middleware], client_max_size=_MAX_BODY)
        r = app.router
        r.add_post(wire.ROUTE_GENERATIONS, self._submit_unified)
        r.add_get(_GEN_TASK, self._get_generation)
        r.add_post(wire.ROUTE_VIDEOS, self._submit_openai)
        r.add_get(_VIDEO_TASK, self._get_video)
        r.add_delete(_VIDEO_TASK, self._cancel_video)
        r.add_get(_VIDEO_CONTENT, self._get_content)
        r.add_get(wire.ROUTE_MODELS, self._models)
        add_openrouter_routes(r, self)  # OpenRouter's /api/v1/videos... and /v1/videos/{id}/remix
        r.add_get(FILE_ROUTE, self._get_file)
        r.add_get(ARTIFACT_ROUTE, self._get_artifact)
        r.add_get(ADMIN_STATS, self._admin_stats)
        r.add_post(ADMIN_CONFIG, self._admin_config)
        return app

    # --- middleware: counting, auth, faults ---------------------------------------------

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        resource = request.match_info.route.resource
        template = resource.canonical if resource is not None else "(unmatched)"
        admin = template.startswith("/_sandbox")
        state = self.state
        if not admin:
            state.count_request(request.method, template)
        try:
            response = await self._guarded(request, handler, template, admin)
        except _Aborted:
            if not admin:
                state.count_status("aborted")
            return web.Response(status=200)
        if not admin:
            state.count_status(response.status)
        return response

    async def _guarded(
        self, request: web.Request, handler: Any, template: str, admin: bool
    ) -> web.StreamResponse:
        b = self.state.behaviour
        try:
            if not admin and b.latency:
                await asyncio.sleep(b.latency)
            if template == "(unmatched)" or (
                (template in _UNIFIED_ROUTES and not b.unified_routes)
                or (template in _OPENAI_ROUTES and not b.openai_routes)
            ):
                raise SandboxHTTPError(
                    404,
                    {
                        "error": {
                            "message": f"Invalid URL ({request.method} {request.path})",
                            "type": "invalid_request_error",
                            "code": "",
                        }
                    },
                )
            # file URLs are presigned like a vendor CDN; artifact links carry their token
            presigned = template in _PRESIGNED or (
                template == ARTIFACT_ROUTE and "access" in request.query
            )
            if not presigned:
                self._check_auth(request)
            api = not admin and template.startswith(wire.API_PREFIX)
            if api:
                early = self._early_fault(request)
                if early is not None:
                    return early
            response = await handler(request)
            if api:
                response = self._late_fault(request, template, response)
            return response
        except SandboxHTTPError as exc:
            return _json(exc.body, exc.status)
        except web.HTTPMethodNotAllowed as exc:
            return _json(
                {"error": {"message": exc.reason, "type": "invalid_request_error", "code": ""}},
                405,
            )

    def _check_auth(self, request: web.Request) -> None:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        expected = self.state.behaviour.api_key.removeprefix("sk-")
        given = token.strip().removeprefix("sk-")
        ok = (
            scheme.lower() == "bearer"
            and given
            and hmac.compare_digest(given.encode(), expected.encode())
        )
        if not ok:
            raise middleware_error(401, f"Invalid token (request id: {_rid()})")

    def _early_fault(self, request: web.Request) -> web.StreamResponse | None:
        state, b = self.state, self.state.behaviour
        method = request.method
        if state.faults.should_fire("rate_limit", method, b):
            headers, body = rate_limit_answer(b, state.faults.fired_count("rate_limit"))
            return web.Response(
                body=body, status=429, headers=headers, content_type="application/json"
            )
        if state.faults.should_fire("server_error", method, b):
            statuses = b.server_error_status
            status = statuses[(state.faults.fired_count("server_error") - 1) % len(statuses)]
            content_type, body = server_error_answer(status)
            return web.Response(body=body, status=status, content_type=content_type)
        if method == "GET" and state.faults.should_fire("reset", method, b):
            _abort(request)
        return None

    def _late_fault(
        self, request: web.Request, template: str, response: web.StreamResponse
    ) -> web.StreamResponse:
        state, b = self.state, self.state.behaviour
        if not isinstance(response, web.Response) or not 200 <= response.status < 300:
            return response
        if (
            request.method == "POST"
            and template in _SUBMIT_ROUTES
            and state.faults.should_fire("drop_after_accept", "POST", b)
        ):
            _abort(request)  # the task exists; the client never hears of it
        if response.content_type == "application/json" and state.faults.should_fire(
            "malformed", request.method, b
        ):
            assert isinstance(response.body, bytes)
            return web.Response(
                body=malformed_body(response.body),
                status=response.status,
                content_type="application/json",
                headers={
                    k: v
                    for k, v in response.headers.items()
                    if k.lower() != "content-type" and k.lower() != "content-length"
                },
            )
        return response

    # --- submit -------------------------------------------------------------------------

    async def _read_body(self, request: web.Request) -> dict[str, Any]:
        ctype = request.content_type
        if ctype == "application/json" or ctype.endswith("+json"):
            raw = await request.read()
            try:
                body = json.loads(raw)
            except ValueError as exc:
                raise task_error(400, "invalid_json", f"invalid JSON body: {exc}") from None
            if not isinstance(body, dict):
                raise task_error(400, "invalid_json", "request body must be a JSON object")
            return body
        if ctype in ("multipart/form-data", "application/x-www-form-urlencoded"):
            form = await request.post()
            out: dict[str, Any] = {}
            for name in form:
                values = [
                    v.file.read() if isinstance(v, web.FileField) else v for v in form.getall(name)
                ]
                out[name] = values if name == "images" else values[0]
            return out
        # new-api does not read other bodies at all, so the first check to fail is this one.
        raise task_error(400, "invalid_request", "prompt is required")

    async def _submit(self, request: web.Request, *, openai_route: bool) -> web.Response:
        state = self.state
        key = request.headers.get(wire.IDEMPOTENCY_KEY_HEADER)
        existing = state.task_for_key(key)
        if existing is not None:
            state.idempotent_replays += 1
            return _json(submit_body(existing, openai_route=openai_route))
        body = await self._read_body(request)
        parsed = parse_submit(body, known_models=state.known_models, openai_route=openai_route)
        task = state.create_task(parsed)
        state.remember_key(key, task)
        headers = other_ratios_header(task) if state.behaviour.other_ratios else None
        return _json(submit_body(task, openai_route=openai_route), headers=headers)

    async def _submit_unified(self, request: web.Request) -> web.Response:
        return await self._submit(request, openai_route=False)

    async def _submit_openai(self, request: web.Request) -> web.Response:
        return await self._submit(request, openai_route=True)

    # --- task reads ---------------------------------------------------------------------

    def _poll_headers(self) -> dict[str, str]:
        ms = self.state.behaviour.poll_after_ms
        return {} if ms is None else {wire.POLL_AFTER_HEADER: str(ms)}

    def _file_url(self, request: web.Request, task: SandboxTask) -> str:
        if self.state.behaviour.artifact_links:
            # new-api signs a fresh capability on every read of the task
            token = self.artifacts.issue(task.id, self.state.behaviour.artifact_ttl)
            return f"{request.scheme}://{request.host}{artifact_path(task.id, token)}"
        token = self.state.file_token(task)
        return f"{request.scheme}://{request.host}/files/{token}.mp4"

    def _read_task(self, request: web.Request, task: SandboxTask) -> tuple[Any, str]:
        phase = self.state.observe(task)
        url = ""
        if phase.state == "completed":
            url = self._file_url(request, task)
            self.renders.prefetch(task.render)  # most clients download right after this read
        return phase, url

    async def _get_generation(self, request: web.Request) -> web.Response:
        task = self.state.tasks.get(request.match_info["task_id"])
        if task is None:
            raise task_error(400, "task_not_exist", "task_not_exist")
        phase, url = self._read_task(request, task)
        shape = generations_body
        if self.state.behaviour.task_object:
            shape = task_object_body
        if self.state.behaviour.gemini_shape and task.model.startswith("veo"):
            shape = gemini_generations_body
        body, headers = with_reported_cost(
            shape(task, phase, url), task, phase, self.state.behaviour, self._poll_headers()
        )
        return _json(body, headers=headers)

    def _video_task(self, request: web.Request) -> SandboxTask:
        task = self.state.tasks.get(request.match_info["task_id"])
        if task is None:
            raise SandboxHTTPError(
                404,
                {
                    "error": {
                        "message": f"task {request.match_info['task_id']!r} not found",
                        "type": "invalid_request_error",
                        "code": "task_not_exist",
                    }
                },
            )
        return task

    async def _get_video(self, request: web.Request) -> web.Response:
        task = self._video_task(request)
        phase, url = self._read_task(request, task)
        if self.state.behaviour.newest_videos:
            return _json(newest_video_body(task, phase), headers=self._poll_headers())
        body, headers = with_reported_cost(
            openai_video_object(task, phase, url),
            task,
            phase,
            self.state.behaviour,
            self._poll_headers(),
        )
        return _json(body, headers=headers)

    async def _cancel_video(self, request: web.Request) -> web.Response:
        task = self._video_task(request)
        self.state.cancel(task)
        phase, url = self._read_task(request, task)
        return _json(openai_video_object(task, phase, url))

    async def _models(self, request: web.Request) -> web.Response:
        created = 1_700_000_000
        data = [
            {"id": m, "object": "model", "created": created, "owned_by": "sandbox"}
            for m in self.state.model_list()
        ]
        return _json({"object": "list", "data": data, "success": True})

    # --- bytes --------------------------------------------------------------------------

    async def _get_content(self, request: web.Request) -> web.StreamResponse:
        task = self._video_task(request)
        variant = request.query.get("variant", "video")
        if variant != "video":
            raise middleware_error(400, f"variant {variant!r} is not available", "invalid_request")
        phase = self.state.observe(task)
        if phase.state != "completed":
            raise middleware_error(
                400,
                f"task is not completed yet, status: {phase.odd or phase.state}",
                "invalid_request",
            )
        return await self._serve_video(request, task)

    async def _get_file(self, request: web.Request) -> web.StreamResponse:
        record = self.state.lookup_token(request.match_info["token"])
        if record is None or record.task_id not in self.state.tasks:
            return web.Response(
                status=404,
                body=b"<Error><Code>NoSuchKey</Code><Message>The specified key does not exist."
                b"</Message></Error>",
                content_type="application/xml",
            )
        if self.state.token_expired(record):
            self.state.faults.record("url_expired")
            return web.Response(status=403, body=expired_url_body(), content_type="application/xml")
        if request.method == "GET":
            record.used = True
        return await self._serve_video(request, self.state.tasks[record.task_id])

    async def _get_artifact(self, request: web.Request) -> web.StreamResponse:
        """new-api's artifact route: a valid ``access`` token, or the bearer key without one."""
        task = self.state.tasks.get(request.match_info["task_id"])
        artifact = request.match_info["artifact"]
        token = request.query.get("access")
        denied = task is None or artifact != "video"
        if not denied and token is not None:
            assert task is not None
            denied = not self.artifacts.verify(token, task.id, artifact=artifact)
            if not denied and self.artifact_expired_left > 0:
                self.artifact_expired_left -= 1
                denied = True  # as if the client came back after the token's lifetime
            if denied:
                self.state.faults.record("artifact_expired")
        if denied:
            return _json(ARTIFACT_NOT_FOUND, 404, headers={"Cache-Control": "private, no-store"})
        assert task is not None
        if self.state.observe(task).state != "completed":
            raise middleware_error(400, "task is not completed yet", "invalid_request")
        return await self._serve_video(request, task)

    async def _serve_video(self, request: web.Request, task: SandboxTask) -> web.StreamResponse:
        data = await self.renders.get(task.render)
        size = len(data)
        etag = '"' + hashlib.sha256(data).hexdigest()[:32] + '"'
        headers = {"Accept-Ranges": "bytes", "ETag": etag, "Cache-Control": "private"}
        wanted = _parse_range(request.headers.get("Range"), size)
        if_range = request.headers.get("If-Range")
        if if_range is not None and if_range != etag:
            wanted = None  # the file changed since the client's partial copy: send it all
        if wanted == "unsatisfiable":
            headers["Content-Range"] = f"bytes */{size}"
            return web.Response(status=416, headers=headers)
        if isinstance(wanted, tuple):
            start, end = wanted
            status = 206
            headers["Content-Range"] = f"bytes {start}-{end}/{size}"
        else:
            start, end, status = 0, size - 1, 200
        chunk = data[start : end + 1]
        if request.method == "HEAD":
            return web.Response(status=status, headers=headers, content_type="video/mp4")
        task.download_attempts += 1
        limit = self.state.behaviour.truncate_after
        if limit is not None and task.download_attempts == 1 and len(chunk) > limit:
            self.state.faults.record("truncate")
            response = web.StreamResponse(status=status, headers=headers)
            response.content_type = "video/mp4"
            response.content_length = len(chunk)
            await response.prepare(request)
            await response.write(chunk[:limit])
            self.state.bytes_served += limit
            _abort(request)
        self.state.bytes_served += len(chunk)
        if end == size - 1:
            task.downloaded_at = time.time()
        return web.Response(body=chunk, status=status, headers=headers, content_type="video/mp4")

    # --- admin --------------------------------------------------------------------------

    async def _admin_stats(self, request: web.Request) -> web.Response:
        include = request.query.get("tasks", "1") not in ("0", "false", "no")
        return _json(self.stats(include_tasks=include))

    async def _admin_config(self, request: web.Request) -> web.Response:
        try:
            changes = await request.json()
        except ValueError:
            raise task_error(400, "invalid_json", "config body must be a JSON object") from None
        if not isinstance(changes, dict):
            raise task_error(400, "invalid_json", "config body must be a JSON object")
        try:
            new = self.configure(changes)
        except (TypeError, ValueError) as exc:
            raise task_error(400, "invalid_request", str(exc)) from None
        return _json(new.public())


SANDBOX_KEY = web.AppKey("sandbox", SandboxServer)


def make_app(**behaviour: Any) -> web.Application:
    """An aiohttp application of a fresh sandbox, for running on a loop of your own.

    The ``SandboxServer`` is at ``app[SANDBOX_KEY]``.
    """
    server = SandboxServer(Behaviour(**behaviour))
    app = server.app()
    app[SANDBOX_KEY] = server

    async def _close(_app: web.Application) -> None:
        server.close()

    app.on_cleanup.append(_close)
    return app
