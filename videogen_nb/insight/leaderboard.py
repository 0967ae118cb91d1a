"""``leaderboard()``: every model the journal has seen, ranked.

Per model: tasks, success rate, grouped failure reasons, latency (submit to completed),
spec compliance, and the win rate from blind votes with a 95 % Wilson interval.

How each figure is counted (the board's ``notes`` repeat what applies):

- ``succeeded``: entries ``completed`` or ``downloaded``; ``failed``: ``failed`` or
  ``timed_out``; ``success_rate = succeeded / (succeeded + failed)``. Cancelled tasks (the
  user's choice) and unfinished ones (created, sending, submitted, submit_unknown) are not
  counted. The buckets are ``core.states``' ``SUCCEEDED_STATES``, ``FAILED_STATES`` and
  ``PENDING_STATES``.
- ``failure_reasons``: failed entries grouped by the gateway's error code, or else by their
  message with numbers and ids masked and cut to 60 characters.
- ``latency_p50``/``latency_p95``: seconds from submit to completed of the successful
  entries, percentiles by linear interpolation between ranks.
- ``spec_ok_rate``: entries whose spec check found nothing / entries checked.
- votes: ``best`` (the winner wins, every other candidate loses), ``pair`` (winner over
  loser), ``tie`` (each tied model gets half a win), ``skip`` (not counted).
  ``win_rate = (wins + ties / 2) / votes`` and its 95 % Wilson score interval.
- money (``cost_per_success``, ``failure_cost``, ``cost_per_win``): each task's figure is
  ``costs.entry_cost`` (reported by the gateway, else the price table's estimate for a
  successful task; a failed task counts only a charge the gateway reported). ``spent`` =
  cost of the successful tasks + charges reported on failed ones; ``cost_per_success =
  spent / succeeded``; ``cost_per_win = spent / (wins + ties / 2)``. A figure that includes
  an estimate is marked as one (``spent_estimated``); a successful task of unknown price
  makes them unknown (None). ``charged_failures`` counts failed tasks reported as charged.
- delivered / billed: the spec check's measured seconds over the seconds billed (the
  gateway's ``billed_seconds``, else the seconds asked) of the successful videos;
  ``delivery_off`` counts videos that differ by more than 0.5 s or 10 %.
- ranking: by win rate when the model has votes (models with votes first), then success
  rate, then p50 latency, then name.

The figures are computed here; ``figures.py`` holds the arithmetic and ``board.py`` the
table (text, HTML, DataFrame). In a notebook the board shows as a click-to-sort table; ``print(board)`` gives aligned text.

>>> board = leaderboard(since="7d")    # doctest: +SKIP
>>> board                              # doctest: +SKIP
>>> print(board)                       # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
import os
import pathlib
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs

from ..core.states import FAILED_STATES, PENDING_STATES, SUCCEEDED_STATES, EntryState
from ..store.journal import Journal, JournalEntry, Vote
from .board import Leaderboard, LeaderboardRow
from .costs import CostTotal, charged_failure, delivery, entry_cost
from .figures import failure_reason, parse_since, percentile, wilson_interval

__all__ = [
    "Leaderboard",
    "LeaderboardRow",
    "compute_leaderboard",
    "failure_reason",
    "leaderboard",
    "parse_since",
    "percentile",
    "wilson_interval",
]


@attrs.define
class _Tally:
    tasks: int = 0
    succeeded: int = 0
    failed: int = 0
    cancelled: int = 0
    pending: int = 0
    reasons: Counter[str] = attrs.field(factory=Counter)
    latencies: list[float] = attrs.field(factory=list)
    spec_checked: int = 0
    spec_ok: int = 0
    wins: int = 0
    ties: int = 0
    losses: int = 0
    spent: CostTotal = attrs.field(factory=CostTotal)
    charged_failures: int = 0
    failure_cost: CostTotal = attrs.field(factory=CostTotal)
    delivered: float = 0.0
    billed: float = 0.0
    delivery_checked: int = 0
    delivery_off: int = 0

    @property
    def votes(self) -> int:
        return self.wins + self.ties + self.losses


def _spec_ok(spec: Mapping[str, Any]) -> bool:
    ok = spec.get("ok")
    if isinstance(ok, bool):
        return ok
    return not spec.get("findings")


def _count_entry(tally: _Tally, entry: JournalEntry) -> None:
    tally.tasks += 1
    if entry.state in SUCCEEDED_STATES:
        tally.succeeded += 1
        start, end = entry.submitted_at, entry.completed_at
        if start is not None and end is not None and end >= start:
            tally.latencies.append(end - start)
    elif entry.state in FAILED_STATES:
        tally.failed += 1
        tally.reasons[failure_reason(entry.error, entry.error_code, entry.state)] += 1
    elif entry.state == EntryState.CANCELLED:
        tally.cancelled += 1
    elif entry.state in PENDING_STATES:
        tally.pending += 1
    if isinstance(entry.spec, Mapping) and entry.spec:
        tally.spec_checked += 1
        tally.spec_ok += _spec_ok(entry.spec)
    _count_money(tally, entry)


def _count_money(tally: _Tally, entry: JournalEntry) -> None:
    """What the entry cost and, for a successful video, how long it is against what was billed."""
    if entry.state in SUCCEEDED_STATES:
        tally.spent = tally.spent.plus(entry_cost(entry))
        check = delivery(entry.spec, entry.request, entry.cost)
        if check is not None:
            tally.delivered += check.delivered
            tally.billed += check.billed
            tally.delivery_checked += 1
            tally.delivery_off += not check.ok
    elif charged_failure(entry) and entry.cost is not None:
        tally.charged_failures += 1
        tally.spent = tally.spent.plus(entry.cost)
        tally.failure_cost = tally.failure_cost.plus(entry.cost)


def _count_vote(tallies: dict[str, _Tally], vote: Vote) -> bool:
    """Add one vote's outcomes; False when it counts for nobody (a skip, or malformed)."""
    candidates = list(dict.fromkeys(str(c) for c in vote.candidates))
    winner = None if vote.winner is None else str(vote.winner)
    loser = None if vote.loser is None else str(vote.loser)
    outcomes: dict[str, str] = {}
    if vote.kind == "best" and winner is not None:
        for model in dict.fromkeys([*candidates, winner]):
            outcomes[model] = "win" if model == winner else "loss"
    elif vote.kind == "pair" and winner is not None and loser is not None:
        outcomes = {winner: "win", loser: "loss"}
    elif vote.kind == "tie":
        tied = [winner, loser] if winner is not None and loser is not None else candidates
        outcomes = dict.fromkeys((str(m) for m in tied), "tie")
    if len(outcomes) < 2:
        return False
    for model, outcome in outcomes.items():
        tally = tallies.setdefault(model, _Tally())
        if outcome == "win":
            tally.wins += 1
        elif outcome == "tie":
            tally.ties += 1
        else:
            tally.losses += 1
    return True


def _money(t: _Tally) -> dict[str, Any]:
    """The row's money and delivery fields (see the module docstring)."""
    spent = t.spent.as_cost()
    score = t.wins + t.ties / 2
    failure = t.failure_cost.as_cost()
    return {
        "currency": spent.currency if spent is not None else None,
        "spent": spent.amount if spent is not None else None,
        "spent_estimated": spent.is_estimate if spent is not None else False,
        "costs_unknown": t.spent.unknown,
        "cost_per_success": spent.amount / t.succeeded if spent and t.succeeded else None,
        "failure_cost": failure.amount if failure is not None else None,
        "charged_failures": t.charged_failures,
        "cost_per_win": spent.amount / score if spent and score else None,
        "delivered_seconds": t.delivered if t.delivery_checked else None,
        "billed_seconds": t.billed if t.delivery_checked else None,
        "delivered_ratio": t.delivered / t.billed if t.delivery_checked and t.billed else None,
        "delivery_checked": t.delivery_checked,
        "delivery_off": t.delivery_off,
    }


def _row(model: str, t: _Tally) -> LeaderboardRow:
    finished = t.succeeded + t.failed
    win_rate = low = high = None
    if t.votes:
        score = t.wins + t.ties / 2
        win_rate = score / t.votes
        low, high = wilson_interval(score, t.votes)
    return LeaderboardRow(
        **_money(t),
        rank=0,
        model=model,
        tasks=t.tasks,
        succeeded=t.succeeded,
        failed=t.failed,
        cancelled=t.cancelled,
        pending=t.pending,
        success_rate=t.succeeded / finished if finished else None,
        failure_reasons=dict(sorted(t.reasons.items(), key=lambda kv: (-kv[1], kv[0]))),
        latency_p50=percentile(t.latencies, 50),
        latency_p95=percentile(t.latencies, 95),
        spec_checked=t.spec_checked,
        spec_ok=t.spec_ok,
        spec_ok_rate=t.spec_ok / t.spec_checked if t.spec_checked else None,
        votes=t.votes,
        wins=t.wins,
        ties=t.ties,
        losses=t.losses,
        win_rate=win_rate,
        win_ci_low=low,
        win_ci_high=high,
    )


def _rank_key(row: LeaderboardRow) -> tuple[Any, ...]:
    return (
        row.win_rate is None,
        -(row.win_rate or 0.0),
        row.success_rate is None,
        -(row.success_rate or 0.0),
        row.latency_p50 is None,
        row.latency_p50 or 0.0,
        row.model,
    )


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _count_votes(tallies: dict[str, _Tally], votes: Iterable[Vote]) -> tuple[int, int, int]:
    """Add every vote to ``tallies``; ``(counted, skipped, ignored)``."""
    counted = skipped = ignored = 0
    for vote in votes:
        if vote.kind == "skip":
            skipped += 1
        elif _count_vote(tallies, vote):
            counted += 1
        else:
            ignored += 1
    return counted, skipped, ignored


def _vote_notes(
    rows: Sequence[LeaderboardRow], counted: int, skipped: int, ignored: int
) -> list[str]:
    notes: list[str] = []
    if counted:
        notes.append(
            "ranked by win rate (models with votes first), then success rate, then p50 latency"
        )
        notes.append(
            "win rate = (wins + ties / 2) / votes: a tie counts as half a win; "
            "the 95% interval is the Wilson score interval of that rate"
        )
    elif rows:
        notes.append("no votes yet: ranked by success rate, then p50 latency")
    if skipped:
        notes.append(f"{_plural(skipped, 'skipped row')} not counted")
    if ignored:
        notes.append(f"{_plural(ignored, 'vote')} with fewer than two candidates ignored")
    return notes


def _task_notes(rows: Sequence[LeaderboardRow]) -> list[str]:
    if not any(r.tasks for r in rows):
        return []
    notes = ["success rate = succeeded / (succeeded + failed); timed-out tasks count as failed"]
    cancelled = sum(r.cancelled for r in rows)
    pending = sum(r.pending for r in rows)
    if cancelled or pending:
        notes.append(
            f"{_plural(cancelled, 'cancelled task')} and {_plural(pending, 'unfinished task')}"
            " not counted in the success rate"
        )
    notes.append("latency: submit to completed of successful tasks (p50/p95)")
    if not any(r.spec_checked for r in rows):
        notes.append("no spec checks recorded (PyAV missing, or no video downloaded)")
    return notes


def _money_notes(rows: Sequence[LeaderboardRow]) -> list[str]:
    if not any(r.succeeded or r.charged_failures for r in rows):
        return []
    notes = [
        "cost/video = (cost of the successful tasks + charges reported on failed ones)"
        " / successful videos; a ~ marks figures that include price-table estimates"
    ]
    if any(r.votes for r in rows):
        notes.append("cost/win = the same spending / (wins + ties / 2)")
    unknown = [r.model for r in rows if r.costs_unknown]
    if unknown:
        notes.append(f"price unknown for some tasks of {', '.join(unknown)}: vg.prices.set(...)")
    charged = [f"{r.model} ×{r.charged_failures}" for r in rows if r.charged_failures]
    if charged:
        notes.append(f"failed tasks the gateway reports as charged: {', '.join(charged)}")
    off = [f"{r.model} ×{r.delivery_off}" for r in rows if r.delivery_off]
    if any(r.delivery_checked for r in rows):
        notes.append(
            "delivered / billed: measured seconds of video over the seconds billed (or asked,"
            " when the gateway does not say); a video off by more than 0.5 s or 10% is flagged"
            + (f": {', '.join(off)}" if off else "")
        )
    return notes


def compute_leaderboard(
    entries: Iterable[JournalEntry],
    votes: Iterable[Vote] = (),
    *,
    models: str | Iterable[str] | None = None,
) -> Leaderboard:
    """The leaderboard of these journal ``entries`` and ``votes`` (already filtered by time).

    With ``models``, only those models get rows (a row even when they have no data); votes
    still count against opponents that are not shown.
    """
    wanted = _model_list(models)
    tallies: dict[str, _Tally] = {m: _Tally() for m in wanted or ()}
    for entry in entries:
        _count_entry(tallies.setdefault(entry.model, _Tally()), entry)
    counted, skipped, ignored = _count_votes(tallies, votes)
    shown = [m for m in tallies if wanted is None or m in wanted]
    ranked = sorted((_row(m, tallies[m]) for m in shown), key=_rank_key)
    rows = [attrs.evolve(r, rank=i) for i, r in enumerate(ranked, start=1)]
    notes = [
        *_vote_notes(rows, counted, skipped, ignored),
        *_task_notes(rows),
        *_money_notes(rows),
    ]
    return Leaderboard(rows=rows, notes=notes, skipped_votes=skipped)


def _model_list(models: str | Iterable[str] | None) -> list[str] | None:
    """The ``models=`` argument as a list (one name or many); None means every model."""
    if models is None:
        return None
    return [models] if isinstance(models, str) else list(models)


def _span(delta: dt.timedelta) -> str:
    seconds = delta.total_seconds()
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            return _plural(int(seconds // size), unit)
    return _plural(round(seconds), "second")


def _when(since: Any) -> str:
    if isinstance(since, dt.timedelta):
        return f"the last {_span(since)}"
    if isinstance(since, (int, float)):
        since = dt.datetime.fromtimestamp(since)
    if isinstance(since, dt.datetime):
        return since.isoformat(sep=" ", timespec="minutes")
    return str(since)


def leaderboard(
    journal: Journal | str | os.PathLike[str] | None = None,
    *,
    since: Any = None,
    models: str | Iterable[str] | None = None,
) -> Leaderboard:
    """Rank every model in ``journal`` (a ``Journal``, a path, or None for
    ``./videogen-runs/journal.sqlite``) by its votes, success rate and latency.

    ``since`` limits to tasks and votes from then on: a datetime, a date, epoch seconds, a
    timedelta, ``"7d"``/``"12h"``/``"30m"``/``"2w"``, or an ISO date string. ``models``
    limits the rows to those names. With no journal at the default path yet, the board is
    empty (and says so); a path that does not exist raises ``FileNotFoundError``.

    >>> vg.leaderboard(since="7d", models=["sora-2", "veo-3"])   # doctest: +SKIP
    """
    start = parse_since(since)
    extra: list[str] = []
    if start is not None:
        extra.append(f"tasks and votes since {_when(start)}")
    if isinstance(journal, Journal):
        board = _from_journal(journal, start, models)
    else:
        path = Journal.default_path() if journal is None else pathlib.Path(journal).expanduser()
        if not path.is_file():
            if journal is not None:
                raise FileNotFoundError(f"no journal at {path}")
            return Leaderboard(notes=[f"no journal at {path} yet: nothing has run here"])
        with Journal(path) as opened:
            board = _from_journal(opened, start, models)
    return attrs.evolve(board, notes=[*board.notes, *extra])


def _from_journal(journal: Journal, since: Any, models: str | Iterable[str] | None) -> Leaderboard:
    names = _model_list(models)
    entries = journal.entries(since=since, models=names)
    votes = journal.votes(since=since, models=names)
    return compute_leaderboard(entries, votes, models=names)
