"""``AsyncClient``: the public asynchronous client.

It is the one-task ``TaskClient`` plus the many-task methods of the run layer (``run``,
``compare``, ``resume``), which is why it lives above both.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ..core.errors import ValidationError
from ..core.loops import running_loop
from ..core.request import VideoRequest
from ..dialects import Dialect
from ..http.retry import RetryPolicy
from ..run.lanes import DEFAULT_GATEWAY_CONCURRENCY, LaneSet
from ..run.run import Run
from ..run.scheduler import PollScheduler
from ..run.sweep import build_sweep, check_spending
from ..store.journal import Journal
from ..tasks.polling import PollPolicy
from ..tasks.recorder import DEFAULT
from ..tasks.task_client import TaskClient

__all__ = ["AsyncClient"]


class AsyncClient(TaskClient):
    """Asynchronous client for the unified video API.

    >>> async with vg.AsyncClient() as client:            # doctest: +SKIP
    ...     result = await client.generate(vg.VideoRequest(model="kling-v1", prompt="a boat"))
    ...     run = client.compare(prompt="a boat", models=["kling-v1", "sora-2"])
    ...     await run

    ``base_url``/``api_key`` default to ``VIDEOGEN_BASE_URL``/``VIDEOGEN_API_KEY``; the base
    URL may end in ``/v1`` or not. ``dialect`` is ``"auto"`` (unified first, OpenAI-style
    ``/v1/videos`` when the gateway turns out to serve only that), ``"unified"``,
    ``"openai"``, ``"kling"``, or a ``Dialect`` instance. ``journal`` is the task journal (a
    ``Journal``, a path, None for none; by default ``./videogen-runs/journal.sqlite``),
    ``output_dir`` where videos go. ``timeout`` bounds one HTTP call, ``task_timeout`` how
    long ``wait()`` follows a task; ``poll`` and ``retry`` tune polling and retries,
    ``max_download_bytes`` caps one video, ``verify_ssl=False`` accepts any certificate
    (test gateways only).

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

    def resume(self, *, retry_unknown: bool = False) -> Run:
        """Finish every unfinished task the journal knows for this gateway (after a kernel
        restart or a crash): poll what was submitted, download what completed.

        Requests whose submit outcome is unknown are reported, not resent, unless
        ``retry_unknown=True`` (they are resent with their original Idempotency-Key).
        """
        if self.journal is None:
            raise ValidationError("journal", "resume() needs the journal; it was disabled")
        entries = self.journal.unfinished(gateway=self.gateway)
        run = Run.from_entries(
            self, entries, lanes=self.lanes, scheduler=self.scheduler, title="resumed"
        ).start()
        if retry_unknown:
            run.retry_unknown()
        return run

    def _set_concurrency(self, concurrency: int) -> None:
        if concurrency < 1:
            raise ValidationError("concurrency", f"must be at least 1, got {concurrency}")
        self.lanes.set_gateway_limit(concurrency)

    async def __aenter__(self) -> AsyncClient:
        return self
