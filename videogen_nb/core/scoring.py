"""Win rates from blind-comparison votes.

A vote is one row of a blind grid judged: ``kind`` is ``"best"`` (``winner`` is a model
name), ``"tie"`` (every candidate shares the row) or ``"skip"`` (not counted); journal
records may also be ``"pair"`` votes (``winner`` over ``loser``).
``Run.scores()``, ``ComparisonGrid.scores()`` and the leaderboard all use ``win_rates``; it sits
at the bottom of the package so every layer may import it.

>>> win_rates([
...     {"row": "boat", "kind": "best", "winner": "a", "candidates": ["a", "b"]},
...     {"row": "dog", "kind": "tie", "winner": None, "candidates": ["a", "b"]},
... ])["a"]["win_rate"]
0.75
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["ROW_VOTE_KINDS", "VOTE_KINDS", "win_rates"]

#: Every kind of vote: what the journal stores (``record_vote``) and ``win_rates`` and the
#: leaderboard count. ``"pair"`` names a winner over a loser; the grid never makes one.
VOTE_KINDS: tuple[str, ...] = ("best", "pair", "tie", "skip")
#: The kinds a comparison-grid row can get (``ComparisonGrid.vote``): a row is judged as a
#: whole, so it has a best cell, a tie or a skip, never a pair.
ROW_VOTE_KINDS: tuple[str, ...] = tuple(kind for kind in VOTE_KINDS if kind != "pair")


def _get(vote: Any, key: str) -> Any:
    # Votes come as dicts from a grid and as records from the journal; read both.
    return vote.get(key) if isinstance(vote, Mapping) else getattr(vote, key, None)


def win_rates(votes: Iterable[Any]) -> dict[str, dict[str, float]]:
    """Per-model ``{"wins", "ties", "losses", "rows", "win_rate"}`` from ``votes``.

    ``rows`` counts the judged rows in which the model took part: every candidate of a
    ``best`` or ``tie`` vote (a ``tie`` that names ``winner`` and ``loser`` involves just
    those two), and the two models of a ``pair`` vote (journal records). A win counts 1 and
    a tie ½, so ``win_rate = (wins + ties / 2) / rows``; skipped rows are ignored. Models
    are ordered by win rate, best first (then by name).
    """
    table: dict[str, dict[str, float]] = {}

    def add(model: str, outcome: str) -> None:
        row = table.setdefault(model, {"wins": 0, "ties": 0, "losses": 0, "rows": 0})
        row["rows"] += 1
        row[outcome] += 1

    for vote in votes:
        kind = _get(vote, "kind")
        winner, loser = _get(vote, "winner"), _get(vote, "loser")
        winner = None if winner is None else str(winner)
        loser = None if loser is None else str(loser)
        candidates = list(dict.fromkeys(str(c) for c in (_get(vote, "candidates") or ())))
        if kind == "best" and winner is not None:
            for model in dict.fromkeys([*candidates, winner]):
                add(model, "wins" if model == winner else "losses")
        elif kind == "pair" and winner is not None and loser is not None:
            add(winner, "wins")
            add(loser, "losses")
        elif kind == "tie":
            tied = [winner, loser] if winner is not None and loser is not None else candidates
            for model in dict.fromkeys(tied):
                add(model, "ties")
    for row in table.values():
        row["win_rate"] = (row["wins"] + row["ties"] / 2) / row["rows"]
    return dict(sorted(table.items(), key=lambda item: (-item[1]["win_rate"], item[0])))
