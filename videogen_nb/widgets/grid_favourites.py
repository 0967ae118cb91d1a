"""A comparison grid's favourites: a star on a cell, kept in the journal.

Mixed into ``ComparisonGrid``. A star marks one video (its journal entry, ``Result.journal_id``)
in the journal's ``favourites`` table (``Journal.set_favourite``), so a grid reopened in a new
kernel, for the same run or any grid showing the same videos, shows its stars again. A
favourite is not a vote: it never counts in the leaderboard. Results that have no journal
entry (files shown directly), or a grid without a journal, keep their stars in the widget.

>>> grid.favourite(2); grid.favourite_results    # doctest: +SKIP
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any, Protocol, runtime_checkable

from ..core.task import Result

__all__ = ["FavouriteKeeper", "GridFavourites"]

log = logging.getLogger(__name__)


@runtime_checkable
class FavouriteKeeper(Protocol):
    """What a grid needs of a journal to keep favourites (``videogen_nb.journal.Journal``)."""

    def set_favourite(self, entry_id: int, on: bool = True, *, run_id: str | None = None) -> None:
        """Mark (or unmark) one entry's video."""

    def favourite_entries(
        self, entry_ids: Iterable[int] | None = None, *, run_id: str | None = None
    ) -> set[int]:
        """The marked entry ids among ``entry_ids``."""


class GridFavourites:
    """Favourite cells, mixed into ``ComparisonGrid`` (which provides ``_lock``,
    ``_results``, ``_result_at``, ``journal``, ``run_id`` and the traitlets ``favourites``/``message``)."""

    #: the journal entries already looked up for stars (each is read once per grid)
    _favourites_seen: set[int]

    def _favourite_keeper(self) -> FavouriteKeeper | None:
        journal = getattr(self, "journal", None)
        return journal if isinstance(journal, FavouriteKeeper) else None

    def favourite(self, index: int, on: bool = True) -> list[int]:
        """Mark (or unmark) cell ``index`` as a favourite; returns the favourite cells.

        The mark goes to the journal when the cell's video has an entry there (a journal
        error is said in the control bar; the star stays in the widget).
        """
        grid: Any = self
        result: Result = grid._result_at(index)  # GridActions: IndexError for no such cell
        marked = set(grid.favourites)
        if on:
            marked.add(index)
        else:
            marked.discard(index)
        grid.favourites = sorted(marked)
        keeper = self._favourite_keeper()
        if keeper is not None and result.journal_id is not None:
            try:
                keeper.set_favourite(result.journal_id, on, run_id=grid.run_id)
            except Exception as exc:  # the star stays in the grid; say it was not saved
                log.warning("favourite not saved to the journal: %s", exc)
                grid.message = f"favourite not saved to the journal: {exc}"
        return list(grid.favourites)

    def _load_favourites(self) -> None:
        """Star the cells whose entries the journal has marked (read once per entry, so a
        grid updated on every poll does not read the journal each time)."""
        keeper = self._favourite_keeper()
        if keeper is None:
            return
        grid: Any = self
        with grid._lock:
            ids = {r.journal_id for r in grid._results if r.journal_id is not None}
            fresh = ids - self._favourites_seen
            if not fresh:
                return
            try:
                marked = keeper.favourite_entries(fresh)
            except Exception as exc:  # a grid shows without its saved stars, and says so
                log.warning("favourites not read from the journal: %s", exc)
                grid.message = f"favourites not read from the journal: {exc}"
                return
            self._favourites_seen |= fresh
            stars = {i for i, r in enumerate(grid._results) if r.journal_id in marked}
            if stars - set(grid.favourites):
                grid.favourites = sorted(set(grid.favourites) | stars)

    @property
    def favourite_results(self) -> list[Result]:
        """The results marked as favourites, in cell order."""
        grid: Any = self
        with grid._lock:
            return [grid._results[i] for i in grid.favourites if i < len(grid._results)]
