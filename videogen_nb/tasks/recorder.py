"""Every journal transition of a task, written in one place.

The task client and the run layer never write to the journal themselves: they tell a
recorder what happened (the request was recorded, its POST is leaving, the gateway gave a
task id, a poll saw progress, the video is on disk, the task failed...), and the recorder
turns that into the journal's calls and entry states (``core.states.EntryState``).
Without a journal the ``NullRecorder`` takes the same calls and does nothing, so callers
never ask "is there a journal?".

Every method takes the entry id as ``int | None``: None means the task has no entry (it
was submitted elsewhere, or without a journal), and the call does nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sqlite3
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, TypeVar

import attrs

from ..core.errors import APIError, IllegalTransitionError, VideoGenError
from ..core.request import VideoRequest
from ..core.states import EntryState
from ..core.task import Task, TaskStatus
from ..dialects.costs import ratio_seconds
from ..store.journal import Journal, JournalEntry
from .group_commit import GroupCommit

log = logging.getLogger(__name__)

_T = TypeVar("_T")

__all__ = [
    "DEFAULT",
    "JournalRecorder",
    "NullRecorder",
    "Recorder",
    "open_recorder",
    "recorder_for",
]


class _Default:
    """Marker for "use the default journal" (``None`` means "no journal")."""

    def __repr__(self) -> str:
        return "DEFAULT"


#: ``journal=DEFAULT``: the journal at ``Journal.default_path()``
DEFAULT: Any = _Default()


class Recorder(Protocol):
    """What the task and run layers tell the journal (and read back from it)."""

    @property
    def journal(self) -> Journal | None:
        """The journal written to, or None."""

    # -- writes, in the order of an entry's life ------------------------------------------

    def requests(
        self,
        requests: Sequence[VideoRequest],
        *,
        gateway: str,
        dialect: str,
        run_id: str | None,
        owner: str | None = None,
    ) -> list[JournalEntry | None]:
        """Journal requests before anything is sent (``created``), one entry each, held by
        the run ``owner`` (its lease) from the first moment."""

    def sending(self, entry_id: int | None, *, owner: str | None = None) -> None:
        """The POST is about to leave (``sending``); with ``owner``, raises
        ``LeaseLostError`` when another run holds the entry now (the POST must not leave)."""

    def submitted(self, entry_id: int | None, task: Task, *, dialect: str) -> None:
        """The gateway accepted the request: ``task.id`` is the task's identity from now on."""

    def submit_unknown(self, entry_id: int | None, message: str) -> None:
        """The POST's answer was lost: the gateway may have created (and billed) the task."""

    def submit_refused(self, entry_id: int | None, error: APIError) -> None:
        """The gateway refused the POST: nothing was created."""

    def observed(self, entry_id: int | None, task: Task) -> None:
        """A poll's snapshot of the task (progress, completion, the gateway's failure)."""

    def downloaded(
        self,
        entry_id: int | None,
        path: str | os.PathLike[str],
        *,
        checksum: str | None,
        size: int | None,
    ) -> None:
        """The video is on disk."""

    def failed(
        self, entry_id: int | None, error: BaseException, *, task: Task | None = None
    ) -> None:
        """The task ended without a video (``cancelled`` when the gateway cancelled it)."""

    def timed_out(self, entry_id: int | None, error: BaseException) -> None:
        """The wait for the task ran out; the remote task may still finish (resume)."""

    def cancelled_unsent(
        self, entry_id: int | None, reason: str = "cancelled before it was sent"
    ) -> None:
        """The user (or the money guard, ``reason`` says) cancelled a request that never
        left: a later resume() must not send it."""

    def spec(self, entry_id: int | None, spec: Mapping[str, Any]) -> None:
        """The measured properties of the downloaded video."""

    async def grouped(self, write: Callable[[], _T]) -> _T:
        """``write()`` (one of the calls above), sharing one synced transaction with the
        writes other coroutines ask for at the same moment (``group_commit``); returns once
        it is on disk."""

    # -- reads ------------------------------------------------------------------------------

    def hold(self, owner: str) -> str | None:
        """Take (or renew) the lease ``owner`` for this process; returns the owner to write
        on entries (None without a journal)."""

    def let_go(self, owner: str) -> None:
        """Release the lease ``owner``: its unfinished entries are free for ``resume()``."""

    def find_completed(self, fingerprint: str, *, gateway: str, model: str) -> JournalEntry | None:
        """The newest downloaded entry for an identical request whose file still exists."""

    def by_task_id(self, task_id: str, *, gateway: str) -> JournalEntry | None:
        """The newest entry of a remote task."""

    def typical_seconds(self, model: str, *, gateway: str) -> float | None:
        """How long this model's tasks usually took at this gateway."""


class NullRecorder:
    """The recorder used when the journal is disabled: remembers nothing, knows nothing."""

    @property
    def journal(self) -> Journal | None:
        """Always None."""
        return None

    def requests(
        self,
        requests: Sequence[VideoRequest],
        *,
        gateway: str,
        dialect: str,
        run_id: str | None,
        owner: str | None = None,
    ) -> list[JournalEntry | None]:
        """One None per request: there are no entries."""
        return [None] * len(requests)

    def sending(self, entry_id: int | None, *, owner: str | None = None) -> None:
        """Nothing to record."""

    def submitted(self, entry_id: int | None, task: Task, *, dialect: str) -> None:
        """Nothing to record."""

    def submit_unknown(self, entry_id: int | None, message: str) -> None:
        """Nothing to record."""

    def submit_refused(self, entry_id: int | None, error: APIError) -> None:
        """Nothing to record."""

    def observed(self, entry_id: int | None, task: Task) -> None:
        """Nothing to record."""

    def downloaded(
        self,
        entry_id: int | None,
        path: str | os.PathLike[str],
        *,
        checksum: str | None,
        size: int | None,
    ) -> None:
        """Nothing to record."""

    def failed(
        self, entry_id: int | None, error: BaseException, *, task: Task | None = None
    ) -> None:
        """Nothing to record."""

    def timed_out(self, entry_id: int | None, error: BaseException) -> None:
        """Nothing to record."""

    def cancelled_unsent(
        self, entry_id: int | None, reason: str = "cancelled before it was sent"
    ) -> None:
        """Nothing to record."""

    def spec(self, entry_id: int | None, spec: Mapping[str, Any]) -> None:
        """Nothing to record."""

    async def grouped(self, write: Callable[[], _T]) -> _T:
        """``write()`` at once: there is nothing to commit."""
        return write()

    def hold(self, owner: str) -> str | None:
        """No journal, no lease."""
        return None

    def let_go(self, owner: str) -> None:
        """Nothing to release."""

    def find_completed(self, fingerprint: str, *, gateway: str, model: str) -> JournalEntry | None:
        """No journal, no cache."""
        return None

    def by_task_id(self, task_id: str, *, gateway: str) -> JournalEntry | None:
        """No journal, no entries."""
        return None

    def typical_seconds(self, model: str, *, gateway: str) -> float | None:
        """Nothing learned."""
        return None


class JournalRecorder:
    """Writes every transition of an entry to a ``Journal`` through its public methods."""

    def __init__(self, journal: Journal) -> None:
        self._journal = journal
        # entry id -> the seconds new-api's submit answer said it bills (its ratios header);
        # its polls report the charge (quota) without them, so they are joined here
        self._billed_seconds: dict[int, float] = {}
        self._group = GroupCommit(journal)
        # per event loop: the timer that commits the held writes (``spec``) if nothing
        # else does first
        self._flush_timers: dict[asyncio.AbstractEventLoop, asyncio.TimerHandle] = {}

    def _with_billed_seconds(self, entry_id: int, task: Task) -> Task:
        """``task`` with the submit's billed seconds on its reported cost, when the cost
        names none; forgotten once the task is over."""
        seconds = (
            self._billed_seconds.pop(entry_id, None)
            if task.status.is_terminal
            else self._billed_seconds.get(entry_id)
        )
        cost = task.cost
        if cost is None or cost.billed_seconds is not None or seconds is None:
            return task
        return attrs.evolve(task, cost=attrs.evolve(cost, billed_seconds=seconds))

    def __repr__(self) -> str:
        return f"JournalRecorder({self._journal!r})"

    @property
    def journal(self) -> Journal | None:
        """The journal written to."""
        return self._journal

    def requests(
        self,
        requests: Sequence[VideoRequest],
        *,
        gateway: str,
        dialect: str,
        run_id: str | None,
        owner: str | None = None,
    ) -> list[JournalEntry | None]:
        """Journal requests in one transaction (state ``created``)."""
        if not requests:
            return []
        return list(
            self._journal.record_requests(
                requests, gateway=gateway, dialect=dialect, run_id=run_id, owner=owner
            )
        )

    def sending(self, entry_id: int | None, *, owner: str | None = None) -> None:
        """State ``sending`` (the journal ignores it once a task id is known)."""
        if entry_id is not None:
            self._journal.mark_sending(entry_id, owner=owner)

    def submitted(self, entry_id: int | None, task: Task, *, dialect: str) -> None:
        """State ``submitted`` (or what the task already is), with the task id and the
        dialect that worked, needed to poll after a restart."""
        if entry_id is not None:
            seconds = ratio_seconds(task.raw)
            if seconds is not None and not task.status.is_terminal:
                self._billed_seconds[entry_id] = seconds
            self._journal.record_submit(entry_id, task, dialect=dialect)

    def submit_unknown(self, entry_id: int | None, message: str) -> None:
        """State ``submit_unknown``: never resent without the user asking."""
        if entry_id is not None:
            self._journal.record_submit_unknown(entry_id, message)

    def submit_refused(self, entry_id: int | None, error: APIError) -> None:
        """A 429 created nothing and the caller will send it again: back to ``created``
        (not ``sending``, which a crash would turn into a needless ``submit_unknown``).
        Any other refusal is final: ``failed``."""
        if entry_id is None:
            return
        state = EntryState.CREATED if error.status_code == 429 else EntryState.FAILED
        self._journal.record_error(entry_id, error, state=state)

    def observed(self, entry_id: int | None, task: Task) -> None:
        """The state follows the task's status (``submitted``, ``completed``, ``failed``...).

        A poll answer that arrives after the entry was finished here (the user cancelled
        while the poll was on the wire) is stale news: it is dropped, and the entry keeps
        its final state, instead of the follow loop failing on a move the journal refuses.
        """
        if entry_id is None:
            return
        try:
            # record_poll: pending progress is committed in batches (store.write_behind)
            self._journal.record_poll(entry_id, self._with_billed_seconds(entry_id, task))
        except IllegalTransitionError as exc:
            if not exc.old.is_finished:
                raise
            log.debug("dropped a late snapshot of task %s: %s", task.id, exc)

    def downloaded(
        self,
        entry_id: int | None,
        path: str | os.PathLike[str],
        *,
        checksum: str | None,
        size: int | None,
    ) -> None:
        """State ``downloaded`` with the file's path, checksum and size."""
        if entry_id is not None:
            self._journal.record_download(entry_id, path, checksum=checksum, size=size)

    def failed(
        self, entry_id: int | None, error: BaseException, *, task: Task | None = None
    ) -> None:
        """The last snapshot (when given) and the error; ``cancelled`` when the gateway
        cancelled the task, ``failed`` otherwise."""
        if entry_id is None:
            return
        state = EntryState.FAILED
        if task is not None:
            # a failed task keeps the cost its gateway reported: some charge for failures
            self._journal.record_task(entry_id, self._with_billed_seconds(entry_id, task))
            if task.status is TaskStatus.CANCELLED:
                state = EntryState.CANCELLED
        self._journal.record_error(entry_id, error, state=state)

    def timed_out(self, entry_id: int | None, error: BaseException) -> None:
        """State ``timed_out``: resume() may pick the task up again."""
        if entry_id is not None:
            self._journal.record_error(entry_id, error, state=EntryState.TIMED_OUT)

    def cancelled_unsent(
        self, entry_id: int | None, reason: str = "cancelled before it was sent"
    ) -> None:
        """``created`` becomes ``cancelled`` (with ``reason``); an entry whose POST was under way stays
        ``sending`` (it may exist remotely) and a submitted one stays as it is, so
        resume() can still finish them."""
        if entry_id is None:
            return
        current = self._journal.get(entry_id)
        if current is not None and current.state == EntryState.CREATED:
            self._journal.record_error(entry_id, reason, state=EntryState.CANCELLED)

    def spec(self, entry_id: int | None, spec: Mapping[str, Any]) -> None:
        """Store the spec check's findings: held (``Journal.hold_spec``) and committed with
        the other held writes within ``Journal.hold_seconds`` (a timer on the running event
        loop sees to it when nothing else does); at once when no loop runs."""
        if entry_id is None:
            return
        self._journal.hold_spec(entry_id, spec)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._journal.flush()
            return
        if self._journal.held and loop not in self._flush_timers:
            self._flush_timers[loop] = loop.call_later(
                self._journal.hold_seconds, self._flush_held, loop
            )

    def _flush_held(self, loop: asyncio.AbstractEventLoop) -> None:
        self._flush_timers.pop(loop, None)
        try:
            self._journal.flush()
        except (VideoGenError, sqlite3.Error) as exc:  # closed meanwhile, or locked: kept
            log.info("could not commit the held journal writes: %s", exc)

    async def grouped(self, write: Callable[[], _T]) -> _T:
        """``write()`` in the next group transaction, many writes to one sync."""
        return await self._group.run(write)

    def hold(self, owner: str) -> str | None:
        """Open (or renew) the lease in the journal."""
        self._journal.leases.open(owner, now=time.time())
        return owner

    def let_go(self, owner: str) -> None:
        """Mark the lease released (nothing to do once the journal is closed)."""
        with contextlib.suppress(VideoGenError):
            self._journal.leases.release(owner, now=time.time())

    def find_completed(self, fingerprint: str, *, gateway: str, model: str) -> JournalEntry | None:
        """The journal's finished entry for an identical request."""
        return self._journal.find_completed(fingerprint, gateway=gateway, model=model)

    def by_task_id(self, task_id: str, *, gateway: str) -> JournalEntry | None:
        """The newest entry of a remote task at this gateway."""
        return self._journal.by_task_id(task_id, gateway=gateway)

    def typical_seconds(self, model: str, *, gateway: str) -> float | None:
        """Learned from the journal's finished entries."""
        return self._journal.typical_seconds(model, gateway=gateway)


def recorder_for(journal: Journal | None) -> Recorder:
    """A ``JournalRecorder`` for a journal, the ``NullRecorder`` for None."""
    return NullRecorder() if journal is None else JournalRecorder(journal)


def open_recorder(journal: Journal | str | os.PathLike[str] | None) -> Recorder:
    """The recorder for a client's ``journal=`` option: a ``Journal`` as given, a path
    opened, ``DEFAULT`` the default journal, None no journal at all."""
    if journal is None:
        return NullRecorder()
    if isinstance(journal, Journal):
        return JournalRecorder(journal)
    if journal is DEFAULT:
        return JournalRecorder(Journal(Journal.default_path()))
    return JournalRecorder(Journal(journal))
