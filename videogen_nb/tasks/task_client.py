"""``TaskClient``: one video task over HTTP — submit, poll, wait, download.

The public ``AsyncClient`` (``client/async_client.py``) extends it with the many-task
methods of the run layer (``run``, ``compare``, ``resume``), which sit above this module.
Its parts: journal writes go through ``recorder``, waiting through ``follow`` (the rules
the run layer's scheduler follows too), the video download through ``fetch``. Everything
here runs on one event loop: the one that first uses the client.

Over 500 lines on purpose: ``TaskClient`` is the contract's one-task verbs on one class; its
parts already live beside it (``recorder``, ``follow``, ``fetch``, ``submit_answer``).
"""

from __future__ import annotations

import asyncio
import logging
import os
import pathlib
import time
import uuid
from collections.abc import Callable
from typing import Any

import attrs

from ..core.errors import (
    APIError,
    BadRequestError,
    DownloadError,
    SubmitOutcomeUnknownError,
    TaskFailedError,
    TaskTimeoutError,
    ValidationError,
)
from ..core.request import VideoRequest
from ..core.task import Result, Task, TaskStatus
from ..dialects import Dialect, auto_fallback, bind_base, get_dialect
from ..dialects.decode import decode_error, decode_models, decode_task
from ..http.retry import RetryPolicy
from ..http.transport import Transport
from ..store import catalog
from ..store.journal import Journal, JournalEntry
from .fetch import fetch_video, target_path
from .follow import Follow, follow_task
from .polling import PollPolicy
from .recorder import DEFAULT, Recorder, open_recorder
from .submit_answer import submitted_task

__all__ = ["DEFAULT", "TaskClient"]

logger = logging.getLogger("videogen_nb")

BASE_URL_ENV = "VIDEOGEN_BASE_URL"
API_KEY_ENV = "VIDEOGEN_API_KEY"
DEFAULT_OUTPUT_DIR = pathlib.Path("videogen-runs") / "videos"
# A route that is missing answers 404 (or 405 for a wrong method); nothing was created.
ROUTE_MISSING = (404, 405)
#: submit POSTs one client has in flight at once: a run of 10,000 sends them in waves, so
#: no turn of the event loop carries thousands of submits (and their journal syncs) while
#: a notebook cell waits behind them; the gateway answers no faster to more at once
MAX_SUBMITS_IN_FLIGHT = 32
#: seconds a model's typical duration read from the journal is reused
TYPICAL_SECONDS_TTL = 5.0


@attrs.define(kw_only=True)
class _Tracked:
    """What the client remembers about a task it submitted or resumed."""

    dialect: Dialect
    model: str | None
    submitted_at: float  # epoch seconds, so it survives a restart through the journal
    entry_id: int | None = None


class TaskClient:
    """Submit one request, follow it to the end, download the video.

    ``base_url``/``api_key`` default to ``VIDEOGEN_BASE_URL``/``VIDEOGEN_API_KEY``; the base
    URL may end in ``/v1`` or not. ``dialect`` is ``"auto"`` (unified first, OpenAI-style
    ``/v1/videos`` when the gateway turns out to serve only that), ``"unified"``,
    ``"openai"``, ``"kling"``, or a ``Dialect`` instance.
    """

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        *,
        dialect: str | Dialect = "auto",
        journal: Journal | str | os.PathLike[str] | None = DEFAULT,
        output_dir: str | os.PathLike[str] | None = None,
        timeout: float = 60.0,
        task_timeout: float | None = 30 * 60.0,
        poll: PollPolicy | None = None,
        retry: RetryPolicy | None = None,
        max_download_bytes: int = 2 * 1024**3,
        verify_ssl: bool = True,
        allow_private_downloads: bool | None = None,
    ) -> None:
        base_url = base_url or os.environ.get(BASE_URL_ENV)
        if not base_url:
            raise ValidationError(
                "base_url",
                f"no gateway given: pass base_url=..., set {BASE_URL_ENV}, "
                "or start the offline sandbox with vg.sandbox.start()",
            )
        if api_key is None:
            api_key = os.environ.get(API_KEY_ENV)
        self._transport = Transport(
            base_url,
            api_key,
            timeout=timeout,
            retry=retry or RetryPolicy(),
            verify_ssl=verify_ssl,
            error_decoder=decode_error,
            allow_private_downloads=allow_private_downloads,
        )
        self._auto = dialect == "auto"
        self._dialect: Dialect = get_dialect("unified") if self._auto else _as_dialect(dialect)
        bind_base(self._dialect, self._transport.base_url)
        self._recorder: Recorder = open_recorder(journal)
        self._owns_journal = not isinstance(journal, Journal)
        self.output_dir = pathlib.Path(output_dir) if output_dir else DEFAULT_OUTPUT_DIR
        self.task_timeout = task_timeout
        self.poll_policy = poll or PollPolicy()
        self.max_download_bytes = max_download_bytes
        self._tracked: dict[str, _Tracked] = {}
        # poll route that answered last, per dialect, so fallbacks are paid for once
        self._poll_route: dict[str, int] = {}
        # the lease single-task calls (submit, generate) hold their entries by; runs hold
        # theirs by their own (run/lease.py)
        self._lease_owner = f"client-{uuid.uuid4().hex[:12]}"
        self._lease_held = False
        # made on first use, on the loop that submits
        self._submit_gate: asyncio.Semaphore | None = None
        # per model: when the journal was asked how long it takes, and its answer
        self._typical: dict[str, tuple[float, float | None]] = {}

    # -- identity ---------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """The gateway's base URL, normalised (no trailing ``/v1``)."""
        return self._transport.base_url

    @property
    def gateway(self) -> str:
        """The gateway's identity in the journal (its base URL without credentials)."""
        return self._transport.base_url

    @property
    def dialect(self) -> str:
        """The wire format in use (for ``"auto"``, what the gateway turned out to serve)."""
        return self._dialect.name

    @property
    def journal(self) -> Journal | None:
        """The task journal, or None when disabled."""
        return self._recorder.journal

    @property
    def recorder(self) -> Recorder:
        """Where every journal transition of this client's tasks is written (the run layer
        writes through it too); a recorder that does nothing when the journal is disabled."""
        return self._recorder

    def __repr__(self) -> str:
        mode = f"auto->{self._dialect.name}" if self._auto else self._dialect.name
        return f"{type(self).__name__}(base_url={self.base_url!r}, dialect={mode!r})"

    # -- one task ---------------------------------------------------------------------------

    async def submit(self, request: VideoRequest, *, run_id: str | None = None) -> Task:
        """Send ``request`` and return the gateway's first view of the task.

        The task id is committed to the journal before this returns. If the answer is lost
        after the request was sent, ``SubmitOutcomeUnknownError`` is raised and the entry is
        marked ``submit_unknown``: it is not resubmitted automatically (that could pay twice).
        """
        owner = self._hold()
        entry = self.record_request(request, run_id=run_id, owner=owner)
        return await self.submit_entry(request, entry, owner=owner)

    async def submit_entry(
        self,
        request: VideoRequest,
        entry: JournalEntry | None,
        *,
        retry_rate_limits: bool = True,
        owner: str | None = None,
    ) -> Task:
        """Submit ``request`` for an existing journal entry (reusing its Idempotency-Key).

        ``owner`` is the run sending it: when another run's ``resume()`` took the entry
        over, ``LeaseLostError`` is raised and nothing is sent."""
        _check_request(request)
        catalog.warn_request(request)
        key = entry.idempotency_key if entry is not None else None
        entry_id = entry.id if entry is not None else None
        if self._submit_gate is None:
            self._submit_gate = asyncio.Semaphore(MAX_SUBMITS_IN_FLIGHT)
        async with self._submit_gate:
            return await self._submit_now(request, entry_id, key, retry_rate_limits, owner)

    async def _submit_now(
        self,
        request: VideoRequest,
        entry_id: int | None,
        key: str | None,
        retry_rate_limits: bool,
        owner: str | None,
    ) -> Task:
        # Not grouped: the money guard reads "sending" marks from the journal, so the mark must
        # land in the same synchronous stretch as the guard's check (no await between them).
        self._recorder.sending(entry_id, owner=owner)
        try:
            task, dialect = await self._post_submit(request, key, retry_rate_limits)
        except SubmitOutcomeUnknownError as exc:
            self._recorder.submit_unknown(entry_id, str(exc))
            raise
        except APIError as exc:
            self._recorder.submit_refused(entry_id, exc)
            raise
        # From here on the task is known by the id this answer gave, and by no other.
        self._tracked[task.id] = _Tracked(
            dialect=dialect, model=request.model, submitted_at=time.time(), entry_id=entry_id
        )
        if entry_id is not None:
            # durable before submit returns (the transaction is shared, the promise is not)
            await self._recorder.grouped(
                lambda: self._recorder.submitted(entry_id, task, dialect=dialect.name)
            )
        return task

    async def _post_submit(
        self, request: VideoRequest, key: str | None, retry_rate_limits: bool
    ) -> tuple[Task, Dialect]:
        dialect = self._dialect
        while True:
            try:
                response = await self._send_submit(dialect, request, key, retry_rate_limits)
                break
            except BadRequestError as exc:
                # A missing submit route created nothing, so trying the next one (unified,
                # openai, openrouter: dialects.AUTO_ORDER) cannot pay twice.
                missing = self._auto and exc.status_code in ROUTE_MISSING
                fallback = auto_fallback(dialect, self.base_url) if missing else None
                if fallback is None:
                    raise
                logger.info("gateway has no %s video route; trying %s", dialect.name, fallback.name)
                self._dialect = dialect = fallback
        task = submitted_task(response)
        dialect.accepted(task, self.base_url)
        return task, dialect

    async def _send_submit(
        self, dialect: Dialect, request: VideoRequest, key: str | None, retry_rate_limits: bool
    ) -> Any:
        wire = dialect.build_submit(request)
        return await self._transport.send(
            wire.method,
            wire.path,
            json=wire.json,
            form=wire.form,
            idempotency_key=key,
            retry=True,
            retry_rate_limits=retry_rate_limits,
            # a 2xx whose body is cut off may still mean a task was made: unknown outcome
            expect_json=True,
        )

    async def retrieve(self, task: Task | str, *, retry_rate_limits: bool = True) -> Task:
        """Read the task's current state from the gateway (and record it in the journal).

        The snapshot keeps the id it was asked for: some gateways (LiteLLM) answer with an
        id of their own, by which they cannot route a later call. The answer's own ids stay
        on ``Task.raw``.
        """
        task_id = task.id if isinstance(task, Task) else str(task)
        tracked = self._tracking(task_id)
        paths = tracked.dialect.poll_paths(task_id)
        start = self._poll_route.get(tracked.dialect.name, 0) % len(paths)
        order = paths[start:] + paths[:start]
        first_error: APIError | None = None
        for offset, path in enumerate(order):
            try:
                response = await self._transport.send(
                    "GET",
                    path,
                    retry=True,
                    retry_rate_limits=retry_rate_limits,
                    # a proxy's truncated or HTML answer is retried like a 502
                    expect_json=True,
                )
            except APIError as exc:
                if exc.status_code not in ROUTE_MISSING:
                    raise
                first_error = first_error or exc
                continue
            self._poll_route[tracked.dialect.name] = (start + offset) % len(paths)
            fresh = decode_task(
                response.json(),
                headers=response.headers,
                task_id=task_id,
                status_code=response.status,
            )
            if fresh.id != task_id:
                fresh = attrs.evolve(fresh, id=task_id)
            if tracked.model is None and fresh.model:
                tracked.model = fresh.model
            self._recorder.observed(tracked.entry_id, fresh)
            return fresh
        assert first_error is not None
        raise first_error

    async def wait(
        self,
        task: Task | str,
        timeout: float | None = None,
        *,
        on_update: Callable[[Task], None] | None = None,
    ) -> Task:
        """Poll until the task ends; return it completed, or raise.

        Raises ``TaskFailedError`` when it failed or was cancelled, ``TaskTimeoutError`` when
        it is still running after ``timeout`` seconds (default: the client's
        ``task_timeout``; the remote task is left alone and can be waited for again).
        """
        current = task if isinstance(task, Task) else await self.retrieve(task)
        follow = self.following(current, timeout=self.task_timeout if timeout is None else timeout)
        try:
            current = await follow_task(follow, self._poll, on_update=on_update)
        except TaskTimeoutError as exc:
            self._recorder.timed_out(self._tracking(current.id).entry_id, exc)
            raise
        if current.status is not TaskStatus.COMPLETED:
            raise TaskFailedError(current)
        return current

    def following(
        self, task: Task, *, timeout: float | None, submitted_at: float | None = None
    ) -> Follow:
        """The rules and state for following ``task`` from now on (``wait()`` and the run
        layer's poll scheduler both follow tasks through one)."""
        tracked = self._tracking(task.id)
        return Follow(
            task=task,
            policy=self.poll_policy,
            submitted_at=submitted_at if submitted_at is not None else tracked.submitted_at,
            timeout=timeout,
            typical_seconds=self.typical_seconds(tracked.model),
        )

    async def _poll(self, task_id: str) -> Task:
        # 429s are paced by the follow rules (which never count them as errors), not here.
        return await self.retrieve(task_id, retry_rate_limits=False)

    async def download(
        self, task: Task | str, dest: str | os.PathLike[str] | None = None
    ) -> pathlib.Path:
        """Fetch a completed task's video to ``dest`` (a file or a directory).

        By default the file goes to ``output_dir`` under a name the toolkit builds (never from
        server text). A vendor URL that has expired is replaced by a fresh one from the
        gateway, or by the gateway's ``/content`` route.
        """
        current = task if isinstance(task, Task) else await self.retrieve(task)
        if current.status is not TaskStatus.COMPLETED:
            current = await self.retrieve(current.id)
            if current.status is not TaskStatus.COMPLETED:
                raise DownloadError(
                    f"task {current.id} is {current.status.value}, not completed; "
                    "wait for it first (client.wait)"
                )
        tracked = self._tracking(current.id)
        target = target_path(
            current,
            dest=dest,
            output_dir=self.output_dir,
            entry_id=tracked.entry_id,
            model=tracked.model,
        )
        info = await fetch_video(
            self._transport,
            current,
            target,
            content_path=tracked.dialect.content_path(current.id),
            max_bytes=self.max_download_bytes,
            refresh=self.retrieve,
        )
        if tracked.entry_id is not None:
            entry_id = tracked.entry_id
            await self._recorder.grouped(
                lambda: self._recorder.downloaded(
                    entry_id, info.path, checksum=info.sha256, size=info.size
                )
            )
        return info.path

    async def generate(
        self,
        request: VideoRequest,
        *,
        force: bool = False,
        timeout: float | None = None,
        dest: str | os.PathLike[str] | None = None,
    ) -> Result:
        """Submit, wait and download in one call; an identical finished request is served
        from the journal without any HTTP call unless ``force=True``.

        Raises the error that stopped it (``TaskFailedError``, ``TaskTimeoutError``, an
        ``APIError``, ...); ``run()`` collects failures as results instead.
        """
        cached = None if force else self.cached_result(request)
        if cached is not None:
            return cached
        started = time.monotonic()
        owner = self._hold()
        entry = self.record_request(request, run_id=None, owner=owner)
        task = await self.submit_entry(request, entry, owner=owner)
        try:
            task = await self.wait(task, timeout)
        except TaskFailedError as exc:
            self._recorder.failed(self._tracking(task.id).entry_id, exc, task=exc.task)
            raise
        path = await self.download(task, dest)
        return Result(
            request=request,
            task=task,
            path=path,
            elapsed=time.monotonic() - started,
            journal_id=entry.id if entry is not None else None,
        )

    async def cancel(self, task: Task | str) -> Task | None:
        """Ask the gateway to cancel the task, where the dialect has a cancel call.

        Returns the task as the gateway then describes it, or None when the dialect cannot
        cancel (the task then runs on remotely).
        """
        current = task if isinstance(task, Task) else await self.retrieve(task)
        if current.status.is_terminal:
            # Nothing to stop; on OpenAI-style servers the cancel call is a DELETE, which
            # would throw away a finished video.
            return current
        task_id = current.id
        tracked = self._tracking(task_id)
        wire = tracked.dialect.build_cancel(task_id)
        if wire is None:
            return None
        await self._transport.send(wire.method, wire.path, json=wire.json, retry=True)
        try:
            return await self.retrieve(task_id)
        except APIError:
            return None

    async def models(self) -> list[str]:
        """The model ids the gateway lists (``/v1/models``; OpenRouter: its video models)."""
        path = self._dialect.models_path()
        response = await self._transport.send("GET", path, retry=True, expect_json=True)
        return decode_models(response.json())

    # -- journal helpers (used by the run layer too) -----------------------------------------

    def cached_result(self, request: VideoRequest) -> Result | None:
        """The journal's finished result for an identical request, if its file still exists."""
        entry = self._recorder.find_completed(
            request.fingerprint(), gateway=self.gateway, model=request.model
        )
        if entry is None or entry.path is None:
            return None
        task = Task(
            id=entry.task_id or "",
            status=TaskStatus.COMPLETED,
            progress=100,
            video_url=entry.video_url,
            model=entry.model,
        )
        return Result(
            request=request,
            task=task,
            path=pathlib.Path(entry.path),
            cached=True,
            journal_id=entry.id,
            spec=entry.spec,
        )

    def typical_seconds(self, model: str | None) -> float | None:
        """How long this model usually takes here: learned from the journal, else the catalog."""
        if not model:
            return None
        # Asked once per followed task: the journal's answer (a scan of its finished
        # entries) is reused for a few seconds, or 10,000 tasks would scan 10,000 times.
        now = time.monotonic()
        cached = self._typical.get(model)
        if cached is not None and now - cached[0] < TYPICAL_SECONDS_TTL:
            learned = cached[1]
        else:
            learned = self._recorder.typical_seconds(model, gateway=self.gateway)
            self._typical[model] = (now, learned)
        if learned:
            return learned
        info = catalog.get_model(model)
        return info.typical_seconds if info is not None else None

    def track_entry(self, entry: JournalEntry) -> None:
        """Remember a task from the journal (after a restart) so it can be polled."""
        if not entry.task_id:
            return
        self._tracked[entry.task_id] = _Tracked(
            dialect=bind_base(_as_dialect(entry.dialect or self._dialect.name), self.base_url),
            model=entry.model,
            submitted_at=entry.submitted_at or entry.created_at or time.time(),
            entry_id=entry.id,
        )

    def record_request(
        self, request: VideoRequest, *, run_id: str | None, owner: str | None = None
    ) -> JournalEntry | None:
        """Journal a request before it is sent (public for the run layer); ``owner`` is the
        run whose lease holds it."""
        return self.record_requests([request], run_id=run_id, owner=owner)[0]

    def record_requests(
        self, requests: list[VideoRequest], *, run_id: str | None, owner: str | None = None
    ) -> list[JournalEntry | None]:
        """Journal many requests in one transaction (None for each when there is no journal)."""
        for request in requests:
            _check_request(request)
        return self._recorder.requests(
            requests, gateway=self.gateway, dialect=self._dialect.name, run_id=run_id, owner=owner
        )

    def _hold(self) -> str | None:
        """Take (or renew) this client's lease for a single-task call's entry."""
        owner = self._recorder.hold(self._lease_owner)
        self._lease_held = owner is not None
        return owner

    def _tracking(self, task_id: str) -> _Tracked:
        tracked = self._tracked.get(task_id)
        if tracked is not None:
            return tracked
        entry = self._recorder.by_task_id(task_id, gateway=self.gateway)
        if entry is not None:
            self.track_entry(entry)
            return self._tracked[task_id]
        # A task submitted elsewhere (another tool, another kernel without a journal).
        tracked = _Tracked(dialect=self._dialect, model=None, submitted_at=time.time())
        self._tracked[task_id] = tracked
        return tracked

    # -- lifetime ---------------------------------------------------------------------------

    async def aclose(self) -> None:
        """Close the HTTP session (and the journal, when the client opened it)."""
        await self._transport.aclose()
        if self._lease_held:
            self._recorder.let_go(self._lease_owner)
        journal = self._recorder.journal
        if journal is not None and self._owns_journal:
            journal.close()

    async def __aenter__(self) -> TaskClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


def _as_dialect(dialect: str | Dialect) -> Dialect:
    if isinstance(dialect, str):
        if dialect == "auto":
            return get_dialect("unified")
        return get_dialect(dialect)
    return dialect


def _check_request(request: object) -> None:
    if not isinstance(request, VideoRequest):
        raise ValidationError(
            "request",
            f"expected a vg.VideoRequest, got {type(request).__name__}; "
            "build one with vg.VideoRequest(model=..., prompt=...)",
        )
