"""One definition of the vote kinds (``core.scoring``): what the journal stores, what the
leaderboard and ``win_rates`` count, and the subset a comparison-grid row can get."""

from __future__ import annotations

import pathlib

import pytest

from videogen_nb.core.errors import ValidationError
from videogen_nb.core.scoring import ROW_VOTE_KINDS, VOTE_KINDS, win_rates
from videogen_nb.insight import compute_leaderboard
from videogen_nb.store import journal as journal_mod
from videogen_nb.store.journal import Journal
from videogen_nb.widgets import grid as grid_mod

# a well-formed vote of each kind, as record_vote takes it
EXAMPLES = {
    "best": {"winner": "a", "loser": None},
    "pair": {"winner": "a", "loser": "b"},
    "tie": {"winner": None, "loser": None},
    "skip": {"winner": None, "loser": None},
}


def test_one_set_of_kinds_everywhere() -> None:
    assert VOTE_KINDS == ("best", "pair", "tie", "skip")
    # a grid row is judged as a whole: a best cell, a tie or a skip, never a pair
    assert ROW_VOTE_KINDS == ("best", "tie", "skip")
    assert set(ROW_VOTE_KINDS) < set(VOTE_KINDS)
    assert journal_mod.VOTE_KINDS is VOTE_KINDS
    assert grid_mod.VOTE_KINDS is ROW_VOTE_KINDS
    assert set(EXAMPLES) == set(VOTE_KINDS)


def test_the_journal_stores_every_kind_and_the_counts_read_them(tmp_path: pathlib.Path) -> None:
    with Journal(tmp_path / "j.sqlite") as journal:
        for kind in VOTE_KINDS:
            journal.record_vote(
                run_id="r",
                row_key=f"row-{kind}",
                candidates=["a", "b"],
                kind=kind,
                **EXAMPLES[kind],
            )
        with pytest.raises(ValidationError, match="must be one of best, pair, tie, skip"):
            journal.record_vote(
                run_id="r", row_key="x", candidates=["a", "b"], winner="a", kind="upvote"
            )
        votes = journal.votes()
    assert [v.kind for v in votes] == list(VOTE_KINDS)
    # best: a wins, b loses; pair: a over b; tie: half each; skip: nothing
    rates = win_rates(votes)
    assert {m: (r["wins"], r["ties"], r["losses"]) for m, r in rates.items()} == {
        "a": (2, 1, 0),
        "b": (0, 1, 2),
    }
    board = compute_leaderboard([], votes)
    row_a = board.row("a")
    assert row_a is not None and (row_a.wins, row_a.ties, row_a.losses) == (2, 1, 0)
    assert board.skipped_votes == 1
