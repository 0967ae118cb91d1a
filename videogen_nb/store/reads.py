"""``EntryReads``: the journal's filtered reads of its entries (by task id, by request, by
model, gateway, run, state and time), and the typical wait of a model.

A part of ``Journal`` (mixed in). Every read goes through ``Journal._read``, which commits
the snapshots the journal holds back first, so this process always reads what it wrote.
"""

from __future__ import annotations

import pathlib
import sqlite3
import statistics
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from ..core.states import SUCCEEDED_STATES, UNFINISHED_STATES, EntryState
from .changes import Since, epoch, names
from .entries import JournalEntry, checksum_matches, entry_from_row, normalize_gateway
from .query import select_all

__all__ = ["EntryReads"]


class EntryReads:
    """The read methods of ``Journal`` over its entries; they use the journal's reads and
    its clock, both provided by ``Journal``."""

    #: a read of this journal after its held writes are committed (``Journal._read``)
    _read: Callable[[str, Sequence[Any]], list[sqlite3.Row]]
    #: the journal's clock in epoch seconds (``Journal._clock``; tests replace it)
    _clock: Callable[[], float]

    def by_task_id(self, task_id: str, *, gateway: str | None = None) -> JournalEntry | None:
        """The newest entry for a remote task id (on ``gateway`` when given), or None."""
        sql = "SELECT * FROM entries WHERE task_id = ?"
        params: list[Any] = [task_id]
        if gateway is not None:
            sql += " AND gateway = ?"
            params.append(normalize_gateway(gateway))
        rows = self._read(sql + " ORDER BY id DESC LIMIT 1", params)
        return entry_from_row(rows[0]) if rows else None

    def find_completed(
        self, fingerprint: str, *, gateway: str, model: str, verify: bool = False
    ) -> JournalEntry | None:
        """The newest ``downloaded`` entry of this request on this gateway and model whose
        file is still on disk with its recorded size (and, with ``verify=True``, its
        recorded checksum); None when there is none, so the request must be generated."""
        rows = self._read(
            "SELECT * FROM entries WHERE fingerprint = ? AND gateway = ? AND model = ?"
            " AND state = ? ORDER BY id DESC LIMIT 50",
            (fingerprint, normalize_gateway(gateway), model, EntryState.DOWNLOADED.value),
        )
        for row in rows:
            entry = entry_from_row(row)
            if not entry.path:
                continue
            path = pathlib.Path(entry.path)
            try:
                stat = path.stat()
            except OSError:
                continue
            if not path.is_file() or (entry.size is not None and stat.st_size != entry.size):
                continue
            if verify and entry.checksum and not checksum_matches(path, entry.checksum):
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
        sql, params = select_all(
            "entries",
            created_since=epoch(since, self._clock()),
            equal={
                "gateway": None if gateway is None else normalize_gateway(gateway),
                "run_id": run_id,
            },
            within={"model": names(models), "state": names(states)},
        )
        return [entry_from_row(row) for row in self._read(sql, params)]

    def typical_seconds(
        self, model: str, *, gateway: str | None = None, recent: int = 20
    ) -> float | None:
        """The median seconds from submit to completion of the ``recent`` latest completed
        entries of ``model`` (on ``gateway`` when given); None with fewer than 3."""
        succeeded = sorted(state.value for state in SUCCEEDED_STATES)
        sql = (
            "SELECT completed_at - submitted_at AS seconds FROM entries"
            f" WHERE model = ? AND state IN ({', '.join('?' * len(succeeded))})"
            " AND submitted_at IS NOT NULL AND completed_at >= submitted_at"
        )
        params: list[Any] = [model, *succeeded]
        if gateway is not None:
            sql += " AND gateway = ?"
            params.append(normalize_gateway(gateway))
        rows = self._read(sql + " ORDER BY completed_at DESC LIMIT ?", [*params, int(recent)])
        if len(rows) < 3:
            return None
        return float(statistics.median(row["seconds"] for row in rows))
