"""``Journal``: the durable SQLite record of every request, the task it became, and its video.

One row (a ``JournalEntry``) per request sent through the client: the request itself (its
``to_dict()`` JSON and fingerprint, never a key: requests hold none and nothing here accepts
one), the gateway, dialect and model, the remote task id and its last status, the video URL
and its expiry, the local file and its checksum, the timings, and the last error. Votes from
the comparison grid and the measured video spec live here too, for the leaderboard.

Every write is its own short transaction (``BEGIN IMMEDIATE``) and is committed before the
method returns, so a task id is on disk before ``submit`` returns and a ``kill -9`` at any
moment loses nothing that was committed. The file is in WAL mode with a busy timeout, so two
kernels (processes) can share it, and it is created with mode 0600 (its ``-wal``/``-shm``
companions too). Each thread gets its own connection: the client writes from its event-loop
thread while widgets read from the kernel thread.

States of an entry::

    created ──► submitted ──► completed ──► downloaded
       │            │   └────► failed / cancelled / timed_out
       └──► submit_unknown (the POST's answer was lost; never resubmitted on its own)

>>> import tempfile, pathlib
>>> from videogen_nb.request import VideoRequest
>>> from videogen_nb.task import Task, TaskStatus
>>> with tempfile.TemporaryDirectory() as tmp, Journal(pathlib.Path(tmp) / "j.sqlite") as journal:
...     entry = journal.record_request(
...         VideoRequest(model="kling-v1", prompt="a paper boat"),
...         gateway="http://127.0.0.1:8000", dialect="unified")
...     journal.record_submit(entry.id, Task(id="task_1", status=TaskStatus.QUEUED)).state
'submitted'
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import pathlib
import sqlite3
import statistics
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

import attrs

from ..core.errors import ValidationError, VideoGenError
from ..core.request import VideoRequest
from ..core.task import Task, TaskStatus
from .schema import migrate

__all__ = [
    "ENTRY_STATES",
    "FINISHED_STATES",
    "UNFINISHED_STATES",
    "VOTE_KINDS",
    "Journal",
    "JournalEntry",
    "Vote",
    "file_checksum",
    "normalize_gateway",
]

#: every value ``JournalEntry.state`` can take
ENTRY_STATES: tuple[str, ...] = (
    "created",
    "sending",
    "submit_unknown",
    "submitted",
    "completed",
    "downloaded",
    "failed",
    "cancelled",
    "timed_out",
)
#: states nothing will change any more on its own
FINISHED_STATES: frozenset[str] = frozenset({"downloaded", "failed", "cancelled"})
#: states ``client.resume()`` picks up (``timed_out`` included: the remote task may still finish)
UNFINISHED_STATES: tuple[str, ...] = tuple(s for s in ENTRY_STATES if s not in FINISHED_STATES)
#: what ``record_vote(kind=...)`` accepts
VOTE_KINDS: tuple[str, ...] = ("best", "pair", "tie", "skip")

_REMOTE_TERMINAL = frozenset(s.value for s in TaskStatus if s.is_terminal)
_TASK_FIELDS = (
    "status",
    "progress",
    "video_url",
    "url_expires_at",
    "submitted_at",
    "completed_at",
    "error",
    "error_code",
)
_UPDATABLE = frozenset(
    {
        "state",
        "dialect",
        "task_id",
        "status",
        "progress",
        "video_url",
        "url_expires_at",
        "path",
        "checksum",
        "size",
        "submitted_at",
        "completed_at",
        "downloaded_at",
        "error",
        "error_code",
        "spec",
    }
)

#: a point in time for the ``since=`` filters: a datetime (naive means local time), a date
#: (its midnight, local), epoch seconds, or a timedelta meaning "that long ago"
Since = dt.datetime | dt.date | dt.timedelta | float | int | None

_T = TypeVar("_T")

#: the journal's clock (epoch seconds); tests replace it to control timings
_now: Callable[[], float] = time.time


@attrs.define(frozen=True, kw_only=True)
class JournalEntry:
    """One request as the journal last recorded it.

    Times are epoch seconds (``time.time()`` of this machine). ``request`` is the request's
    ``to_dict()``; ``request_obj()`` rebuilds the ``VideoRequest``. ``status`` is the last
    remote ``TaskStatus`` value seen; ``state`` is the journal's own view (see the module
    docstring). ``spec`` holds the measured video properties once the spec check ran.
    """

    id: int
    run_id: str | None = None
    fingerprint: str
    request: dict[str, Any]
    gateway: str
    dialect: str | None = None
    model: str
    idempotency_key: str
    state: str = attrs.field(validator=attrs.validators.in_(ENTRY_STATES))
    task_id: str | None = None
    status: str | None = None
    progress: int | None = None
    video_url: str | None = None
    url_expires_at: float | None = None
    path: str | None = None
    checksum: str | None = None
    size: int | None = None
    created_at: float
    submitted_at: float | None = None
    completed_at: float | None = None
    downloaded_at: float | None = None
    updated_at: float
    error: str | None = None
    error_code: str | None = None
    spec: dict[str, Any] | None = None

    @property
    def is_finished(self) -> bool:
        """True when nothing more will happen on its own: downloaded, failed or cancelled."""
        return self.state in FINISHED_STATES

    def request_obj(self) -> VideoRequest:
        """The recorded request, rebuilt as a ``VideoRequest``."""
        return VideoRequest.from_dict(self.request)

    def __repr__(self) -> str:
        bits = [f"id={self.id}", f"model={self.model!r}", f"state={self.state}"]
        if self.task_id:
            bits.append(f"task_id={self.task_id!r}")
        if self.progress is not None and self.state == "submitted":
            bits.append(f"progress={self.progress}%")
        if self.path:
            bits.append(f"path={self.path!r}")
        if self.error:
            bits.append(f"error={self.error!r}")
        return f"JournalEntry({', '.join(bits)})"


@attrs.define(frozen=True, kw_only=True)
class Vote:
    """One human judgement from a comparison: the ``best`` of a row, a ``pair`` won by
    ``winner`` over ``loser``, a ``tie``, or a ``skip``. ``candidates`` are what was shown
    (usually model names); ``row_key`` names the compared row (e.g. prompt and seed)."""

    id: int
    run_id: str | None = None
    row_key: str
    candidates: tuple[str, ...]
    winner: str | None = None
    loser: str | None = None
    kind: str = attrs.field(validator=attrs.validators.in_(VOTE_KINDS))
    created_at: float


def normalize_gateway(url: str) -> str:
    """The gateway's base URL as the journal stores it: no userinfo, query or fragment,
    lower-case scheme and host, no trailing slash.

    >>> normalize_gateway("HTTPS://user:secret@API.Example.com/v1/?key=x")
    'https://api.example.com/v1'
    """
    text = str(url).strip()
    parts = urllib.parse.urlsplit(text)
    if not parts.netloc:
        # not a URL with a host; still never keep anything that looks like credentials
        text = text.split("?", 1)[0].split("#", 1)[0].rsplit("@", 1)[-1]
        return text.rstrip("/")
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    netloc = f"{host}:{port}" if port is not None else host
    return urllib.parse.urlunsplit((parts.scheme.lower(), netloc, parts.path.rstrip("/"), "", ""))


def file_checksum(path: str | os.PathLike[str], algorithm: str = "sha256") -> str:
    """``"<algorithm>:<hex digest>"`` of a file's bytes, the form ``record_download`` expects."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return f"{algorithm}:{digest.hexdigest()}"


def _checksum_matches(path: pathlib.Path, checksum: str) -> bool:
    algorithm, _, expected = checksum.rpartition(":")
    algorithm = algorithm or "sha256"
    try:
        actual = file_checksum(path, algorithm)
    except (ValueError, OSError):
        return False
    return actual.rpartition(":")[2] == expected.lower()


def _epoch(value: Since, field: str = "since") -> float | None:
    if value is None:
        return None
    if isinstance(value, dt.timedelta):
        return _now() - value.total_seconds()
    if isinstance(value, dt.datetime):
        return value.timestamp()
    if isinstance(value, dt.date):
        return dt.datetime.combine(value, dt.time()).timestamp()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    raise ValidationError(
        field, f"expected a datetime, date, timedelta or epoch seconds, got {type(value).__name__}"
    )


def _names(value: str | Iterable[str] | None) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value]


def _describe_error(error: BaseException | str) -> tuple[str, str | None]:
    if isinstance(error, str):
        return error, None
    message = str(error)
    text = f"{type(error).__name__}: {message}" if message else type(error).__name__
    code = getattr(error, "code", None)
    task = getattr(error, "task", None)
    if code is None and isinstance(task, Task):
        code = task.error_code
    return text, (str(code) if code is not None else None)


def _json_value(value: Any) -> Any:
    """``value`` as it reads back from JSON (so comparisons and the entry match the file)."""
    return json.loads(json.dumps(value, default=str))


def _entry_from_row(row: sqlite3.Row) -> JournalEntry:
    data = dict(row)
    data["request"] = json.loads(data["request"])
    data["spec"] = json.loads(data["spec"]) if data.get("spec") is not None else None
    return JournalEntry(**data)


def _vote_from_row(row: sqlite3.Row) -> Vote:
    data = dict(row)
    data.pop("scope", None)
    data["candidates"] = tuple(json.loads(data["candidates"]))
    return Vote(**data)


def _task_changes(entry: JournalEntry, task: Task, now: float) -> dict[str, Any]:
    """What a task snapshot changes on an entry; nothing once it was downloaded."""
    if entry.state == "downloaded":
        return {}
    status = TaskStatus(task.status)
    if not status.is_terminal and (entry.state == "completed" or entry.status in _REMOTE_TERMINAL):
        # a pending snapshot after a terminal one is stale (a lagging replica, a late poll)
        return {}
    changes: dict[str, Any] = {"status": status.value}
    if task.progress is not None:
        changes["progress"] = int(task.progress)
    elif status is TaskStatus.COMPLETED:
        changes["progress"] = 100
    if task.video_url:
        changes["video_url"] = task.video_url
    if task.expires_at is not None:
        changes["url_expires_at"] = float(task.expires_at)
    if status is TaskStatus.COMPLETED:
        changes["error"] = None
        changes["error_code"] = None
    elif task.error or task.error_code:
        changes["error"] = task.error
        changes["error_code"] = task.error_code
    if status.is_terminal:
        changes["state"] = status.value
        if entry.completed_at is None:
            changes["completed_at"] = now
    else:
        changes["state"] = "submitted"
    return changes


def _vote_scope(
    kind: str, candidates: tuple[str, ...], winner: str | None, loser: str | None
) -> str:
    """What a later vote replaces: the row's verdict (best/skip) or one unordered pair
    (pair/tie: changing "A beats B" into "A ties B" is the same question answered again)."""
    if kind in ("best", "skip"):
        return "row"
    members = (winner, loser) if winner is not None and loser is not None else candidates
    return "pair\x1f" + "\x1f".join(sorted({str(m) for m in members}))


class Journal:
    """The SQLite journal at ``path`` (created, with mode 0600, if missing).

    Safe to share between threads and between processes (two kernels on one file). Use
    ``Journal.default_path()`` for ``./videogen-runs/journal.sqlite``. Close it with
    ``close()`` or use it as a context manager.
    """

    def __init__(self, path: str | os.PathLike[str], *, busy_timeout: float = 30.0) -> None:
        self.path = pathlib.Path(path).expanduser().absolute()
        self._busy_timeout = float(busy_timeout)
        self._lock = threading.Lock()
        self._local = threading.local()
        self._connections: list[tuple[threading.Thread, sqlite3.Connection]] = []
        self._pid = os.getpid()
        self._closed = False
        self._create_file()
        conn = self._conn()
        self._enable_wal(conn)
        self._write(migrate)
        self._secure_companions()

    @staticmethod
    def default_path() -> pathlib.Path:
        """``./videogen-runs/journal.sqlite``, beside the notebook (the working directory)."""
        return pathlib.Path.cwd() / "videogen-runs" / "journal.sqlite"

    def __repr__(self) -> str:
        closed = ", closed" if self._closed else ""
        return f"Journal({str(self.path)!r}{closed})"

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close every connection this journal opened (any thread's). Idempotent."""
        with self._lock:
            self._closed = True
            connections, self._connections = self._connections, []
        for _, conn in connections:
            with contextlib.suppress(sqlite3.Error):
                conn.close()

    # -- plumbing -------------------------------------------------------------------------

    def _create_file(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # created here, not by sqlite, so it is never readable by others, whatever the umask
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o600)
        try:
            # (an OSError here means someone else's file; sqlite will say if it is unusable)
            if hasattr(os, "fchmod"):
                with contextlib.suppress(OSError):
                    os.fchmod(fd, 0o600)
        finally:
            os.close(fd)

    def _secure_companions(self) -> None:
        # sqlite copies the main file's mode onto -wal/-shm; this is belt and braces
        for suffix in ("-wal", "-shm"):
            companion = self.path.with_name(self.path.name + suffix)
            with contextlib.suppress(OSError):
                os.chmod(companion, 0o600)

    def _enable_wal(self, conn: sqlite3.Connection) -> None:
        deadline = time.monotonic() + self._busy_timeout
        while True:
            try:
                mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
                break
            except sqlite3.OperationalError as exc:
                # another process switching the same new file at the same moment
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.01)
        if str(mode).lower() != "wal":
            raise VideoGenError(f"journal {self.path} could not switch to WAL mode ({mode})")

    def _conn(self) -> sqlite3.Connection:
        if self._closed:
            raise VideoGenError(f"journal {self.path} is closed")
        if os.getpid() != self._pid:
            # forked: the parent's connections must not be used (or closed) here
            with self._lock:
                self._pid = os.getpid()
                self._local = threading.local()
                self._connections = []
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None:
            return conn
        conn = sqlite3.connect(
            str(self.path),
            timeout=self._busy_timeout,
            isolation_level=None,  # we issue BEGIN IMMEDIATE / COMMIT ourselves
            check_same_thread=False,  # only so close() may run on another thread
        )
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout * 1000)}")
        # FULL: a committed task id survives power loss too, not only a killed kernel
        conn.execute("PRAGMA synchronous = FULL")
        self._local.conn = conn
        with self._lock:
            alive = []
            for thread, other in self._connections:
                if thread.is_alive():
                    alive.append((thread, other))
                else:
                    other.close()
            alive.append((threading.current_thread(), conn))
            self._connections = alive
        return conn

    def _write(self, fn: Callable[[sqlite3.Connection], _T], *, durable: bool = True) -> _T:
        """Run ``fn`` in one write transaction, committed before returning.

        ``durable=False`` commits without an fsync (``synchronous = NORMAL``): the change
        still survives a killed process, only a power cut can take it, and the next durable
        commit syncs it too. Only for writes that nothing depends on (progress snapshots),
        which a run makes on every poll of every task.
        """
        conn = self._conn()
        if not durable:
            conn.execute("PRAGMA synchronous = NORMAL")
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                result = fn(conn)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        finally:
            if not durable:
                conn.execute("PRAGMA synchronous = FULL")
        return result

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        return self._conn().execute(sql, params).fetchall()

    @staticmethod
    def _fetch(conn: sqlite3.Connection, entry_id: int) -> JournalEntry | None:
        row = conn.execute("SELECT * FROM entries WHERE id = ?", (int(entry_id),)).fetchone()
        return _entry_from_row(row) if row is not None else None

    def _update(
        self,
        entry_id: int,
        compute: Callable[[JournalEntry, float], dict[str, Any]],
        *,
        durable: bool = True,
    ) -> JournalEntry:
        def write(conn: sqlite3.Connection) -> JournalEntry:
            entry = self._fetch(conn, entry_id)
            if entry is None:
                raise KeyError(f"no journal entry {entry_id}")
            now = _now()
            changes = {k: v for k, v in compute(entry, now).items() if getattr(entry, k) != v}
            if not changes:
                return entry  # nothing written, so nothing to sync
            assert _UPDATABLE.issuperset(changes), changes
            changes["updated_at"] = now
            values = [
                json.dumps(v, sort_keys=True) if k == "spec" and v is not None else v
                for k, v in changes.items()
            ]
            columns = ", ".join(f"{k} = ?" for k in changes)
            conn.execute(f"UPDATE entries SET {columns} WHERE id = ?", [*values, entry.id])
            return attrs.evolve(entry, **changes)

        return self._write(write, durable=durable)

    # -- recording ------------------------------------------------------------------------

    def record_request(
        self,
        req: VideoRequest,
        *,
        gateway: str,
        dialect: str | None,
        run_id: str | None = None,
    ) -> JournalEntry:
        """Record a request about to be sent; returns its entry (state ``created``) with the
        ``idempotency_key`` its POST must carry. Credentials in ``gateway`` are dropped."""
        return self.record_requests([req], gateway=gateway, dialect=dialect, run_id=run_id)[0]

    def record_requests(
        self,
        requests: Sequence[VideoRequest],
        *,
        gateway: str,
        dialect: str | None,
        run_id: str | None = None,
    ) -> list[JournalEntry]:
        """``record_request`` for many requests in ONE transaction (one sync to disk), so a
        run of thousands can be journalled up front without stalling its event loop."""
        gateway = normalize_gateway(gateway)
        prepared = [
            (
                req.fingerprint(),
                json.dumps(req.to_dict(), sort_keys=True, separators=(",", ":"), ensure_ascii=False),
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
                    " idempotency_key, state, created_at, updated_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, 'created', ?, ?)",
                    (run_id, fingerprint, request_json, gateway, dialect, model, key, now, now),
                )
                entry = self._fetch(conn, int(cursor.lastrowid or 0))
                assert entry is not None
                entries.append(entry)
            return entries

        return self._write(write)

    def mark_sending(self, entry_id: int) -> JournalEntry:
        """The POST is about to leave: state ``sending``. An entry found in this state after
        a crash may have been created (and billed) by the gateway, unlike a ``created`` one,
        which was certainly never sent. Ignored once a task id is known."""

        def compute(entry: JournalEntry, now: float) -> dict[str, Any]:
            if entry.task_id is not None or entry.state not in ("created", "submit_unknown"):
                return {}
            return {"state": "sending"}

        return self._update(entry_id, compute)

    def record_submit(self, entry_id: int, task: Task, *, dialect: str | None = None) -> JournalEntry:
        """The gateway accepted the request as ``task``: state ``submitted`` (or what the task
        already is, e.g. ``completed``), task id and submit time recorded; ``dialect`` is the
        wire format that worked (what ``"auto"`` resolved to), needed to poll after a restart."""

        def compute(entry: JournalEntry, now: float) -> dict[str, Any]:
            if entry.state == "downloaded":
                return {}
            changes: dict[str, Any] = {"task_id": task.id}
            if dialect is not None:
                changes["dialect"] = dialect
            if entry.task_id is not None and entry.task_id != task.id:
                # a resubmission: the earlier task's snapshot says nothing about this one
                fresh: dict[str, Any] = dict.fromkeys(_TASK_FIELDS)
                changes.update(fresh)
                entry = attrs.evolve(entry, state="created", **fresh)
            if entry.submitted_at is None:
                changes["submitted_at"] = now
            changes.update(_task_changes(entry, task, now))
            return changes

        return self._update(entry_id, compute)

    def record_submit_unknown(self, entry_id: int, message: str) -> JournalEntry:
        """The POST may or may not have created a task (its answer was lost): state
        ``submit_unknown`` with ``message``. Ignored once a task id is known."""

        def compute(entry: JournalEntry, now: float) -> dict[str, Any]:
            if entry.task_id is not None or entry.state == "downloaded":
                return {}
            return {"state": "submit_unknown", "error": str(message), "error_code": None}

        return self._update(entry_id, compute)

    def record_task(self, entry_id: int, task: Task) -> JournalEntry:
        """A new snapshot of the entry's task: status, progress, URL, expiry and error; the
        state follows the status (never backwards from ``downloaded``, nor from a terminal
        status to a pending one)."""
        # A pending snapshot only moves progress: resume() needs none of it, so it is not
        # worth an fsync on every poll. Terminal snapshots are synced as before.
        return self._update(
            entry_id,
            lambda entry, now: _task_changes(entry, task, now),
            durable=TaskStatus(task.status).is_terminal,
        )

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
                "state": "downloaded",
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
        self, entry_id: int, error: BaseException | str, *, state: str = "failed"
    ) -> JournalEntry:
        """Record what stopped the entry (``"Type: message"`` for an exception, and its
        ``code`` when it has one) and move it to ``state`` (``failed``, ``cancelled``,
        ``timed_out``, ...). A ``downloaded`` entry keeps its state."""
        if state not in ENTRY_STATES or state == "downloaded":
            raise ValidationError("state", f"not an error state: {state!r}")
        text, code = _describe_error(error)

        def compute(entry: JournalEntry, now: float) -> dict[str, Any]:
            changes: dict[str, Any] = {"error": text, "error_code": code}
            if entry.state != "downloaded":
                changes["state"] = state
            return changes

        return self._update(entry_id, compute)

    def record_spec(self, entry_id: int, spec: Mapping[str, Any] | None) -> JournalEntry:
        """Store the measured video properties (any JSON-able mapping; other values become
        strings) for the entry."""
        value = _json_value(dict(spec)) if spec is not None else None
        return self._update(entry_id, lambda entry, now: {"spec": value})

    # -- reading --------------------------------------------------------------------------

    def get(self, entry_id: int) -> JournalEntry | None:
        """The entry with this id, or None."""
        return self._fetch(self._conn(), entry_id)

    def by_task_id(self, task_id: str, *, gateway: str | None = None) -> JournalEntry | None:
        """The newest entry for a remote task id (on ``gateway`` when given), or None."""
        sql = "SELECT * FROM entries WHERE task_id = ?"
        params: list[Any] = [task_id]
        if gateway is not None:
            sql += " AND gateway = ?"
            params.append(normalize_gateway(gateway))
        rows = self._read(sql + " ORDER BY id DESC LIMIT 1", params)
        return _entry_from_row(rows[0]) if rows else None

    def find_completed(
        self, fingerprint: str, *, gateway: str, model: str, verify: bool = False
    ) -> JournalEntry | None:
        """The newest ``downloaded`` entry of this request on this gateway and model whose
        file is still on disk with its recorded size (and, with ``verify=True``, its
        recorded checksum); None when there is none, so the request must be generated."""
        rows = self._read(
            "SELECT * FROM entries WHERE fingerprint = ? AND gateway = ? AND model = ?"
            " AND state = 'downloaded' ORDER BY id DESC LIMIT 50",
            (fingerprint, normalize_gateway(gateway), model),
        )
        for row in rows:
            entry = _entry_from_row(row)
            if not entry.path:
                continue
            path = pathlib.Path(entry.path)
            try:
                stat = path.stat()
            except OSError:
                continue
            if not path.is_file() or (entry.size is not None and stat.st_size != entry.size):
                continue
            if verify and entry.checksum and not _checksum_matches(path, entry.checksum):
                continue
            return entry
        return None

    def unfinished(self, *, gateway: str | None = None) -> list[JournalEntry]:
        """Entries resume must pick up, oldest first: created, submit_unknown, submitted,
        completed (not downloaded yet) and timed_out."""
        return self.entries(gateway=gateway, states=UNFINISHED_STATES)

    def entries(
        self,
        *,
        since: Since = None,
        models: str | Iterable[str] | None = None,
        gateway: str | None = None,
        run_id: str | None = None,
        states: str | Iterable[str] | None = None,
    ) -> list[JournalEntry]:
        """Entries oldest first, filtered by creation time (``since``), model names, gateway,
        run id and states."""
        where: list[str] = []
        params: list[Any] = []
        start = _epoch(since)
        if start is not None:
            where.append("created_at >= ?")
            params.append(start)
        for column, values in (("model", _names(models)), ("state", _names(states))):
            if values is not None:
                where.append(f"{column} IN ({', '.join('?' * len(values))})")
                params.extend(values)
        if gateway is not None:
            where.append("gateway = ?")
            params.append(normalize_gateway(gateway))
        if run_id is not None:
            where.append("run_id = ?")
            params.append(run_id)
        sql = "SELECT * FROM entries"
        if where:
            sql += " WHERE " + " AND ".join(where)
        return [_entry_from_row(row) for row in self._read(sql + " ORDER BY id", params)]

    def typical_seconds(
        self, model: str, *, gateway: str | None = None, recent: int = 20
    ) -> float | None:
        """The median seconds from submit to completion of the ``recent`` latest completed
        entries of ``model`` (on ``gateway`` when given); None with fewer than 3."""
        sql = (
            "SELECT completed_at - submitted_at AS seconds FROM entries"
            " WHERE model = ? AND state IN ('completed', 'downloaded')"
            " AND submitted_at IS NOT NULL AND completed_at >= submitted_at"
        )
        params: list[Any] = [model]
        if gateway is not None:
            sql += " AND gateway = ?"
            params.append(normalize_gateway(gateway))
        rows = self._read(sql + " ORDER BY completed_at DESC LIMIT ?", [*params, int(recent)])
        if len(rows) < 3:
            return None
        return float(statistics.median(row["seconds"] for row in rows))

    # -- votes ----------------------------------------------------------------------------

    def record_vote(
        self,
        *,
        run_id: str | None,
        row_key: str,
        candidates: Sequence[str],
        winner: str | None,
        loser: str | None = None,
        kind: str,
    ) -> int:
        """Record a vote and return its id. A later vote on the same run and row replaces the
        earlier one on the same question: the row's verdict (``best``/``skip``) or the same
        unordered pair (``pair``/``tie``)."""
        if kind not in VOTE_KINDS:
            raise ValidationError("kind", f"must be one of {', '.join(VOTE_KINDS)}, got {kind!r}")
        if not isinstance(row_key, str) or not row_key:
            raise ValidationError("row_key", "must be a non-empty string")
        if isinstance(candidates, str):
            raise ValidationError("candidates", "must be a sequence of names, not one string")
        shown = tuple(str(c) for c in candidates)
        involved = [v for v in (winner, loser) if v is not None]
        if shown and any(v not in shown for v in involved):
            raise ValidationError("winner", f"winner/loser must be among candidates {shown}")
        if kind == "best" and (winner is None or loser is not None):
            raise ValidationError("winner", "a 'best' vote names a winner and no loser")
        if kind == "pair" and (winner is None or loser is None or winner == loser):
            raise ValidationError("loser", "a 'pair' vote names a winner and a different loser")
        if kind == "tie" and len(set(involved if len(involved) == 2 else shown)) < 2:
            raise ValidationError("candidates", "a 'tie' needs two tied candidates")
        if kind == "skip" and involved:
            raise ValidationError("winner", "a 'skip' vote names no winner or loser")
        scope = _vote_scope(kind, shown, winner, loser)

        def write(conn: sqlite3.Connection) -> int:
            conn.execute(
                "DELETE FROM votes WHERE row_key = ? AND scope = ? AND run_id IS ?",
                (row_key, scope, run_id),
            )
            cursor = conn.execute(
                "INSERT INTO votes (run_id, row_key, candidates, winner, loser, kind, scope,"
                " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (run_id, row_key, json.dumps(shown), winner, loser, kind, scope, _now()),
            )
            return int(cursor.lastrowid or 0)

        return self._write(write)

    def votes(
        self,
        *,
        run_id: str | None = None,
        since: Since = None,
        models: str | Iterable[str] | None = None,
    ) -> list[Vote]:
        """Current votes oldest first, filtered by run, time, and ``models`` (votes with at
        least one candidate among them)."""
        where: list[str] = []
        params: list[Any] = []
        if run_id is not None:
            where.append("run_id = ?")
            params.append(run_id)
        start = _epoch(since)
        if start is not None:
            where.append("created_at >= ?")
            params.append(start)
        sql = "SELECT * FROM votes"
        if where:
            sql += " WHERE " + " AND ".join(where)
        result = [_vote_from_row(row) for row in self._read(sql + " ORDER BY id", params)]
        wanted = _names(models)
        if wanted is not None:
            keep = set(wanted)
            result = [v for v in result if keep.intersection(v.candidates)]
        return result
