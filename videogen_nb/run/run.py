"""``Run``: many requests in flight at once, one row each, results in request order.

A run starts at once and works on its client's event loop: each row waits for a place in
its lanes, submits, is followed by the client's poll scheduler, and downloads as soon as it
completes (vendor URLs expire). One failed row never stops the others. Listeners (the live
display) are called on the loop's thread whenever a row changes.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import enum
import logging
import pathlib
import time
import uuid
from collections.abc import Callable, Generator, Iterator, Sequence
from typing import Any

import attrs

from ..core.errors import (
    APIError,
    DownloadError,
    RateLimitError,
    SubmitOutcomeUnknownError,
    TaskFailedError,
    TaskTimeoutError,
    VideoGenError,
)
from ..core.request import VideoRequest
from ..core.task import Result, Task, TaskStatus
from ..store.journal import JournalEntry
from ..tasks.task_client import TaskClient
from .lanes import Lane, LaneSet
from .presenter import get_presenter
from .scheduler import PollScheduler

__all__ = ["RowState", "Run", "RunRow"]

logger = logging.getLogger("videogen_nb")

#: 429s in a row on one submit before the row gives up
MAX_RATE_LIMITED_SUBMITS = 20
#: downloads at once per run (they are bandwidth-bound; more only thrashes)
DOWNLOAD_SLOTS = 4


class RowState(str, enum.Enum):
    """Where one row of a run stands, as the live table shows it."""

    WAITING = "waiting"
    SUBMITTING = "submitting"
    QUEUED = "queued"
    IN_PROGRESS = "in_progress"
    DOWNLOADING = "downloading"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"
    TIMED_OUT = "timed_out"
    SUBMIT_UNKNOWN = "submit_unknown"

    @property
    def is_finished(self) -> bool:
        """True when the row will not change any more in this run."""
        return self in _FINISHED


_FINISHED = frozenset(
    {RowState.DONE, RowState.FAILED, RowState.CANCELLED, RowState.TIMED_OUT, RowState.SUBMIT_UNKNOWN}
)


@attrs.define(kw_only=True, eq=False)
class RunRow:
    """One request of a run and what has become of it so far (mutated on the loop thread)."""

    index: int
    request: VideoRequest
    state: RowState = RowState.WAITING
    task: Task | None = None
    result: Result | None = None
    error: BaseException | None = None
    note: str | None = None
    entry: JournalEntry | None = None
    submitted_at: float | None = None  # epoch seconds
    finished_at: float | None = None  # epoch seconds

    @property
    def progress(self) -> int | None:
        """The task's progress 0-100 (100 once downloaded)."""
        if self.state is RowState.DONE:
            return 100
        return self.task.progress if self.task is not None else None

    @property
    def elapsed(self) -> float | None:
        """Seconds since submit (until the row finished)."""
        if self.submitted_at is None:
            return None
        end = self.finished_at if self.finished_at is not None else time.time()
        return max(0.0, end - self.submitted_at)

    @property
    def eta(self) -> float | None:
        """Seconds left, estimated from the reported progress (None when unknown)."""
        progress, elapsed = self.progress, self.elapsed
        if self.state.is_finished or not progress or progress >= 100 or not elapsed:
            return None
        return elapsed * (100 - progress) / progress

    def snapshot(self) -> Result:
        """This row as a ``Result`` (final once the row is finished)."""
        if self.result is not None:
            return self.result
        return self.result_now()

    def result_now(self) -> Result:
        """A ``Result`` built from what the row holds now: request, last task, error."""
        return Result(
            request=self.request,
            task=self.task,
            error=self.error,
            elapsed=self.elapsed,
            journal_id=self.entry.id if self.entry is not None else None,
        )


class Run:
    """Many generations in flight; awaitable, and live in a notebook.

    >>> run = client.run(requests)          # doctest: +SKIP
    >>> run                                 # live table, then the comparison grid
    >>> await run                           # or run.wait() outside a running loop
    >>> run.results[0].path
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
    ) -> None:
        self.run_id = run_id or uuid.uuid4().hex[:12]
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
        rows = []
        for i, entry in enumerate(entries):
            row = RunRow(index=i, request=entry.request_obj(), entry=entry)
            row.submitted_at = entry.submitted_at
            if entry.state in ("sending", "submit_unknown"):
                # The POST went out but its answer never came back: the gateway may have
                # created (and billed) the task. Only the user may decide to send it again.
                row.state = RowState.SUBMIT_UNKNOWN
                row.error = SubmitOutcomeUnknownError(
                    "the process stopped while this request was being submitted, so the "
                    "gateway may have created the task; run.retry_unknown() resubmits it with "
                    "the same Idempotency-Key"
                )
            elif entry.task_id:
                client.track_entry(entry)
                status = TaskStatus.COMPLETED if entry.state == "completed" else TaskStatus.QUEUED
                row.task = Task(
                    id=entry.task_id,
                    status=status,
                    progress=entry.progress,
                    video_url=entry.video_url,
                    model=entry.model,
                )
            rows.append(row)
        return cls(client, rows, **options)

    def start(self) -> Run:
        """Begin work on the running loop (the client's loop). Returns self.

        Every request that is not served from the cache is journalled (state ``created``)
        before anything is sent, so a crash mid-run loses no request: ``resume()`` submits
        the ones that never left.
        """
        self._loop = asyncio.get_running_loop()
        unrecorded = [
            row
            for row in self.rows
            if row.task is None
            and row.entry is None
            and not row.state.is_finished
            and (self._force or not self._serve_from_cache(row))
        ]
        entries = self._client.record_requests(
            [row.request for row in unrecorded], run_id=self.run_id
        )
        for row, entry in zip(unrecorded, entries, strict=True):
            row.entry = entry
        pending = [row for row in self.rows if not row.state.is_finished]
        if not pending:
            self._mark_done()
        for row in pending:
            self._launch(row)
        return self

    def _launch(self, row: RunRow) -> None:
        assert self._loop is not None
        task = self._loop.create_task(self._drive(row))
        self._row_tasks[row.index] = task
        task.add_done_callback(lambda _t, index=row.index: self._row_finished(index))

    def _row_finished(self, index: int) -> None:
        self._row_tasks.pop(index, None)
        if not self._row_tasks:
            self._mark_done()

    def _mark_done(self) -> None:
        self.finished_at = time.time()
        if not self._done.done():
            self._done.set_result(self)
        self._notify(None)

    # -- one row ----------------------------------------------------------------------------

    async def _drive(self, row: RunRow) -> None:
        client = self._client
        try:
            if row.task is None:
                if row.entry is None and not self._force and self._serve_from_cache(row):
                    return
                async with self._lanes.slot(row.request.model) as lanes:
                    task = await self._submit(row, lanes[-1])
                    task = await self._follow(row, task)
            else:
                task = await self._follow(row, row.task)
            await self._finish(row, task)
        except asyncio.CancelledError:
            self._forget_unsent(row)
            self._end(row, RowState.CANCELLED, VideoGenError("cancelled by run.cancel()"))
        except SubmitOutcomeUnknownError as exc:
            self._end(row, RowState.SUBMIT_UNKNOWN, exc)
        except TaskTimeoutError as exc:
            if self._cancel_on_timeout:
                await self._cancel_remote(exc.task)
            # after the cancel, whose answer the journal records too: the entry says why
            # the row ended (and resume() can still look at the task)
            client.record_failure(exc.task.id, _entry_id(row), exc, state="timed_out")
            self._end(row, RowState.TIMED_OUT, exc)
        except TaskFailedError as exc:
            state = (
                RowState.CANCELLED if exc.task.status is TaskStatus.CANCELLED else RowState.FAILED
            )
            self._end(row, state, exc)
        except DownloadError as exc:
            # The video exists remotely; the journal keeps the entry "completed" so that
            # resume() can try the download again.
            self._end(row, RowState.FAILED, exc)
        except Exception as exc:
            if not isinstance(exc, VideoGenError):
                logger.exception("unexpected error in row %d", row.index)
            self._end(row, RowState.FAILED, exc)

    def _forget_unsent(self, row: RunRow) -> None:
        # A request that never left must not be submitted by a later resume(): the user
        # cancelled it. One whose POST was under way stays "sending" (it may exist remotely)
        # and a submitted one stays "submitted", so resume() can still finish it.
        journal = self._client.journal
        if row.task is not None or row.entry is None or journal is None:
            return
        current = journal.get(row.entry.id)
        if current is not None and current.state == "created":
            journal.record_error(row.entry.id, "cancelled before it was sent", state="cancelled")

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
        if row.entry is None:
            row.entry = client.record_request(row.request, run_id=self.run_id)
        for _ in range(MAX_RATE_LIMITED_SUBMITS):
            await gateway_lane.wait_unpaused()
            self._set(row, RowState.SUBMITTING)
            try:
                task = await client.submit_entry(row.request, row.entry, retry_rate_limits=False)
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
            task, submitted_at=row.submitted_at, timeout=self._timeout, on_update=on_update
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
            journal_id=_entry_id(row),
            spec=spec,
        )
        self._end(row, RowState.DONE, None)

    async def _check_spec(self, row: RunRow, path: pathlib.Path) -> dict[str, Any] | None:
        """Measure the video against its request (PyAV, off the loop); None when the check
        is unavailable or breaks. A spec check never fails a row: the video is there."""
        if not self._spec_check:
            return None
        try:
            from ..insight import check_video, spec_check_available

            if not spec_check_available():
                return None
            loop = asyncio.get_running_loop()
            report = await loop.run_in_executor(None, check_video, path, row.request)
            spec: dict[str, Any] = report.to_dict()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            logger.info("spec check of %s failed: %s", path.name, exc)
            return None
        journal = self._client.journal
        if journal is not None and row.entry is not None:
            try:
                journal.record_spec(row.entry.id, spec)
            except Exception as exc:
                logger.info("could not store the spec check of %s: %s", path.name, exc)
        return spec

    async def _cancel_remote(self, task: Task) -> None:
        try:
            await self._client.cancel(task)
        except (APIError, VideoGenError) as exc:
            logger.info("remote cancel of %s failed: %s", task.id, exc)

    # -- row bookkeeping --------------------------------------------------------------------

    def _apply(self, row: RunRow, task: Task) -> None:
        row.task = task
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
        if self._loop is not None and _on_loop_thread(self._loop):
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
        if _on_loop_thread(loop):
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

    def retry_unknown(self) -> int:
        """Resubmit the rows whose submit outcome is unknown, with their original
        Idempotency-Key (a gateway that honours it returns the task it already made).
        Returns how many rows were resubmitted."""
        loop = self._loop
        if loop is None:
            raise RuntimeError("the run has not started")
        if _on_loop_thread(loop):
            return self._retry_unknown_now()
        return asyncio.run_coroutine_threadsafe(self._retry_unknown_async(), loop).result()

    async def _retry_unknown_async(self) -> int:
        return self._retry_unknown_now()

    def _retry_unknown_now(self) -> int:
        rows = [row for row in self.rows if row.state is RowState.SUBMIT_UNKNOWN]
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
        from ..core.scoring import win_rates

        journal = self._client.journal
        votes = journal.votes(run_id=self.run_id) if journal is not None else []
        return win_rates(votes)

    def to_dataframe(self) -> Any:
        """The rows as a pandas DataFrame (needs pandas)."""
        try:
            import pandas as pd
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError("run.to_dataframe() needs pandas: pip install pandas") from exc
        records = []
        for row in self.rows:
            result = row.snapshot()
            req = row.request
            record: dict[str, Any] = {
                "index": row.index,
                "model": req.model,
                "prompt": req.prompt,
                "seed": req.seed,
                "duration": req.duration if req.duration is not None else req.seconds,
                "size": req.size or req.aspect_ratio,
                "state": row.state.value,
                "task_id": row.task.id if row.task is not None else None,
                "progress": row.progress,
                "elapsed": row.elapsed,
                "cached": result.cached,
                "path": str(result.path) if result.path is not None else None,
                "error": str(row.error) if row.error is not None else None,
            }
            spec = result.spec
            if isinstance(spec, dict):
                for key, value in (spec.get("measured") or {}).items():
                    record[f"measured_{key}"] = value
                record["spec_ok"] = not spec.get("findings")
                record["spec_findings"] = "; ".join(spec.get("findings") or [])
            records.append(record)
        return pd.DataFrame.from_records(records)

    def to_html(self, path: str | pathlib.Path, *, embed: bool = True, **options: Any) -> pathlib.Path:
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


def _entry_id(row: RunRow) -> int | None:
    return row.entry.id if row.entry is not None else None


def _on_loop_thread(loop: asyncio.AbstractEventLoop) -> bool:
    # All code on a loop's thread runs inside that running loop, so this is exact.
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False
