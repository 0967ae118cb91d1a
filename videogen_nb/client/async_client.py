"""``AsyncClient``: the public asynchronous client.

It is the one-task ``TaskClient`` plus the many-task methods of the run layer (``run``,
``compare``, ``resume``), which is why it lives above both.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ..core.errors import ValidationError
from ..core.loops import running_loop
from ..core.request import VideoRequest
from ..core.task import Result, Task
from ..dialects import Dialect
from ..http.retry import RetryPolicy
from ..run.lanes import DEFAULT_GATEWAY_CONCURRENCY, LaneSet
from ..run.lease import DEFAULT_STALE_AFTER, RunLease
from ..run.run import Run
from ..run.scheduler import PollScheduler
from ..run.sweep import build_sweep, check_spending
from ..store.journal import Journal
from ..tasks.polling import PollPolicy
from ..tasks.recorder import DEFAULT
from ..tasks.task_client import TaskClient
from .remix import remix_origin

__all__ = ["AsyncClient"]


class AsyncClient(TaskClient):
    """Asynchronous client for the unified video API.

    >>> async with vg.AsyncClient() as client:            # doctest: +SKIP
    ...     result = await client.generate(vg.VideoRequest(model="kling-v1", prompt="a boat"))
    ...     run = client.compare(prompt="a boat", models=["kling-v1", "sora-2"])
    ...     await run

    ``base_url``/``api_key`` default to ``VIDEOGEN_BASE_URL``/``VIDEOGEN_API_KEY``; the base
    URL may end in ``/v1`` or not. ``dialect`` is ``"auto"`` (unified first, then
    OpenAI-style ``/v1/videos``, then OpenRouter's ``/api/v1/videos``, as far as the
    gateway's submit routes answer 404), ``"unified"``, ``"openai"``, ``"kling"``,
    ``"openrouter"``, or a ``Dialect`` instance. ``journal`` is the task journal (a
    ``Journal``, a path, None for none; by default ``./videogen-runs/journal.sqlite``),
    ``output_dir`` where videos go. ``timeout`` bounds one HTTP call, ``task_timeout`` how
    long ``wait()`` follows a task; ``poll`` and ``retry`` tune polling and retries,
    ``max_download_bytes`` caps one video, ``verify_ssl=False`` accepts any certificate
    (test gateways only). ``allow_private_downloads=True`` lets a public gateway's video URLs
    point into private networks (default: ``VIDEOGEN_ALLOW_PRIVATE_DOWNLOADS``); link-local
    addresses such as the cloud metadata service are refused regardless.

    ``concurrency`` caps the tasks in flight at this gateway, ``model_concurrency`` per
    model (a number, or a mapping of model name to limit with ``"*"`` as the default; by
    default a model may use the whole gateway lane); both adapt down on 429 and back up as
    requests succeed. ``max_tasks`` is the spending guard:
    a run larger than it is refused unless raised explicitly.
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
        concurrency: int = DEFAULT_GATEWAY_CONCURRENCY,
        model_concurrency: int | Mapping[str, int] | None = None,
        max_tasks: int | None = None,
    ) -> None:
        # Spelled out (not **options) so Shift-Tab and type checkers see every parameter;
        # tests/test_client_twins.py checks they stay those of TaskClient.
        super().__init__(
            base_url,
            api_key,
            dialect=dialect,
            journal=journal,
            output_dir=output_dir,
            timeout=timeout,
            task_timeout=task_timeout,
            poll=poll,
            retry=retry,
            max_download_bytes=max_download_bytes,
            verify_ssl=verify_ssl,
            allow_private_downloads=allow_private_downloads,
        )
        self.lanes = LaneSet(gateway=concurrency, models=model_concurrency)
        self.max_tasks = max_tasks
        self._scheduler: PollScheduler | None = None
        self._loop = running_loop()

    @property
    def aclient(self) -> AsyncClient:
        """This client itself (the blocking ``Client`` answers with the one underneath), so
        callers that accept either kind reach the coroutines the same way."""
        return self

    @property
    def loop(self) -> asyncio.AbstractEventLoop | None:
        """The event loop this client works on: the one running where it was built or
        where it first started a run (None before either)."""
        return self._loop

    @property
    def scheduler(self) -> PollScheduler:
        """The one poll scheduler that follows every task of this client."""
        if self._scheduler is None:
            self._scheduler = PollScheduler(self, gateway_lane=self.lanes.gateway)
        return self._scheduler

    def run(
        self,
        requests: Iterable[VideoRequest],
        concurrency: int | None = None,
        *,
        force: bool = False,
        timeout: float | None = None,
        max_tasks: int | None = None,
        download: bool = True,
        cancel_on_timeout: bool = False,
        rows: str | Sequence[str] = "prompt",
        cols: str | Sequence[str] = "model",
        title: str | None = None,
    ) -> Run:
        """Start many requests at once and return a live ``Run`` immediately.

        Must be called where the client's loop runs (in a notebook cell, or a coroutine).
        ``concurrency`` narrows this client's gateway lane for all its runs from now on.
        """
        self._loop = self._loop or running_loop()
        request_list = list(requests)
        if not request_list:
            raise ValidationError("requests", "no requests given")
        check_spending(len(request_list), max_tasks if max_tasks is not None else self.max_tasks)
        if concurrency is not None:
            self._set_concurrency(concurrency)
        run = Run.from_requests(
            self,
            request_list,
            lanes=self.lanes,
            scheduler=self.scheduler,
            force=force,
            timeout=timeout,
            download=download,
            cancel_on_timeout=cancel_on_timeout,
            grid_rows=rows,
            grid_cols=cols,
            title=title,
        )
        return run.start()

    def compare(
        self,
        /,
        *,
        prompt: str | Sequence[str] | None = None,
        models: str | Sequence[str] | None = None,
        model: str | Sequence[str] | None = None,
        seed: int | Sequence[int] | None = None,
        concurrency: int | None = None,
        force: bool = False,
        timeout: float | None = None,
        max_tasks: int | None = None,
        title: str | None = None,
        **fields: Any,
    ) -> Run:
        """Every prompt x seed x model, shown as a grid: prompts down, models across.

        Other request fields (``duration``, ``size``, ``image``, ``metadata``...) apply to
        every request.
        """
        chosen = models if models is not None else model
        if chosen is None:
            raise ValidationError("models", "name the models to compare, e.g. models=['kling-v1']")
        requests = build_sweep(prompt=prompt, models=chosen, seed=seed, **fields)
        several_seeds = seed is not None and not isinstance(seed, int) and len(list(seed)) > 1
        return self.run(
            requests,
            concurrency,
            force=force,
            timeout=timeout,
            max_tasks=max_tasks,
            rows=("prompt", "seed") if several_seeds else "prompt",
            cols="model",
            title=title,
        )

    def resume(
        self, *, retry_unknown: bool = False, stale_after: float = DEFAULT_STALE_AFTER
    ) -> Run:
        """Finish every unfinished task the journal knows for this gateway (after a kernel
        restart or a crash): poll what was submitted, download what completed.

        Requests whose submit outcome is unknown are reported, not resent, unless
        ``retry_unknown=True`` (they are resent with their original Idempotency-Key).

        Only entries whose run is gone are taken: its lease was released, its process is
        dead (on this machine), or its heartbeat is older than ``stale_after`` seconds.
        Entries a live run still works on (in this process or another) are left to it and
        listed on ``run.skipped`` with the reason.
        """
        if self.journal is None:
            raise ValidationError("journal", "resume() needs the journal; it was disabled")
        if not stale_after > 0:
            raise ValidationError(
                "stale_after", f"must be a positive number of seconds, got {stale_after!r}"
            )
        self._loop = self._loop or running_loop()
        lease = RunLease(self.journal, uuid.uuid4().hex[:12])
        lease.open()  # before taking anything: what this run takes is held from then on
        try:
            entries, skipped = lease.claim(
                self.journal.unfinished(gateway=self.gateway), stale_after=stale_after
            )
            run = Run.from_entries(
                self,
                entries,
                lanes=self.lanes,
                scheduler=self.scheduler,
                title="resumed",
                run_id=lease.owner,
                lease=lease,
            )
            run.skipped = skipped
            run.start()
        except BaseException:
            lease.release()
            raise
        if retry_unknown:
            run.retry_unknown()
        return run

    def remix(
        self,
        origin: Result | Task | str,
        /,
        *,
        prompt: str,
        model: str | None = None,
        force: bool = False,
        timeout: float | None = None,
        download: bool = True,
        title: str | None = None,
        **fields: Any,
    ) -> Run:
        """A new video from a finished one and a new ``prompt``; returns a live ``Run``.

        ``origin`` is a completed ``Result`` or ``Task``, or a task id (one the journal
        knows as unfinished is refused). The gateway must have a remix call: OpenAI-style
        ``POST /v1/videos/{id}/remix`` (``dialect="openai"``: OpenAI, new-api, LiteLLM).
        Other dialects raise ``NotSupportedError`` before any request. ``model`` defaults to
        the origin's; other ``fields`` go in the request (``metadata``, ``extra_body``).
        The new task gets its own id; the journal records its origin as the request's
        ``remix_of``.

        >>> run = client.remix(result, prompt="the same boat, at night")  # doctest: +SKIP
        """
        found = remix_origin(origin, recorder=self.recorder, gateway=self.gateway)
        self._remix_dialect(found.task_id).check_remix()
        chosen = model or found.model
        if not chosen:
            raise ValidationError(
                "model", f"the journal does not know task {found.task_id}'s model; pass model=..."
            )
        request = VideoRequest(model=chosen, prompt=prompt, remix_of=found.task_id, **fields)
        return self.run(
            [request],
            force=force,
            timeout=timeout,
            download=download,
            title=title or f"remix of {found.task_id}",
        )

    def _remix_dialect(self, origin_id: str) -> Dialect:
        """The dialect a remix of ``origin_id`` is sent with: this client's. Under
        ``"auto"``, a gateway whose tasks were made through a dialect with a remix call
        (the origin's) has shown it serves that dialect, so the client adopts it."""
        used = self._tracking(origin_id).dialect
        if self._auto and used.supports_remix and not self._dialect.supports_remix:
            self._dialect = used
        return self._dialect

    def _set_concurrency(self, concurrency: int) -> None:
        if concurrency < 1:
            raise ValidationError("concurrency", f"must be at least 1, got {concurrency}")
        self.lanes.set_gateway_limit(concurrency)

    async def __aenter__(self) -> AsyncClient:
        return self
