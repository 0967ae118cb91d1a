"""``Journal``: the durable SQLite record of every request, the task it became, and its video.

One row (a ``JournalEntry``) per request sent through the client: the request itself (its
``to_dict()`` JSON and fingerprint, never a key: requests hold none and nothing here accepts
one), the gateway, dialect and model, the remote task id and its last status, the video URL
and its expiry, the local file and its checksum, the timings, and the last error. Votes from
the comparison grid and the measured video spec live here too, for the leaderboard.

Every write is its own short transaction (``BEGIN IMMEDIATE``) and is committed before the
method returns, so a task id is on disk before ``submit`` returns and a ``kill -9`` at any
moment loses nothing that was committed. The one exception is ``record_poll``'s pending
and completed snapshots, which the poll loop makes thousands of times a second and which
``resume()`` does not need, and a run's spec findings (``hold_spec``, measured again from
the file): they are held back and committed many to a transaction
(``store.write_behind``), before any read of this journal, before any other write to their
entry, and at least every second of polling. The file is in WAL mode with a busy timeout, so two
kernels (processes) can share it, and it is created with mode 0600 (its ``-wal``/``-shm``
companions too). Each thread gets its own connection (see ``db.Database``).

States of an entry (``core.states.EntryState``; every write is checked against
``core.states.TRANSITIONS`` and an illegal move raises ``IllegalTransitionError``)::

    created ──► sending ──► submitted ──► completed ──► downloaded
       │           │            │   └────► failed / cancelled / timed_out
       │           └──► submit_unknown (the POST's answer was lost; never resubmitted on its own)
       └──► (straight to submitted when the caller does not mark the POST as sending)

The parts: ``entries`` (the values and their rows), ``db`` (connections, transactions),
``changes`` (what each write changes, pure), ``query`` (filtered reads), ``schema``
(tables and migrations), ``reads`` (the entry reads, ``EntryReads``) and ``votes`` (the
grid's votes, ``VoteBook``), both mixed into ``Journal``; this module is the front that puts
them together and holds the writes.

>>> import tempfile, pathlib
>>> from videogen_nb.core.request import VideoRequest
>>> from videogen_nb.core.task import Task, TaskStatus
>>> with tempfile.TemporaryDirectory() as tmp, Journal(pathlib.Path(tmp) / "j.sqlite") as journal:
...     entry = journal.record_request(
...         VideoRequest(model="kling-v1", prompt="a paper boat"),
...         gateway="http://127.0.0.1:8000", dialect="unified")
...     journal.record_submit(entry.id, Task(id="task_1", status=TaskStatus.QUEUED)).state
<EntryState.SUBMITTED: 'submitted'>
"""

from __future__ import annotations

import json
import logging
import os
import pathlib
import sqlite3
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any

import attrs

from ..core.errors import LeaseLostError, ValidationError
from ..core.request import VideoRequest
from ..core.scoring import VOTE_KINDS
from ..core.states import FINISHED_STATES, UNFINISHED_STATES, EntryState
from ..core.task import Task, TaskStatus
from .changes import (
    UPDATABLE,
    IllegalTransitionError,
    Since,
    check_move,
    describe_error,
    json_value,
    submit_changes,
    task_changes,
)
from .db import Database
from .entries import (
    JournalEntry,
    Vote,
    entry_from_row,
    file_checksum,
    normalize_gateway,
)
from .favourites import FavouriteBook
from .leases import Leases
from .reads import EntryReads
from .schema import migrate
from .votes import VoteBook
from .write_behind import Held, WriteBehind

log = logging.getLogger(__name__)

__all__ = [
    "ENTRY_STATES",
    "FINISHED_STATES",
    "UNFINISHED_STATES",
    "VOTE_KINDS",
    "IllegalTransitionError",
    "Journal",
    "JournalEntry",
    "Since",
    "Vote",
    "file_checksum",
    "normalize_gateway",
]

#: every value ``JournalEntry.state`` can take (``EntryState`` in lifecycle order); kept,
#: with ``FINISHED_STATES``/``UNFINISHED_STATES``/``VOTE_KINDS``, for older imports
ENTRY_STATES: tuple[EntryState, ...] = tuple(EntryState)

#: the journal's clock (epoch seconds); tests replace it to control timings
_now: Callable[[], float] = time.time

#: the states ``mark_sending`` moves on from (any other is ignored: already sent, or done)
_SENDABLE = frozenset({EntryState.CREATED, EntryState.SUBMIT_UNKNOWN})

_Compute = Callable[[JournalEntry, float], dict[str, Any]]


class Journal(EntryReads, VoteBook, FavouriteBook):
    """The SQLite journal at ``path`` (created, with mode 0600, if missing).

    Safe to share between threads and between processes (two kernels on one file). Use
    ``Journal.default_path()`` for ``./videogen-runs/journal.sqlite``. Close it with
    ``close()`` or use it as a context manager. Every ``record_*`` that changes an entry's
    state checks the move first: a move ``core.states.TRANSITIONS`` forbids raises
    ``IllegalTransitionError`` and writes nothing.
    """

    def __init__(self, path: str | os.PathLike[str], *, busy_timeout: float = 30.0) -> None:
        self.path = pathlib.Path(path).expanduser().absolute()
        self._db = Database(self.path, busy_timeout=busy_timeout)
        self._db.write(migrate)
        self._db.secure_companions()
        #: pending snapshots of ``record_poll`` waiting for their shared transaction
        self._behind = WriteBehind()
        #: which run holds which entries (``store.leases``)
        self.leases = Leases(self._db)

    @staticmethod
    def default_path() -> pathlib.Path:
        """``./videogen-runs/journal.sqlite``, beside the notebook (the working directory)."""
        return pathlib.Path.cwd() / "videogen-runs" / "journal.sqlite"

    def __repr__(self) -> str:
        closed = ", closed" if self._db.closed else ""
        return f"Journal({str(self.path)!r}{closed})"

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Commit the held snapshots, then close every connection this journal opened (any
        thread's). Idempotent."""
        if not self._db.closed:
            self.flush()
        self._db.close()

    def flush(self) -> None:
        """Commit the pending snapshots ``record_poll`` holds (in one transaction)."""
        if len(self._behind):
            self._behind.flush(self._commit_held)

    def batch(self) -> AbstractContextManager[None]:
        """Every write this thread makes in the block shares ONE transaction and one sync,
        committed when the block ends (a group commit; ``db.Database.batch``)."""
        return self._db.batch()

    def _commit_held(self, held: list[Held]) -> None:
        self._db.write(lambda conn: self._apply_held(conn, held), durable=False)

    def _apply_held(self, conn: sqlite3.Connection, held: list[Held]) -> None:
        by_entry: dict[int, list[tuple[_Compute, float]]] = {}
        for entry_id, change, at in held:  # oldest first per entry (``WriteBehind.take``)
            by_entry.setdefault(entry_id, []).append((change, at))
        for entry_id, changes in by_entry.items():
            self._apply_held_to(conn, entry_id, changes)

    def _apply_held_to(
        self, conn: sqlite3.Connection, entry_id: int, held: list[tuple[_Compute, float]]
    ) -> JournalEntry | None:
        """One entry's held writes, in order, with ONE read of its row and at most one
        ``UPDATE`` (a flush holds several polls of each task); each is checked against the
        entry as the ones before it left it, as if written one by one. Returns the entry
        as it now stands (None when it is gone)."""
        entry = self._fetch(conn, entry_id)
        if entry is None:
            if held:
                log.debug("dropped %d held writes of entry %s: it is gone", len(held), entry_id)
            return None
        written: dict[str, Any] = {}
        for change, at in held:
            try:
                moved = self._changes(entry, change, at)
            except IllegalTransitionError as exc:
                # the entry ended meanwhile: a late snapshot is stale news
                log.debug("dropped a held snapshot of entry %s: %s", entry_id, exc)
                continue
            if moved:
                entry = attrs.evolve(entry, **moved)
                written.update(moved)
        self._write_changes(conn, entry.id, written)
        return entry

    # -- plumbing -------------------------------------------------------------------------

    def _conn(self) -> sqlite3.Connection:
        return self._db.connection()

    def _clock(self) -> float:
        return _now()  # looked up on each call, so a test's replacement of ``_now`` holds

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        self.flush()  # this process reads what it wrote, held snapshots included
        return self._db.read(sql, params)

    @staticmethod
    def _fetch(conn: sqlite3.Connection, entry_id: int) -> JournalEntry | None:
        row = conn.execute("SELECT * FROM entries WHERE id = ?", (int(entry_id),)).fetchone()
        return entry_from_row(row) if row is not None else None

    def _update(self, entry_id: int, compute: _Compute, *, durable: bool = True) -> JournalEntry:
        """Apply ``compute(entry, now)``'s changes to the entry in one transaction, after
        checking its state move; nothing is written (or synced) when nothing changes."""

        # the entry's held snapshots first, in the same transaction: its moves stay in order
        held = self._behind.take(int(entry_id)) if len(self._behind) else []

        def write(conn: sqlite3.Connection) -> JournalEntry:
            mine = [(change, at) for _, change, at in held]
            entry = self._apply_held_to(conn, int(entry_id), mine) if mine else None
            return self._apply(conn, entry_id, compute, _now(), entry=entry)

        try:
            return self._db.write(write, durable=durable)
        except BaseException:
            self._behind.give_back(held)
            raise

    def _apply(
        self,
        conn: sqlite3.Connection,
        entry_id: int,
        compute: _Compute,
        now: float,
        *,
        entry: JournalEntry | None = None,
    ) -> JournalEntry:
        """``_update``'s work inside a transaction already open on ``conn``; ``entry`` is
        the row as this transaction already read it (else it is read here)."""
        if entry is None:
            entry = self._fetch(conn, entry_id)
        if entry is None:
            raise KeyError(f"no journal entry {entry_id}")
        changes = self._changes(entry, compute, now)
        if not changes:
            return entry  # nothing written, so nothing to sync
        self._write_changes(conn, entry.id, changes)
        return attrs.evolve(entry, **changes)

    @staticmethod
    def _changes(entry: JournalEntry, compute: _Compute, now: float) -> dict[str, Any]:
        """The columns ``compute(entry, now)`` changes (with ``updated_at``), its state move
        checked (``IllegalTransitionError``); empty when nothing changes."""
        changes = {k: v for k, v in compute(entry, now).items() if getattr(entry, k) != v}
        if not changes:
            return changes
        assert UPDATABLE.issuperset(changes), changes
        check_move(entry, changes)
        if "state" in changes:
            changes["state"] = EntryState(changes["state"]).value
        changes["updated_at"] = now
        return changes

    @staticmethod
    def _write_changes(conn: sqlite3.Connection, entry_id: int, changes: dict[str, Any]) -> None:
        if not changes:
            return
        values = [
            json.dumps(v, sort_keys=True) if k == "spec" and v is not None else v
            for k, v in changes.items()
        ]
        columns = ", ".join(f"{k} = ?" for k in changes)
        conn.execute(f"UPDATE entries SET {columns} WHERE id = ?", [*values, entry_id])

    # -- recording ------------------------------------------------------------------------

    def record_request(
        self,
        req: VideoRequest,
        *,
        gateway: str,
        dialect: str | None,
        run_id: str | None = None,
        owner: str | None = None,
    ) -> JournalEntry:
        """Record a request about to be sent; returns its entry (state ``created``) with the
        ``idempotency_key`` its POST must carry. Credentials in ``gateway`` are dropped.
        ``owner`` is the run whose lease holds the entry from its first moment."""
        return self.record_requests(
            [req], gateway=gateway, dialect=dialect, run_id=run_id, owner=owner
        )[0]

    def record_requests(
        self,
        requests: Sequence[VideoRequest],
        *,
        gateway: str,
        dialect: str | None,
        run_id: str | None = None,
        owner: str | None = None,
    ) -> list[JournalEntry]:
        """``record_request`` for many requests in ONE transaction (one sync to disk), so a
        run of thousands can be journalled up front without stalling its event loop."""
        gateway = normalize_gateway(gateway)
        prepared = [
            (
                req.fingerprint(),
                json.dumps(
                    req.to_dict(), sort_keys=True, separators=(",", ":"), ensure_ascii=False
                ),
                req.model,
                str(uuid.uuid4()),
            )
            for req in requests
        ]

        def write(conn: sqlite3.Connection) -> list[JournalEntry]:
            now = _now()
            entries = []
            for fingerprint, request_json, model, key in prepared:
                cursor = conn.execute(
                    "INSERT INTO entries (run_id, fingerprint, request, gateway, dialect, model,"
                    " idempotency_key, state, created_at, updated_at, owner)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        run_id,
                        fingerprint,
                        request_json,
                        gateway,
                        dialect,
                        model,
                        key,
                        EntryState.CREATED.value,
                        now,
                        now,
                        owner,
                    ),
                )
                entry = self._fetch(conn, int(cursor.lastrowid or 0))
                assert entry is not None
                entries.append(entry)
            return entries

        return self._db.write(write)

    def mark_sending(self, entry_id: int, *, owner: str | None = None) -> JournalEntry:
        """The POST is about to leave: state ``sending``. An entry found in this state after
        a crash may have been created (and billed) by the gateway, unlike a ``created`` one,
        which was certainly never sent. Ignored once a task id is known. With ``owner``
        (the sending run), raises ``LeaseLostError`` when another run holds the entry now:
        its POST must not leave."""

        def compute(entry: JournalEntry, now: float) -> dict[str, Any]:
            if owner is not None and entry.owner is not None and entry.owner != owner:
                raise LeaseLostError(entry.id, owner, entry.owner)
            if entry.task_id is not None or entry.state not in _SENDABLE:
                return {}
            return {"state": EntryState.SENDING}

        return self._update(entry_id, compute)

    def record_submit(
        self, entry_id: int, task: Task, *, dialect: str | None = None
    ) -> JournalEntry:
        """The gateway accepted the request as ``task``: state ``submitted`` (or what the task
        already is, e.g. ``completed``), task id and submit time recorded; ``dialect`` is the
        wire format that worked (what ``"auto"`` resolved to), needed to poll after a restart."""
        return self._update(entry_id, lambda entry, now: submit_changes(entry, task, dialect, now))

    def record_submit_unknown(self, entry_id: int, message: str) -> JournalEntry:
        """The POST may or may not have created a task (its answer was lost): state
        ``submit_unknown`` with ``message``. Ignored once a task id is known."""

        def compute(entry: JournalEntry, now: float) -> dict[str, Any]:
            if entry.task_id is not None or entry.state is EntryState.DOWNLOADED:
                return {}
            return {"state": EntryState.SUBMIT_UNKNOWN, "error": str(message), "error_code": None}

        return self._update(entry_id, compute)

    def record_task(self, entry_id: int, task: Task) -> JournalEntry:
        """A new snapshot of the entry's task: status, progress, URL, expiry and error; the
        state follows the status (never backwards from ``downloaded``, nor from a terminal
        status to a pending one)."""
        # A pending snapshot only moves progress: resume() needs none of it, so it is not
        # worth an fsync on every poll. Terminal snapshots are synced as before.
        return self._update(
            entry_id, _snapshot_of(task), durable=TaskStatus(task.status).is_terminal
        )

    def record_poll(self, entry_id: int, task: Task) -> None:
        """``record_task`` for the poll loop: a failed or cancelled snapshot is recorded
        (and synced) now; a pending or completed one is held and committed with others
        within about a second of polling, before any read of this journal and before any
        other write to its entry (``store.write_behind``). A held snapshot that no longer
        fits the entry when its turn comes (the entry ended meanwhile) is dropped, as stale
        news."""
        status = TaskStatus(task.status)
        if status.is_terminal and status is not TaskStatus.COMPLETED:
            self.record_task(entry_id, task)
        elif self._behind.hold(int(entry_id), _snapshot_of(task), _now()):
            self.flush()

    def record_download(
        self,
        entry_id: int,
        path: str | os.PathLike[str],
        *,
        checksum: str | None,
        size: int | None,
    ) -> JournalEntry:
        """The video is on disk at ``path``: state ``downloaded``. ``checksum`` is best given
        as ``file_checksum(path)`` (``"sha256:<hex>"``)."""
        absolute = str(pathlib.Path(path).expanduser().absolute())

        def compute(entry: JournalEntry, now: float) -> dict[str, Any]:
            changes: dict[str, Any] = {
                "state": EntryState.DOWNLOADED,
                "path": absolute,
                "checksum": checksum,
                "size": int(size) if size is not None else None,
                "downloaded_at": now,
                "status": TaskStatus.COMPLETED.value,
                "error": None,
                "error_code": None,
            }
            if entry.completed_at is None:
                changes["completed_at"] = now
            return changes

        return self._update(entry_id, compute)

    def record_error(
        self, entry_id: int, error: BaseException | str, *, state: str = EntryState.FAILED
    ) -> JournalEntry:
        """Record what stopped the entry (``"Type: message"`` for an exception, and its
        ``code`` when it has one) and move it to ``state`` (``failed``, ``cancelled``,
        ``timed_out``, ...). A ``downloaded`` entry keeps its state."""
        if state not in ENTRY_STATES or state == EntryState.DOWNLOADED:
            raise ValidationError("state", f"not an error state: {state!r}")
        new_state = EntryState(state)
        text, code = describe_error(error)

        def compute(entry: JournalEntry, now: float) -> dict[str, Any]:
            changes: dict[str, Any] = {"error": text, "error_code": code}
            if entry.state is not EntryState.DOWNLOADED:
                changes["state"] = new_state
            return changes

        return self._update(entry_id, compute)

    def record_spec(self, entry_id: int, spec: Mapping[str, Any] | None) -> JournalEntry:
        """Store the measured video properties (any JSON-able mapping; other values become
        strings) for the entry."""
        value = json_value(dict(spec)) if spec is not None else None
        # not synced: a spec lost to a power cut is measured again from the file
        return self._update(entry_id, lambda entry, now: {"spec": value}, durable=False)

    def hold_spec(self, entry_id: int, spec: Mapping[str, Any] | None) -> None:
        """``record_spec`` for a run's many spec checks: held with the poll snapshots and
        committed with them (one transaction for many), within ``hold_seconds`` when more
        writes come (or ``flush()`` is called), before any read of this journal and before
        any other write to the entry, and at ``close()``. A process killed meanwhile loses
        the findings, never the video: they are measured again from the file."""
        value = json_value(dict(spec)) if spec is not None else None
        if self._behind.hold(int(entry_id), lambda entry, now: {"spec": value}, _now()):
            self.flush()

    @property
    def hold_seconds(self) -> float:
        """How long a held write may wait for its shared transaction (seconds)."""
        return self._behind.max_age

    @property
    def held(self) -> int:
        """How many writes are held for the next shared transaction."""
        return len(self._behind)

    # -- reading --------------------------------------------------------------------------

    def get(self, entry_id: int) -> JournalEntry | None:
        """The entry with this id, or None."""
        self.flush()
        return self._fetch(self._conn(), entry_id)


def _snapshot_of(task: Task) -> _Compute:
    """What a snapshot of ``task`` changes on an entry (for ``_update``/``_apply``)."""
    return lambda entry, now: task_changes(entry, task, now)
