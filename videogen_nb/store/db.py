"""``Database``: the journal's SQLite file, its per-thread connections and its transactions.

The file is created here with mode 0600 (not by sqlite, so the umask cannot widen it) and
switched to WAL mode with a busy timeout, so two kernels (processes) can share it. Each
thread gets its own connection: the client writes from its event-loop thread while widgets
read from the kernel thread. After a ``fork`` the parent's connections are dropped, never
used. Every write is one ``BEGIN IMMEDIATE`` transaction committed before ``write`` returns,
except inside ``batch()``, where the writes share one transaction (a group commit).
"""

from __future__ import annotations

import contextlib
import os
import pathlib
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

from ..core.errors import VideoGenError

__all__ = ["Database"]

_T = TypeVar("_T")


class Database:
    """The SQLite file at ``path`` (created with mode 0600 when missing), in WAL mode."""

    def __init__(self, path: pathlib.Path, *, busy_timeout: float) -> None:
        self.path = path
        self._busy_timeout = float(busy_timeout)
        self._lock = threading.Lock()
        self._local = threading.local()
        self._connections: list[tuple[threading.Thread, sqlite3.Connection]] = []
        self._pid = os.getpid()
        self.closed = False
        self._create_file()
        self._enable_wal(self.connection())

    def close(self) -> None:
        """Close every connection opened here (any thread's). Idempotent."""
        with self._lock:
            self.closed = True
            connections, self._connections = self._connections, []
        for _, conn in connections:
            with contextlib.suppress(sqlite3.Error):
                conn.close()

    def secure_companions(self) -> None:
        """Mode 0600 on the ``-wal``/``-shm`` files too.

        sqlite copies the main file's mode onto them; this is belt and braces."""
        for suffix in ("-wal", "-shm"):
            companion = self.path.with_name(self.path.name + suffix)
            with contextlib.suppress(OSError):
                os.chmod(companion, 0o600)

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

    def connection(self) -> sqlite3.Connection:
        """This thread's connection (opened on first use)."""
        if self.closed:
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
        conn = self._open()
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

    def _open(self) -> sqlite3.Connection:
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
        return conn

    def write(self, fn: Callable[[sqlite3.Connection], _T], *, durable: bool = True) -> _T:
        """Run ``fn`` in one write transaction, committed before returning.

        ``durable=False`` commits without an fsync (``synchronous = NORMAL``): the change
        still survives a killed process, only a power cut can take it, and the next durable
        commit syncs it too. Only for writes that nothing depends on (progress snapshots),
        which a run makes on every poll of every task.
        """
        conn = self.connection()
        if getattr(self._local, "batch", False):
            return self._write_in_batch(conn, fn)
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

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """One write transaction (one sync to disk) for every ``write`` this thread makes
        inside the block: a group commit. Each write runs in its own savepoint, so one that
        raises undoes only its own changes; the others are committed (and synced) when the
        block ends, and none of them is on disk before. Nested blocks join the outer one."""
        if getattr(self._local, "batch", False):
            yield
            return
        conn = self.connection()
        conn.execute("BEGIN IMMEDIATE")
        self._local.batch = True
        try:
            yield
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        finally:
            self._local.batch = False

    @staticmethod
    def _write_in_batch(conn: sqlite3.Connection, fn: Callable[[sqlite3.Connection], _T]) -> _T:
        conn.execute("SAVEPOINT batch_item")
        try:
            result = fn(conn)
        except BaseException:
            conn.execute("ROLLBACK TO batch_item")
            conn.execute("RELEASE batch_item")
            raise
        conn.execute("RELEASE batch_item")
        return result

    def read(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        """The rows of one query on this thread's connection."""
        return self.connection().execute(sql, params).fetchall()
