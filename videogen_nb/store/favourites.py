"""``FavouriteBook``: the videos marked as favourites in a comparison grid.

A part of ``Journal`` (mixed in, like ``VoteBook``): one row per marked entry in the
``favourites`` table (schema v5), so a grid reopened in a new kernel shows its stars again.
A favourite is a mark on one video, not a comparison: it is not a vote and never counts in
the leaderboard.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from .db import Database

__all__ = ["FavouriteBook"]


class FavouriteBook:
    """The favourite methods of ``Journal``; they use the journal's database, its reads and
    its clock, all provided by ``Journal``."""

    _db: Database
    #: a read of this journal after its held writes are committed (``Journal._read``)
    _read: Callable[[str, Sequence[Any]], list[sqlite3.Row]]
    #: the journal's clock in epoch seconds (``Journal._clock``; tests replace it)
    _clock: Callable[[], float]

    def set_favourite(self, entry_id: int, on: bool = True, *, run_id: str | None = None) -> None:
        """Mark entry ``entry_id``'s video as a favourite (``on=False``: unmark it).

        Marking twice keeps one mark (the latest run and time); unmarking an unmarked entry
        does nothing.
        """
        entry = int(entry_id)
        at = self._clock()

        def write(conn: sqlite3.Connection) -> None:
            if on:
                conn.execute(
                    "INSERT OR REPLACE INTO favourites (entry_id, run_id, created_at)"
                    " VALUES (?, ?, ?)",
                    (entry, run_id, at),
                )
            else:
                conn.execute("DELETE FROM favourites WHERE entry_id = ?", (entry,))

        self._db.write(write)

    def favourite_entries(
        self, entry_ids: Iterable[int] | None = None, *, run_id: str | None = None
    ) -> set[int]:
        """The marked entry ids: among ``entry_ids`` when given, else those marked by
        ``run_id``'s grid when given, else all of them."""
        if entry_ids is not None:
            wanted = sorted({int(i) for i in entry_ids})
            if not wanted:
                return set()
            marks = ", ".join("?" for _ in wanted)
            rows = self._read(
                f"SELECT entry_id FROM favourites WHERE entry_id IN ({marks})", wanted
            )
        elif run_id is not None:
            rows = self._read("SELECT entry_id FROM favourites WHERE run_id = ?", (run_id,))
        else:
            rows = self._read("SELECT entry_id FROM favourites", ())
        return {int(row[0]) for row in rows}
