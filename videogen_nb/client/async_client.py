"""``AsyncClient``: the public asynchronous client.

It is the one-task ``TaskClient`` plus the many-task methods of the run layer (``run``,
``compare``, ``resume``), which is why it lives above both.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal, overload

from ..core.errors import ValidationError
from ..core.loops import running_loop
from ..core.request import VideoRequest
from ..core.task import Result, Task
from ..dialects import Dialect
from ..http.retry import RetryPolicy
from ..run.budget import (
    Limit,
    RunBudget,
    check_launch,
    check_max_cost,
    client_spent,
    effective_limit,
)
from ..run.lanes import DEFAULT_GATEWAY_CONCURRENCY, LaneSet
from ..run.lease import DEFAULT_STALE_AFTER, RunLease
from ..run.plan import RunPlan, plan_requests
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
    requests succeed. ``max_tasks`` is the spending guard in tasks:
    a run larger than it is refused unless raised explicitly. ``max_cost`` is the guard in
    money (the price table's currency, USD by default): what this client may spend in all,
    counted from the journal (reported costs, plus estimates for tasks that reported
    nothing) since the client was made; ``client.max_cost = ...`` changes it. A run whose
    estimate is over what is left is refused before anything is sent, and a run stops
    sending once its costs reach the limit (what the gateway accepted is still followed and
    downloaded). ``client.plan(requests)`` shows what a run would cost.
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
        max_cost: float | None = None,
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
        self._max_cost = check_max_cost(max_cost)
        self._created_at = time.time()
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

    @property
    def max_cost(self) -> float | None:
        """What this client may spend in all (None: no limit); settable, also while runs
        work (each submit reads it). See ``spent``."""
        return self._max_cost

    @max_cost.setter
    def max_cost(self, value: float | None) -> None:
        self._max_cost = check_max_cost(value, "client.max_cost")

    @property
    def spent(self) -> float:
        """What this client has spent since it was made: the journal's reported costs plus
        estimates for sent tasks that reported nothing (what ``max_cost`` is checked against)."""
        return client_spent(self.journal, gateway=self.gateway, since=self._created_at)

    def plan(
        self,
        requests: Iterable[VideoRequest],
        *,
        max_cost: float | None = None,
        force: bool = False,
    ) -> RunPlan:
        """What ``run(requests)`` would send and cost, without sending anything: the task
        count, the estimated total from ``vg.prices`` (with its range when lengths are left
        open, and how many tasks have no known price), per model, and the limit it would run
        under (``max_cost`` for the run, or what is left of the client's). Requests the
        journal would serve are counted free unless ``force=True``.

        >>> client.plan(vg.build_sweep(prompt="a boat", models=["kling-v1"]))  # doctest: +SKIP
        RunPlan(1 task, estimated ~$0.35; limit $5.00 (this run's max_cost=5))
        """
        return self._plan(list(requests), max_cost=max_cost, force=force)[0]

    def _plan(
        self, requests: Sequence[VideoRequest], *, max_cost: float | None, force: bool
    ) -> tuple[RunPlan, Limit]:
        run_max_cost = check_max_cost(max_cost)
        client_max_cost = self.max_cost
        spent = self.spent if client_max_cost is not None else 0.0
        limit = effective_limit(
            run_max_cost=run_max_cost, client_max_cost=client_max_cost, spent=spent
        )

        def is_cached(request: VideoRequest) -> bool:
            return not force and self.cached_result(request) is not None

        plan = plan_requests(requests, is_cached=is_cached)
        return plan.with_limit(limit.amount, spent, limit.source(plan.currency)), limit

    @overload
    def run(
        self,
        requests: Iterable[VideoRequest],
        concurrency: int | None = ...,
        *,
        force: bool = ...,
        timeout: float | None = ...,
        max_tasks: int | None = ...,
        max_cost: float | None = ...,
        dry_run: Literal[False] = ...,
        download: bool = ...,
        cancel_on_timeout: bool = ...,
        rows: str | Sequence[str] = ...,
        cols: str | Sequence[str] = ...,
        title: str | None = ...,
    ) -> Run: ...

    @overload
    def run(
        self,
        requests: Iterable[VideoRequest],
        concurrency: int | None = ...,
        *,
        force: bool = ...,
        timeout: float | None = ...,
        max_tasks: int | None = ...,
        max_cost: float | None = ...,
        dry_run: Literal[True],
        download: bool = ...,
        cancel_on_timeout: bool = ...,
        rows: str | Sequence[str] = ...,
        cols: str | Sequence[str] = ...,
        title: str | None = ...,
    ) -> RunPlan: ...

    def run(
        self,
        requests: Iterable[VideoRequest],
        concurrency: int | None = None,
        *,
        force: bool = False,
        timeout: float | None = None,
        max_tasks: int | None = None,
        max_cost: float | None = None,
        dry_run: bool = False,
        download: bool = True,
        cancel_on_timeout: bool = False,
        rows: str | Sequence[str] = "prompt",
        cols: str | Sequence[str] = "model",
        title: str | None = None,
    ) -> Run | RunPlan:
        """Start many requests at once and return a live ``Run`` immediately.

        Must be called where the client's loop runs (in a notebook cell, or a coroutine).
        ``concurrency`` narrows this client's gateway lane for all its runs from now on.

        ``max_cost`` caps what this run may spend (and the client's ``max_cost`` what all
        its runs may): a run estimated above the limit raises ``BudgetExceededError``
        before anything is sent, and once reported costs (or estimates, for accepted tasks
        that reported nothing yet) reach it, the rows not yet sent end cancelled with the
        reason. ``dry_run=True`` sends nothing and returns the ``RunPlan`` (see ``plan``).
        """
        self._loop = self._loop or running_loop()
        request_list = list(requests)
        if not request_list:
            raise ValidationError("requests", "no requests given")
        plan, limit = self._plan(request_list, max_cost=max_cost, force=force)
        if dry_run:
            return plan
        check_spending(len(request_list), max_tasks if max_tasks is not None else self.max_tasks)
        check_launch(plan, limit)
        if concurrency is not None:
            self._set_concurrency(concurrency)
        budget = RunBudget(
            run_max_cost=check_max_cost(max_cost),
            client=self,
            currency=plan.currency,
            journal=self.journal is not None,
        )
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
            plan=plan,
            budget=budget,
        )
        return run.start()

    @overload
    def compare(
        self,
        /,
        *,
        prompt: str | Sequence[str] | None = ...,
        models: str | Sequence[str] | None = ...,
        model: str | Sequence[str] | None = ...,
        seed: int | Sequence[int] | None = ...,
        concurrency: int | None = ...,
        force: bool = ...,
        timeout: float | None = ...,
        max_tasks: int | None = ...,
        max_cost: float | None = ...,
        dry_run: Literal[False] = ...,
        title: str | None = ...,
        **fields: Any,
    ) -> Run: ...

    @overload
    def compare(
        self,
        /,
        *,
        prompt: str | Sequence[str] | None = ...,
        models: str | Sequence[str] | None = ...,
        model: str | Sequence[str] | None = ...,
        seed: int | Sequence[int] | None = ...,
        concurrency: int | None = ...,
        force: bool = ...,
        timeout: float | None = ...,
        max_tasks: int | None = ...,
        max_cost: float | None = ...,
        dry_run: Literal[True],
        title: str | None = ...,
        **fields: Any,
    ) -> RunPlan: ...

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
        max_cost: float | None = None,
        dry_run: bool = False,
        title: str | None = None,
        **fields: Any,
    ) -> Run | RunPlan:
        """Every prompt x seed x model, shown as a grid: prompts down, models across.

        Other request fields (``duration``, ``size``, ``image``, ``metadata``...) apply to
        every request. ``max_cost`` and ``dry_run=True`` work as in ``run``.
        """
        chosen = models if models is not None else model
        if chosen is None:
            raise ValidationError("models", "name the models to compare, e.g. models=['kling-v1']")
        requests = build_sweep(prompt=prompt, models=chosen, seed=seed, **fields)
        several_seeds = seed is not None and not isinstance(seed, int) and len(list(seed)) > 1
        if dry_run:
            return self.plan(requests, max_cost=max_cost, force=force)
        return self.run(
            requests,
            concurrency,
            force=force,
            timeout=timeout,
            max_tasks=max_tasks,
            max_cost=max_cost,
            rows=("prompt", "seed") if several_seeds else "prompt",
            cols="model",
            title=title,
        )

    async def generate(
        self,
        request: VideoRequest,
        *,
        force: bool = False,
        timeout: float | None = None,
        dest: str | os.PathLike[str] | None = None,
        max_cost: float | None = None,
    ) -> Result:
        """Submit, wait and download in one call; an identical finished request is served
        from the journal without any HTTP call unless ``force=True``.

        ``max_cost`` (and the client's ``max_cost``) is checked against the request's
        estimate before anything is sent (``BudgetExceededError``). Raises the error that
        stopped it (``TaskFailedError``, ``TaskTimeoutError``, an ``APIError``, ...);
        ``run()`` collects failures as results instead.
        """
        check_launch(*self._plan([request], max_cost=max_cost, force=force))
        return await super().generate(request, force=force, timeout=timeout, dest=dest)

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
