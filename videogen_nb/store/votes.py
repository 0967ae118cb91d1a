"""``VoteBook``: the journal's votes from the comparison grid, kept for the leaderboard.

A part of ``Journal`` (mixed in): one row per current vote in the ``votes`` table. A later
vote on the same run and row replaces the earlier one on the same question, so the table
holds each voter's last word, never a history to be deduplicated on every read.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from .changes import Since, epoch, names, validate_vote, vote_scope
from .db import Database
from .entries import Vote, vote_from_row
from .query import select_all

__all__ = ["VoteBook"]


class VoteBook:
    """The vote methods of ``Journal``; they use the journal's database, its reads (which
    commit held snapshots first) and its clock, all provided by ``Journal``."""

    _db: Database
    #: a read of this journal after its held writes are committed (``Journal._read``)
    _read: Callable[[str, Sequence[Any]], list[sqlite3.Row]]
    #: the journal's clock in epoch seconds (``Journal._clock``; tests replace it)
    _clock: Callable[[], float]

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
        shown = validate_vote(kind, row_key, candidates, winner, loser)
        scope = vote_scope(kind, shown, winner, loser)
        created_at = self._clock()

        def write(conn: sqlite3.Connection) -> int:
            conn.execute(
                "DELETE FROM votes WHERE row_key = ? AND scope = ? AND run_id IS ?",
                (row_key, scope, run_id),
            )
            cursor = conn.execute(
                "INSERT INTO votes (run_id, row_key, candidates, winner, loser, kind, scope,"
                " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (run_id, row_key, json.dumps(shown), winner, loser, kind, scope, created_at),
            )
            return int(cursor.lastrowid or 0)

        return self._db.write(write)

    def votes(
        self,
        *,
        run_id: str | None = None,
        since: Since = None,
        models: str | Iterable[str] | None = None,
    ) -> list[Vote]:
        """Current votes oldest first, filtered by run, time, and ``models`` (votes with at
        least one candidate among them)."""
        sql, params = select_all(
            "votes", created_since=epoch(since, self._clock()), equal={"run_id": run_id}
        )
        result = [vote_from_row(row) for row in self._read(sql, params)]
        wanted = names(models)
        if wanted is not None:
            keep = set(wanted)
            result = [v for v in result if keep.intersection(v.candidates)]
        return result
