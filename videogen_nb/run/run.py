"""``Run``: many requests in flight at once, one row each, results in request order.

A run starts at once and works on its client's event loop: each row waits for a place in
its lanes, submits, is followed by the client's poll scheduler, and downloads as soon as it
completes (vendor URLs expire). One failed row never stops the others. Listeners (the live
display) are called on the loop's thread whenever a row changes.

Over 500 lines on purpose: ``Run`` is the one object users hold and await; what can live
apart already does (``rows``, ``export``, ``lease``, ``spec_step``, ``scheduler``, ``lanes``).
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import contextlib
import functools
import logging
import pathlib
import time
import uuid
from collections.abc import Callable, Generator, Iterator, Sequence
from typing import Any

from ..core.errors import (
    APIError,
    BudgetExceededError,
    RateLimitError,
    SubmitOutcomeUnknownError,
    TaskFailedError,
    TaskTimeoutError,
    VideoGenError,
)
from ..core.loops import running_on
from ..core.request import VideoRequest
from ..core.task import Result, Task, TaskStatus
from ..store.catalog import WARNINGS_SHOWN_ELSEWHERE
from ..store.journal import JournalEntry
from ..tasks.task_client import TaskClient
from .budget import RunBudget
from .export import rows_dataframe, run_scores
from .lanes import Lane, LaneSet
from .lease import RunLease, SkippedEntry
from .plan import RunPlan
from .presenter import get_presenter
from .rows import RowState, RunRow, row_from_entry
from .scheduler import PollScheduler, poll_stats
from .spec_step import check_spec

__all__ = ["RowState", "Run", "RunRow"]

logger = logging.getLogger("videogen_nb")

#: 429s in a row on one submit before the row gives up
MAX_RATE_LIMITED_SUBMITS = 20
#: downloads at once per run (they are bandwidth-bound; more only thrashes)
DOWNLOAD_SLOTS = 4


class Run:
    """Many generations in flight; awaitable, and live in a notebook.

    Shown in a notebook cell, a run is a live table, then the comparison grid; ``await
    run`` (or ``run.wait()`` outside a running loop) waits for every row.

    >>> run = client.run(requests)  # doctest: +SKIP
    >>> await run  # doctest: +SKIP
    >>> run.results[0].path  # doctest: +SKIP
    """

    def __init__(
        self,
        client: TaskClient,
        rows: Sequence[RunRow],
        *,
        lanes: LaneSet,
        scheduler: PollScheduler,
        run_id: str | None = None,
        force: bool = False,
        timeout: float | None = None,
        download: bool = True,
        cancel_on_timeout: bool = False,
        spec_check: bool = True,
        grid_rows: str | Sequence[str] = "prompt",
        grid_cols: str | Sequence[str] = "model",
        title: str | None = None,
        lease: RunLease | None = None,
        plan: RunPlan | None = None,
        budget: RunBudget | None = None,
    ) -> None:
        self.run_id = run_id or uuid.uuid4().hex[:12]
        #: this run's hold on its journal entries (``run.lease``), renewed while it works
        self.lease = lease or RunLease(client.journal, self.run_id)
        #: unfinished entries a ``resume()`` left alone, with the reason (another run has them)
        self.skipped: list[SkippedEntry] = []
        self.rows = list(rows)
        self.title = title
        self.grid_rows = grid_rows
        self.grid_cols = grid_cols
        self._client = client
        self._lanes = lanes
        self._scheduler = scheduler
        self._force = force
        self._timeout = timeout if timeout is not None else client.task_timeout
        self._download = download
        self._cancel_on_timeout = cancel_on_timeout
        self._spec_check = spec_check
        self._listeners: list[Callable[[int | None], None]] = []
        self._row_tasks: dict[int, asyncio.Task[None]] = {}
        self._download_slots = asyncio.Semaphore(DOWNLOAD_SLOTS)
        self._done: concurrent.futures.Future[Run] = concurrent.futures.Future()
        self._loop: asyncio.AbstractEventLoop | None = None
        self.started_at = time.time()
        self.finished_at: float | None = None
        #: set by a live display that shows the catalog's warnings on each row: the rows
        #: then emit no Python warning (scripts, with no display, still get them)
        self.warnings_on_rows = False
        #: what the run was estimated to cost before it started (None for a resume)
        self.plan = plan
        #: the money guard (None without a ``max_cost``): refuses submits past the limit
        self.budget = budget

    # -- starting ---------------------------------------------------------------------------

    @classmethod
    def from_requests(
        cls, client: TaskClient, requests: Sequence[VideoRequest], **options: Any
    ) -> Run:
        """A run of fresh requests (not started)."""
        rows = [RunRow(index=i, request=req) for i, req in enumerate(requests)]
        return cls(client, rows, **options)

    @classmethod
    def from_entries(
        cls, client: TaskClient, entries: Sequence[JournalEntry], **options: Any
    ) -> Run:
        """A run that picks up unfinished journal entries (after a restart)."""
        rows = [row_from_entry(i, entry) for i, entry in enumerate(entries)]
        for row in rows:
            if row.task is not None and row.entry is not None:
                client.track_entry(row.entry)  # so it is polled with the dialect that made it
        return cls(client, rows, **options)

    def start(self) -> Run:
        """Begin work on the running loop (the client's loop). Returns self.

        Every request that is not served from the cache is journalled (state ``created``)
        before anything is sent, so a crash mid-run loses no request: ``resume()`` submits
        the ones that never left.
        """
        self._loop = asyncio.get_running_loop()
        if self.plan is not None:
            logger.info("run %s: %s", self.run_id, self.plan.line())
        unrecorded = [
            row
            for row in self.rows
            if row.task is None
            and row.entry is None
            and not row.state.is_finished
            and (self._force or not self._serve_from_cache(row))
        ]
        self._hold()
        entries = self._client.record_requests(
            [row.request for row in unrecorded], run_id=self.run_id, owner=self.lease.name
        )
        for row, entry in zip(unrecorded, entries, strict=True):
            row.entry = entry
        pending = [row for row in self.rows if not row.state.is_finished]
        if not pending:
            self._mark_done()
        for row in pending:
            self._launch(row)
        return self

    def _hold(self) -> None:
        """Hold the lease (again, after the run ended) while rows work."""
        assert self._loop is not None
        if not self.lease.held:
            self.lease.open()
        self.lease.start_heartbeat(self._loop)

    def _launch(self, row: RunRow) -> None:
        assert self._loop is not None
        self._hold()
        task = self._loop.create_task(self._drive(row))
        self._row_tasks[row.index] = task
        task.add_done_callback(functools.partial(self._row_finished, row.index))

    def _row_finished(self, index: int, _task: object = None) -> None:
        self._row_tasks.pop(index, None)
        if not self._row_tasks:
            self._mark_done()

    def _mark_done(self) -> None:
        self.lease.release()
        self.finished_at = time.time()
        if not self._done.done():
            self._done.set_result(self)
        self._notify(None)

    # -- one row ----------------------------------------------------------------------------

    async def _drive(self, row: RunRow) -> None:
        try:
            task = await self._task_of(row)
            if task is not None:
                await self._finish(row, task)
        except asyncio.CancelledError:
            # A request that never left must not be submitted by a later resume(): the
            # user cancelled it. A submitted one stays as it is, so resume() can finish it.
            if row.task is None:
                self._client.recorder.cancelled_unsent(row.entry_id)
            self._end(row, RowState.CANCELLED, VideoGenError("cancelled by run.cancel()"))
        except Exception as exc:
            await self._fail(row, exc)

    async def _task_of(self, row: RunRow) -> Task | None:
        """The row's task followed to its end (submitted first when it has none yet);
        None when the cache served the row."""
        if row.task is not None:
            return await self._follow(row, row.task)
        if row.entry is None and not self._force and self._serve_from_cache(row):
            return None
        async with self._lanes.slot(row.request.model) as lanes:
            task = await self._submit(row, lanes[-1])
            return await self._follow(row, task)

    async def _fail(self, row: RunRow, error: Exception) -> None:
        """End the row with the state that ``error`` means (one failed row never stops
        the others)."""
        if isinstance(error, SubmitOutcomeUnknownError):
            self._end(row, RowState.SUBMIT_UNKNOWN, error)
        elif isinstance(error, BudgetExceededError):
            # never sent: the journal entry ends cancelled, and both say why
            self._client.recorder.cancelled_unsent(
                row.entry_id, f"cancelled before it was sent: {error.message}"
            )
            self._end(row, RowState.CANCELLED, error)
        elif isinstance(error, TaskTimeoutError):
            if self._cancel_on_timeout:
                await self._cancel_remote(error.task)
            # after the cancel, whose answer the journal records too: the entry says why
            # the row ended (and resume() can still look at the task)
            self._client.recorder.timed_out(row.entry_id, error)
            self._end(row, RowState.TIMED_OUT, error)
        elif isinstance(error, TaskFailedError):
            cancelled = error.task.status is TaskStatus.CANCELLED
            self._end(row, RowState.CANCELLED if cancelled else RowState.FAILED, error)
        else:
            # A DownloadError leaves the journal entry "completed": the video exists
            # remotely and resume() can try the download again.
            if not isinstance(error, VideoGenError):
                logger.exception("unexpected error in row %d", row.index, exc_info=error)
            self._end(row, RowState.FAILED, error)

    def _serve_from_cache(self, row: RunRow) -> bool:
        cached = self._client.cached_result(row.request)
        if cached is None:
            return False
        row.task = cached.task
        row.result = cached
        self._end(row, RowState.DONE, None)
        return True

    async def _submit(self, row: RunRow, gateway_lane: Lane) -> Task:
        client = self._client
        # Read at submit (a display may attach after the run started); the row's asyncio
        # task has its own context, so no other code is affected.
        WARNINGS_SHOWN_ELSEWHERE.set(self.warnings_on_rows)
        if row.entry is None:
            row.entry = client.record_request(
                row.request, run_id=self.run_id, owner=self.lease.name
            )
        for _ in range(MAX_RATE_LIMITED_SUBMITS):
            await gateway_lane.wait_unpaused()
            # the money guard refuses here, before the POST (BudgetExceededError)
            guard = self.budget.sending(row.index, row.request) if self.budget else None
            self._set(row, RowState.SUBMITTING)
            try:
                with guard or contextlib.nullcontext():
                    task = await client.submit_entry(
                        row.request, row.entry, retry_rate_limits=False, owner=self.lease.name
                    )
            except RateLimitError as exc:
                pause = gateway_lane.rate_limited(exc.retry_after)
                row.note = f"rate limited by the gateway; whole lane paused {pause:.0f} s"
                self._set(row, RowState.WAITING)
                continue
            gateway_lane.succeeded()
            row.note = None
            row.submitted_at = time.time()
            return task
        raise RateLimitError(
            f"still rate limited after {MAX_RATE_LIMITED_SUBMITS} tries", status_code=429
        )

    async def _follow(self, row: RunRow, task: Task) -> Task:
        self._apply(row, task)
        if task.status.is_terminal:
            return task

        def on_update(fresh: Task) -> None:
            self._apply(row, fresh)

        return await self._scheduler.follow(
            task,
            submitted_at=row.submitted_at,
            timeout=self._timeout,
            on_update=on_update,
            model=row.request.model,
        )

    async def _finish(self, row: RunRow, task: Task) -> None:
        self._apply(row, task)
        if task.status is not TaskStatus.COMPLETED:
            raise TaskFailedError(task)
        path = None
        spec = None
        if self._download:
            self._set(row, RowState.DOWNLOADING)
            async with self._download_slots:
                path = await self._client.download(task)
            spec = await self._check_spec(row, path)
        row.result = Result(
            request=row.request,
            task=task,
            path=path,
            elapsed=row.elapsed,
            journal_id=row.entry_id,
            spec=spec,
        )
        self._end(row, RowState.DONE, None)

    async def _check_spec(self, row: RunRow, path: pathlib.Path) -> dict[str, Any] | None:
        """The video measured against its request (never fails a row); None when off."""
        if not self._spec_check:
            return None
        return await check_spec(self._client.recorder, row.entry_id, row.request, path)

    async def _cancel_remote(self, task: Task) -> None:
        try:
            await self._client.cancel(task)
        except (APIError, VideoGenError) as exc:
            logger.info("remote cancel of %s failed: %s", task.id, exc)

    # -- row bookkeeping --------------------------------------------------------------------

    def _apply(self, row: RunRow, task: Task) -> None:
        row.task = task
        if self.budget is not None:
            self.budget.observe(row.index, task)
        state = {
            TaskStatus.QUEUED: RowState.QUEUED,
            TaskStatus.IN_PROGRESS: RowState.IN_PROGRESS,
        }.get(task.status, row.state)
        self._set(row, state)

    def _set(self, row: RunRow, state: RowState) -> None:
        row.state = state
        self._notify(row.index)

    def _end(self, row: RunRow, state: RowState, error: BaseException | None) -> None:
        row.error = error
        row.finished_at = time.time()
        if error is not None:
            row.result = row.result_now()
        self._set(row, state)

    def add_listener(self, listener: Callable[[int | None], None]) -> None:
        """Call ``listener(row_index)`` on the loop thread whenever a row changes, and
        ``listener(None)`` when the whole run has finished."""
        self._listeners.append(listener)

    def remove_listener(self, listener: Callable[[int | None], None]) -> None:
        """Stop calling ``listener``."""
        if listener in self._listeners:
            self._listeners.remove(listener)

    def _notify(self, index: int | None) -> None:
        for listener in list(self._listeners):
            try:
                listener(index)
            except Exception:  # a display bug must never stop the run
                logger.exception("run listener failed")

    # -- public face ------------------------------------------------------------------------

    @property
    def requests(self) -> list[VideoRequest]:
        """The requests, in order."""
        return [row.request for row in self.rows]

    @property
    def results(self) -> list[Result]:
        """One ``Result`` per request, in request order (unfinished rows show their state)."""
        return [row.snapshot() for row in self.rows]

    @property
    def counts(self) -> dict[str, int]:
        """How many rows are in each state, plus ``total``; safe to read at any time."""
        counter = collections.Counter(row.state.value for row in self.rows)
        counts = {state.value: counter.get(state.value, 0) for state in RowState}
        counts["total"] = len(self.rows)
        return counts

    @property
    def done(self) -> bool:
        """True when every row has finished."""
        return self._done.done()

    @property
    def client(self) -> TaskClient:
        """The client the run works through."""
        return self._client

    @property
    def loop(self) -> asyncio.AbstractEventLoop | None:
        """The event loop the run works on (None before it starts)."""
        return self._loop

    def show(self, view: str = "both", **options: Any) -> Any:
        """Display the run live with a chosen view: ``"table"``, ``"grid"`` or ``"both"``."""
        presenter = get_presenter()
        if presenter is None:  # pragma: no cover - the package always installs one
            print(repr(self))
            return None
        return presenter.display(self, view=view, **options)

    def wait(self, timeout: float | None = None) -> Run:
        """Block until every row has finished (from a thread other than the run's loop).

        In a notebook cell with ``vg.Client`` this works as is; with ``AsyncClient`` inside
        a running loop use ``await run``.
        """
        if running_on(self._loop):
            raise RuntimeError(
                "run.wait() would block the event loop the run works on; use `await run`"
            )
        self._done.result(timeout)
        return self

    def __await__(self) -> Generator[Any, None, Run]:
        return self._wait_async().__await__()

    async def _wait_async(self) -> Run:
        # wrap_future works from the run's own loop and from any other loop (a notebook
        # awaiting a run that works on vg.Client's background loop).
        await asyncio.wrap_future(self._done)
        return self

    def cancel(self, *, remote: bool = False) -> None:
        """Stop every unfinished row. Tasks already submitted keep running remotely (and stay
        in the journal for ``resume()``) unless ``remote=True`` asks the gateway to cancel."""
        loop = self._loop
        if loop is None:
            return
        if running_on(loop):
            self._cancel_now(remote)
        else:
            asyncio.run_coroutine_threadsafe(self._cancel_async(remote), loop).result()

    async def _cancel_async(self, remote: bool) -> None:
        self._cancel_now(remote)

    def _cancel_now(self, remote: bool) -> None:
        for index, task in list(self._row_tasks.items()):
            row = self.rows[index]
            if remote and row.task is not None and not row.task.status.is_terminal:
                asyncio.get_running_loop().create_task(self._cancel_remote(row.task))
            task.cancel()

    def stop(self) -> int:
        """Cancel the rows the gateway has not accepted yet (still waiting to submit); rows
        already submitted (or submitting) are followed and downloaded as usual, since they
        are billed anyway. Returns how many rows were stopped."""
        return self._on_loop(self._stop_now)

    def _stop_now(self) -> int:
        unsent = [
            task
            for index, task in list(self._row_tasks.items())
            if self.rows[index].task is None and self.rows[index].state is RowState.WAITING
        ]
        for task in unsent:
            task.cancel()
        return len(unsent)

    def retry(self, index: int) -> bool:
        """Submit row ``index`` again as a new task when it ended without a video (failed,
        timed out, cancelled); False when the row is not in such a state."""
        return self._on_loop(functools.partial(self._retry_now, index))

    def _retry_now(self, index: int) -> bool:
        row = self.rows[index]
        if not row.state.is_finished or row.state is RowState.DONE:
            return False
        if self._done.done():
            self._done = concurrent.futures.Future()
            self.finished_at = None
        row.entry, row.task, row.error, row.result = None, None, None, None
        row.submitted_at = row.finished_at = None
        self._set(row, RowState.WAITING)
        self._launch(row)
        return True

    def _on_loop(self, work: Callable[[], Any]) -> Any:
        loop = self._loop
        if loop is None:
            raise RuntimeError("the run has not started")
        if running_on(loop):
            return work()

        async def call() -> Any:
            return work()

        return asyncio.run_coroutine_threadsafe(call(), loop).result()

    def retry_unknown(self) -> int:
        """Resubmit the rows whose submit outcome is unknown, with their original
        Idempotency-Key (a gateway that honours it returns the task it already made).
        Returns how many rows were resubmitted."""
        loop = self._loop
        if loop is None:
            raise RuntimeError("the run has not started")
        if running_on(loop):
            return self._retry_unknown_now()
        return asyncio.run_coroutine_threadsafe(self._retry_unknown_async(), loop).result()

    async def _retry_unknown_async(self) -> int:
        return self._retry_unknown_now()

    def _retry_unknown_now(self) -> int:
        # resend only what no other run's resume() took over since this run ended
        unknown = [row for row in self.rows if row.state is RowState.SUBMIT_UNKNOWN]
        held = self.lease.holds([row.entry_id for row in unknown if row.entry_id is not None])
        rows = [row for row in unknown if row.entry_id is None or row.entry_id in held]
        if rows and self._done.done():
            self._done = concurrent.futures.Future()
            self.finished_at = None
        for row in rows:
            row.error = None
            row.result = None
            row.finished_at = None
            self._set(row, RowState.WAITING)
            self._launch(row)
        return len(rows)

    def scores(self) -> dict[str, dict[str, float]]:
        """Per-model blind-vote win rates of this run (from the journal's votes)."""
        return run_scores(self._client.journal, self.run_id)

    def poll_stats(self) -> list[dict[str, Any]]:
        """Per row: the status GETs spent, the lag bound and which estimate drove each delay."""
        return poll_stats(
            self._scheduler.traces, [row.task.id if row.task else None for row in self.rows]
        )

    def to_dataframe(self) -> Any:
        """The rows as a pandas DataFrame (needs pandas)."""
        return rows_dataframe(self.rows)

    def to_html(
        self, path: str | pathlib.Path, *, embed: bool = True, **options: Any
    ) -> pathlib.Path:
        """Write one self-contained HTML report with the comparison grid (videos embedded,
        or linked by relative path with ``embed=False``)."""
        presenter = get_presenter()
        if presenter is None:  # pragma: no cover - the package always installs one
            raise RuntimeError("the display layer is not loaded; import videogen_nb")
        return presenter.write_html(self, pathlib.Path(path), embed=embed, **options)

    def _ipython_display_(self) -> None:
        presenter = get_presenter()
        if presenter is None:  # pragma: no cover
            print(repr(self))
            return
        presenter.display(self)

    def __repr__(self) -> str:
        counts = self.counts
        parts = [f"{n} {state}" for state, n in counts.items() if n and state != "total"]
        return f"Run({counts['total']} tasks: {', '.join(parts) or 'none'})"

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[Result]:
        return iter(self.results)

    def __getitem__(self, index: int) -> Result:
        return self.rows[index].snapshot()
