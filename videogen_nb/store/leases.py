"""Who works on which journal entry: a run's lease, and taking entries over from a run
that is gone.

A run opens a lease (its owner name, pid, host and a heartbeat time) and its entries carry
that owner. While it works it renews the heartbeat (one UPDATE per interval for the whole
run); when it ends it releases the lease. ``resume()`` in any process takes an entry only
when its owner is gone: released, a dead pid on this host, or a heartbeat older than a
bound. Taking over is one compare-and-set ``UPDATE``: it succeeds only if the owner and
its heartbeat are still what the resumer judged, so of two racing resumers exactly one
wins, and an owner that renewed in between keeps its entry.
"""

from __future__ import annotations

import os
import socket
import sqlite3
from typing import Any

import attrs

from .db import Database

__all__ = ["Lease", "Leases", "pid_alive", "this_host", "why_gone"]


def this_host() -> str:
    """The name leases record for this machine."""
    return socket.gethostname()


def pid_alive(pid: int) -> bool:
    """True when a process with this id exists on this machine (any owner)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, belongs to someone else
    except OSError:
        return False
    return True


@attrs.define(frozen=True, kw_only=True)
class Lease:
    """One run's claim on its entries, as the journal last recorded it."""

    owner: str
    pid: int
    host: str
    started_at: float
    heartbeat_at: float
    released_at: float | None = None


def why_gone(lease: Lease | None, *, now: float, stale_after: float) -> str | None:
    """Why the lease's holder no longer works on its entries, or None while it may."""
    if lease is None:
        return "its run left no lease"
    if lease.released_at is not None:
        return f"run {lease.owner} ended"
    if lease.host == this_host() and not pid_alive(lease.pid):
        return f"run {lease.owner}'s process {lease.pid} is gone"
    age = now - lease.heartbeat_at
    if age > stale_after:
        return f"run {lease.owner} has not renewed its lease for {age:.0f} s"
    return None


def _lease_from_row(row: sqlite3.Row | None) -> Lease | None:
    return Lease(**dict(row)) if row is not None else None


class Leases:
    """The ``leases`` table and the ``owner`` column of entries, in one journal file."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def open(self, owner: str, *, now: float) -> Lease:
        """Take (or take again, renewing it) the lease ``owner`` for this process; returns
        it. Not synced on its own: the entries written next are, and sync it with them."""
        values = (owner, os.getpid(), this_host(), now, now)

        def write(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO leases (owner, pid, host, started_at, heartbeat_at)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (owner) DO UPDATE SET"
                " pid = excluded.pid, host = excluded.host,"
                " heartbeat_at = excluded.heartbeat_at, released_at = NULL",
                values,
            )

        self._db.write(write, durable=False)
        lease = self.get(owner)
        assert lease is not None
        return lease

    def renew(self, owner: str, *, now: float) -> bool:
        """The heartbeat: one UPDATE, not synced to disk (a lost beat only ages the lease).
        False when the lease is not held any more (released)."""

        def write(conn: sqlite3.Connection) -> int:
            cursor = conn.execute(
                "UPDATE leases SET heartbeat_at = ? WHERE owner = ? AND released_at IS NULL",
                (now, owner),
            )
            return int(cursor.rowcount)

        return self._db.write(write, durable=False) > 0

    def release(self, owner: str, *, now: float) -> None:
        """The run ended: its unfinished entries are free for ``resume()`` at once."""
        self._db.write(
            lambda conn: conn.execute(
                "UPDATE leases SET released_at = ? WHERE owner = ?", (now, owner)
            )
        )

    def get(self, owner: str | None) -> Lease | None:
        """The lease of ``owner`` (None for no owner or no lease)."""
        if owner is None:
            return None
        rows = self._db.read("SELECT * FROM leases WHERE owner = ?", (owner,))
        return _lease_from_row(rows[0] if rows else None)

    def take(
        self, entry_id: int, new_owner: str, *, expect_owner: str | None, expect_beat: float | None
    ) -> bool:
        """Give entry ``entry_id`` to ``new_owner`` if it still belongs to ``expect_owner``
        and that owner's heartbeat is still ``expect_beat`` (None: no live lease): one
        atomic compare-and-set. True when this call took it."""
        sql = (
            "UPDATE entries SET owner = ? WHERE id = ? AND owner IS ?"
            " AND (SELECT CASE WHEN released_at IS NULL THEN heartbeat_at END"
            " FROM leases WHERE owner = ?) IS ?"
        )
        params: tuple[Any, ...] = (new_owner, entry_id, expect_owner, expect_owner, expect_beat)
        return bool(self._db.write(lambda conn: conn.execute(sql, params).rowcount) > 0)

    def holds(self, owner: str, entry_ids: list[int]) -> set[int]:
        """Which of ``entry_ids`` ``owner`` holds now."""
        if not entry_ids:
            return set()
        marks = ", ".join("?" * len(entry_ids))
        rows = self._db.read(
            f"SELECT id FROM entries WHERE owner IS ? AND id IN ({marks})", (owner, *entry_ids)
        )
        return {int(row["id"]) for row in rows}
