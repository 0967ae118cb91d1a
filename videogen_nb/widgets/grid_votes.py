"""Votes on a comparison grid's rows: the best cell, a tie or a skip, blind until revealed.

Mixed into ``ComparisonGrid``: a vote names models, never slot letters, replaces the row's
earlier vote, goes to the optional journal (``record_vote``) and to ``on_vote`` callbacks.
Once a blind grid's models are revealed, voting is closed (a vote would not be blind).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Protocol

from ..core.scoring import ROW_VOTE_KINDS as VOTE_KINDS
from ..core.scoring import win_rates
from ..core.task import Result
from ..display.layout import GridLayout

__all__ = ["GridVoting", "VoteRecorder"]

log = logging.getLogger(__name__)


class VoteRecorder(Protocol):
    """What a grid needs of a journal to save votes (``videogen_nb.journal.Journal``)."""

    def record_vote(
        self,
        *,
        run_id: str | None,
        row_key: str,
        candidates: list[str],
        winner: str | None,
        loser: str | None,
        kind: str,
    ) -> Any:
        """Save one vote."""


class GridVoting:
    """Votes on a grid's rows, mixed into ``ComparisonGrid`` (which provides the state
    declared here: its traitlets, lock, layout and results)."""

    blind: bool
    revealed: bool
    voted: dict[str, Any]
    message: str
    journal: VoteRecorder | None
    run_id: str | None
    votes: list[dict[str, Any]]
    on_vote: list[Callable[[dict[str, Any]], Any]]
    _lock: Any
    _results: list[Result]

    @property
    def grid_layout(self) -> GridLayout:
        """Where each result sits (the grid's own)."""
        raise NotImplementedError  # ComparisonGrid's property comes first in the MRO

    def vote(self, row: int, kind: str = "best", *, cell: int | None = None) -> dict[str, Any]:
        """Record a vote on ``row``: ``kind="best"`` with the winning ``cell`` index, or
        ``"tie"``/``"skip"``. Returns the vote dict (model names, never letters)."""
        if kind not in VOTE_KINDS:
            raise ValueError(f"vote kind must be one of {VOTE_KINDS}, got {kind!r}")
        if self.blind and self.revealed:
            raise ValueError(
                "voting is closed: the models are revealed, so a vote is no longer blind"
            )
        with self._lock:
            layout = self.grid_layout
            if not 0 <= row < len(layout.rows):
                raise IndexError(f"no row {row}")
            in_row = sorted(
                (i for i, (r, _c) in enumerate(layout.positions) if r == row),
                key=lambda i: layout.positions[i][1],
            )
            candidates = [self._results[i].request.model for i in in_row if self._results[i].ok]
            winner = self._winner(row, kind, cell, in_row, candidates)
            record: dict[str, Any] = {
                "row": layout.rows[row][1],
                "winner": winner,
                "kind": kind,
                "candidates": list(dict.fromkeys(candidates)),
                "row_index": row,
            }
            self.votes = [v for v in self.votes if v["row_index"] != row] + [record]
            voted = dict(self.voted)
            voted[str(row)] = {"kind": kind, "cell": cell if kind == "best" else None}
            self.voted = voted
        self._save_vote(record)
        self._announce_vote(record)
        return record

    def _winner(
        self, row: int, kind: str, cell: int | None, in_row: list[int], candidates: list[str]
    ) -> str | None:
        """The model a vote of ``kind`` picks (None for a tie or a skip); raises
        ``ValueError`` when the vote does not fit the row."""
        if kind == "best":
            if cell is None or cell not in in_row:
                raise ValueError(f"cell {cell} is not in row {row}")
            if not self._results[cell].ok:
                raise ValueError(f"cell {cell} has no video to vote for")
            return self._results[cell].request.model
        if kind == "tie" and len(set(candidates)) < 2:
            raise ValueError(f"row {row} has fewer than two videos to call a tie")
        return None

    def _save_vote(self, record: dict[str, Any]) -> None:
        if self.journal is None:
            return
        try:
            self.journal.record_vote(
                run_id=self.run_id,
                row_key=record["row"],
                candidates=record["candidates"],
                winner=record["winner"],
                loser=None,
                kind=record["kind"],
            )
        except Exception as exc:  # the vote stays in the grid; say it was not saved
            log.warning("vote not saved to the journal: %s", exc)
            self.message = f"vote not saved to the journal: {exc}"

    def _announce_vote(self, record: dict[str, Any]) -> None:
        for callback in list(self.on_vote):
            try:
                callback(dict(record))
            except Exception:
                log.exception("on_vote callback failed")

    def scores(self) -> dict[str, dict[str, float]]:
        """Per-model win rates from this grid's votes (see ``votes.win_rates``)."""
        return win_rates(self.votes)
