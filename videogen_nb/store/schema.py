"""The journal's SQLite schema and the migrations that bring an older file up to date.

Each migration is one function applied inside the caller's write transaction, in order,
from the file's ``PRAGMA user_version`` up to ``SCHEMA_VERSION``; the version is bumped in
the same transaction, so a crash mid-migration leaves the file at the old version, intact.
To add a column later: append a function to ``MIGRATIONS`` that runs ``ALTER TABLE``.
Only ``journal.py`` uses this module.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from ..core.errors import VideoGenError

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "migrate"]


def _v1_entries(conn: sqlite3.Connection) -> None:
    """Version 1: one row per request and the task it became."""
    conn.execute(
        """
        CREATE TABLE IF NOT EXISTS entries (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            run_id TEXT,
            fingerprint TEXT NOT NULL,
            request TEXT NOT NULL,
            gateway TEXT NOT NULL,
            dialect TEXT,
            model TEXT NOT NULL,
            idempotency_key TEXT NOT NULL UNIQUE,
            state TEXT NOT NULL,
            task_id TEXT,
            status TEXT,
            progress INTEGER,
            video_url TEXT,
            url_expires_at REAL,
            path TEXT,
            checksum TEXT,
            size INTEGER,
            created_at REAL NOT NULL,
            submitted_at REAL,
            completed_at REAL,
            downloaded_at REAL,
            updated_at REAL NOT NULL,
            error TEXT,
            error_code TEXT
        )
        """
    )
    conn.execute("CREATE INDEX IF NOT EXISTS entries_fingerprint ON entries (fingerprint)")
    conn.execute("CREATE INDEX IF NOT EXISTS entries_task_id ON entries (task_id)")
    conn.execute("CREATE INDEX IF NOT EXISTS entries_state ON entries (state)")


def _v2_spec_and_votes(conn: sqlite3.Connection) -> None:
    """Version 2: measured video spec per entry, human votes, and indexes for the filters."""
    conn.execute("ALTER TABLE entries ADD COLUMN spec TEXT")
    conn.execute("CREATE INDEX IF NOT EXISTS entries_model ON entries (model, created_at)")
    conn.execute("CREATE INDEX IF NOT EXISTS entries_run_id ON entries (run_id)")
    conn.execute(
        """
        CREATE TABLE IF NOT EXISTS votes (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            run_id TEXT,
            row_key TEXT NOT NULL,
            candidates TEXT NOT NULL,
            winner TEXT,
            loser TEXT,
            kind TEXT NOT NULL,
            -- what a later vote replaces: the row verdict, or one unordered pair
            scope TEXT NOT NULL,
            created_at REAL NOT NULL
        )
        """
    )
    conn.execute("CREATE INDEX IF NOT EXISTS votes_scope ON votes (row_key, scope)")
    conn.execute("CREATE INDEX IF NOT EXISTS votes_created ON votes (created_at)")


def _v3_leases(conn: sqlite3.Connection) -> None:
    """Version 3: entries have an owner, the run holding them; a run's lease says who it
    is (pid, host) and when it last showed it was alive (``heartbeat_at``)."""
    conn.execute("ALTER TABLE entries ADD COLUMN owner TEXT")
    conn.execute("CREATE INDEX IF NOT EXISTS entries_owner ON entries (owner)")
    conn.execute(
        """
        CREATE TABLE IF NOT EXISTS leases (
            owner TEXT PRIMARY KEY,
            pid INTEGER NOT NULL,
            host TEXT NOT NULL,
            started_at REAL NOT NULL,
            heartbeat_at REAL NOT NULL,
            -- set when the run ended: its entries are free for resume() at once
            released_at REAL
        )
        """
    )


def _v4_cost(conn: sqlite3.Connection) -> None:
    """Version 4: the cost a gateway reported for the entry's task (``core.cost.Cost`` as
    columns: amount, currency, source, plain-words basis, and the seconds it billed), so
    spending can be summed in SQL."""
    for column in (
        "cost_amount REAL",
        "cost_currency TEXT",
        "cost_source TEXT",
        "cost_basis TEXT",
        "billed_seconds REAL",
    ):
        conn.execute(f"ALTER TABLE entries ADD COLUMN {column}")


def _v5_favourites(conn: sqlite3.Connection) -> None:
    """Version 5: the videos marked as favourites in a comparison grid, one row per entry
    (a mark on one video, not a comparison: kept apart from ``votes`` so it never counts
    in the leaderboard)."""
    conn.execute(
        """
        CREATE TABLE IF NOT EXISTS favourites (
            entry_id INTEGER PRIMARY KEY,
            -- the run whose grid marked it (a cached entry may be shown by several runs)
            run_id TEXT,
            created_at REAL NOT NULL
        )
        """
    )
    conn.execute("CREATE INDEX IF NOT EXISTS favourites_run_id ON favourites (run_id)")


#: migration ``i`` (0-based) takes a file from version ``i`` to ``i + 1``
MIGRATIONS: tuple[Callable[[sqlite3.Connection], None], ...] = (
    _v1_entries,
    _v2_spec_and_votes,
    _v3_leases,
    _v4_cost,
    _v5_favourites,
)

SCHEMA_VERSION = len(MIGRATIONS)


def migrate(conn: sqlite3.Connection, *, target: int = SCHEMA_VERSION) -> int:
    """Apply the missing migrations up to ``target`` inside an open transaction.

    Returns the version the file had before. Raises ``VideoGenError`` when the file was
    written by a newer videogen-nb (a higher version than this code knows).
    """
    current = int(conn.execute("PRAGMA user_version").fetchone()[0])
    if current > SCHEMA_VERSION:
        raise VideoGenError(
            f"journal schema version {current} is newer than this videogen-nb understands "
            f"({SCHEMA_VERSION}); upgrade videogen-nb or use another journal path"
        )
    for version in range(current, target):
        MIGRATIONS[version](conn)
    if target > current:
        # PRAGMA does not take parameters; the value is an int we computed
        conn.execute(f"PRAGMA user_version = {int(target)}")
    return current
