"""Favourites are kept in the journal: a grid reopened in a new kernel shows its stars,
and a star is never a vote (the leaderboard does not count it)."""

from __future__ import annotations

import pathlib
import sqlite3
from typing import Any

import comm
import pytest
from comm.base_comm import BaseComm

import videogen_nb as vg
from tests.support import small
from videogen_nb.client.sync_client import Client
from videogen_nb.core.request import VideoRequest
from videogen_nb.core.task import Result
from videogen_nb.store.journal import Journal
from videogen_nb.store.schema import SCHEMA_VERSION, migrate
from videogen_nb.widgets.grid import ComparisonGrid


class QuietComm(BaseComm):  # type: ignore[misc]
    """A comm with no front end: the widget's messages go nowhere."""

    def publish_msg(self, *args: Any, **kwargs: Any) -> None:
        pass


@pytest.fixture(autouse=True)
def no_front_end(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(comm, "create_comm", lambda *a, **k: QuietComm(*a, **k))


def _requests() -> list[VideoRequest]:
    return [small("a paper boat", model=model) for model in ("kling-v1", "veo_3_1")]


def test_stars_survive_the_kernel_and_are_not_votes(
    sandbox: Any, client_options: dict[str, Any]
) -> None:
    with Client(sandbox.base_url, sandbox.api_key, **client_options) as client:
        run = client.run(_requests())
        run.wait(30)
        assert all(r.ok and r.journal_id is not None for r in run.results)
        grid = ComparisonGrid(run.results, journal=client.journal, run_id=run.run_id)
        assert grid.favourites == []
        star = next(i for i, r in enumerate(grid.results) if r.request.model == "veo_3_1")
        grid._on_custom_msg(grid, {"type": "favourite", "cell": star, "on": True}, [])
        assert grid.favourites == [star] and grid.message == ""
        run_id, starred_entry = run.run_id, grid.results[star].journal_id

    # A new kernel: a new client on the same journal file, the same run's results read back.
    with Client(sandbox.base_url, sandbox.api_key, **client_options) as again:
        assert again.journal is not None
        assert again.journal.favourite_entries(run_id=run_id) == {starred_entry}
        rerun = again.run(_requests())  # served from the journal: the same entries
        rerun.wait(30)
        reopened = ComparisonGrid(rerun.results, journal=again.journal, run_id=run_id)
        assert [reopened.results[i].journal_id for i in reopened.favourites] == [starred_entry]
        assert [r.request.model for r in reopened.favourite_results] == ["veo_3_1"]
        # A star is not a vote: nothing in the votes, no win on the leaderboard.
        assert again.journal.votes() == []
        board = vg.leaderboard(again.journal)
        assert all(row.votes == 0 and row.wins == 0 for row in board.rows)
        # Unmarking is kept too.
        reopened.favourite(reopened.favourites[0], on=False)
        assert again.journal.favourite_entries() == set()
    assert ComparisonGrid(rerun.results).favourites == []  # no journal: nothing to read


def test_a_grid_reads_each_entry_once_not_on_every_update(tmp_path: pathlib.Path) -> None:
    reads: list[set[int]] = []

    class CountingJournal(Journal):
        def favourite_entries(self, entry_ids: Any = None, *, run_id: Any = None) -> set[int]:
            reads.append(set(entry_ids or ()))
            return super().favourite_entries(entry_ids, run_id=run_id)

    with CountingJournal(tmp_path / "j.sqlite") as journal:
        journal.set_favourite(7, run_id="r1")
        results = [
            Result(request=VideoRequest(prompt="p", model=m), journal_id=i)
            for i, m in ((7, "a"), (8, "b"))
        ]
        grid = ComparisonGrid(results, journal=journal, run_id="r1")
        assert grid.favourites == [0]
        for _ in range(5):  # progress updates re-render the grid
            grid.update_result(1, results[1])
        assert reads == [{7, 8}]
        grid.update_result(2, Result(request=VideoRequest(prompt="p", model="c"), journal_id=9))
        assert reads == [{7, 8}, {9}]


def test_a_journal_error_keeps_the_star_and_says_so(tmp_path: pathlib.Path) -> None:
    journal = Journal(tmp_path / "j.sqlite")
    grid = ComparisonGrid(
        [Result(request=VideoRequest(prompt="p", model="a"), journal_id=3)], journal=journal
    )
    journal.close()
    grid.favourite(0)
    assert grid.favourites == [0]
    assert "favourite not saved to the journal" in grid.message


def test_a_version_4_journal_gains_the_favourites_table(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "v4.sqlite"
    raw = sqlite3.connect(path, isolation_level=None)
    raw.execute("BEGIN IMMEDIATE")
    migrate(raw, target=4)
    raw.execute("COMMIT")
    raw.close()
    with Journal(path) as journal:
        journal.set_favourite(1, run_id="r")
        journal.set_favourite(1, run_id="r")  # twice: still one mark
        journal.set_favourite(2)
        assert journal.favourite_entries() == {1, 2}
        assert journal.favourite_entries([2, 5]) == {2}
        assert journal.favourite_entries(run_id="r") == {1}
        assert journal.favourite_entries([]) == set()
    raw = sqlite3.connect(path)
    assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION >= 5
    assert raw.execute("SELECT COUNT(*) FROM favourites").fetchone()[0] == 2
    raw.close()
