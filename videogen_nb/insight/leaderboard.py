"""``leaderboard()``: every model the journal has seen, ranked.

Per model: tasks, success rate, grouped failure reasons, latency (submit to completed),
spec compliance, and the win rate from blind votes with a 95 % Wilson interval.

How each figure is counted (the board's ``notes`` repeat what applies):

- ``succeeded``: entries ``completed`` or ``downloaded``; ``failed``: ``failed`` or
  ``timed_out``; ``success_rate = succeeded / (succeeded + failed)``. Cancelled tasks (the
  user's choice) and unfinished ones (created, submitted, submit_unknown) are not counted.
- ``failure_reasons``: failed entries grouped by the gateway's error code, or else by their
  message with numbers and ids masked and cut to 60 characters.
- ``latency_p50``/``latency_p95``: seconds from submit to completed of the successful
  entries, percentiles by linear interpolation between ranks.
- ``spec_ok_rate``: entries whose spec check found nothing / entries checked.
- votes: ``best`` (the winner wins, every other candidate loses), ``pair`` (winner over
  loser), ``tie`` (each tied model gets half a win), ``skip`` (not counted).
  ``win_rate = (wins + ties / 2) / votes`` and its 95 % Wilson score interval.
- ranking: by win rate when the model has votes (models with votes first), then success
  rate, then p50 latency, then name.

In a notebook the board shows as a click-to-sort table; ``print(board)`` gives aligned text.

>>> board = leaderboard(since="7d")    # doctest: +SKIP
>>> board                              # doctest: +SKIP
>>> print(board)                       # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
import html
import math
import os
import pathlib
import re
import uuid
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs

from ..core.errors import ValidationError
from ..store.journal import Journal, JournalEntry, Vote

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

_SUCCEEDED = frozenset({"completed", "downloaded"})
_FAILED = frozenset({"failed", "timed_out"})
_PENDING = frozenset({"created", "submitted", "submit_unknown"})
_Z95 = 1.959963984540054
_REASON_CHARS = 60
# a word of 8+ id characters with a digit in it: task ids, request ids, hashes, uuids
_ID_RE = re.compile(r"(?<![\w-])(?=[\w-]*\d)[\w-]{8,}(?![\w-])")
_NUMBER_RE = re.compile(r"\d+(?:[.,]\d+)?")
_SINCE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$", re.IGNORECASE)
_SINCE_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def wilson_interval(successes: float, n: int, z: float = _Z95) -> tuple[float, float]:
    """The Wilson score interval of a proportion ``successes / n`` (95 % by default).

    ``successes`` may be fractional (ties count half). ``(0.0, 1.0)`` when ``n`` is 0.

    >>> [round(x, 4) for x in wilson_interval(3, 4)]
    [0.3006, 0.9544]
    """
    if n <= 0:
        return 0.0, 1.0
    p = min(1.0, max(0.0, successes / n))
    z2 = z * z
    denominator = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (0-100) of ``values`` by linear interpolation between ranks
    (numpy's default); None for no values.

    >>> percentile([10, 20, 30, 40], 50), percentile([10, 20, 30, 40], 95)
    (25.0, 38.5)
    """
    ordered = sorted(float(v) for v in values)
    if not ordered:
        return None
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def failure_reason(error: str | None, error_code: str | None, state: str | None = None) -> str:
    """The group a failure falls in: its error code, or its message with ids and numbers
    masked, at most 60 characters.

    >>> failure_reason("TaskFailedError: task_8f3kq9z2 failed after 31 s", None)
    'TaskFailedError: <id> failed after # s'
    """
    if error_code:
        return str(error_code)
    if not error or not str(error).strip():
        return "timed out" if state == "timed_out" else "(no message)"
    text = _ID_RE.sub("<id>", str(error))
    text = _NUMBER_RE.sub("#", text)
    text = " ".join(text.split())
    if len(text) > _REASON_CHARS:
        text = text[: _REASON_CHARS - 1].rstrip() + "…"
    return text


def parse_since(value: Any) -> dt.datetime | dt.date | dt.timedelta | float | None:
    """``since=`` as the journal takes it: a datetime, date, timedelta or epoch seconds as
    they are; ``"7d"``, ``"12h"``, ``"30m"``, ``"2w"``, ``"90s"`` as "that long ago"; an ISO
    date or time string (``"2026-05-01"``). Anything else raises ``ValidationError``."""
    if value is None or isinstance(value, (dt.datetime, dt.date, dt.timedelta)):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        match = _SINCE_RE.match(value)
        if match:
            return dt.timedelta(
                seconds=float(match.group(1)) * _SINCE_UNITS[match.group(2).lower()]
            )
        try:
            return dt.datetime.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ValidationError(
        "since",
        f"{value!r} is not a time; use '7d', '12h', '30m', '2w', an ISO date such as "
        "'2026-05-01', a datetime, or epoch seconds",
    )


@attrs.define(frozen=True, kw_only=True)
class LeaderboardRow:
    """One model's figures. Rates are fractions 0-1 and None when there is nothing to
    count; latencies are seconds; ``failure_reasons`` maps a reason to its count, most
    frequent first."""

    rank: int
    model: str
    tasks: int = 0
    succeeded: int = 0
    failed: int = 0
    cancelled: int = 0
    pending: int = 0
    success_rate: float | None = None
    failure_reasons: dict[str, int] = attrs.field(factory=dict)
    latency_p50: float | None = None
    latency_p95: float | None = None
    spec_checked: int = 0
    spec_ok: int = 0
    spec_ok_rate: float | None = None
    votes: int = 0
    wins: int = 0
    ties: int = 0
    losses: int = 0
    win_rate: float | None = None
    win_ci_low: float | None = None
    win_ci_high: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """The row as a plain dict (``failure_reasons`` a dict copy)."""
        out = attrs.asdict(self, recurse=False)
        out["failure_reasons"] = dict(self.failure_reasons)
        return out


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.0f}%"


def _secs(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:.1f}s" if value < 100 else f"{value:.0f}s"


def _reasons_text(reasons: Mapping[str, int]) -> str:
    return "; ".join(f"{reason} ×{count}" for reason, count in reasons.items())


def _cells(row: LeaderboardRow) -> list[tuple[str, Any]]:
    """(shown text, sort key) per column, in ``_COLUMNS`` order."""
    finished = row.succeeded + row.failed
    success = f"{_pct(row.success_rate)} ({row.succeeded}/{finished})" if finished else "–"
    spec = (
        f"{_pct(row.spec_ok_rate)} ({row.spec_ok}/{row.spec_checked})" if row.spec_checked else "–"
    )
    if row.votes:
        win = f"{_pct(row.win_rate)} [{_pct(row.win_ci_low)}–{_pct(row.win_ci_high)}]"
        votes = f"{row.votes} ({row.wins}W {row.ties}T {row.losses}L)"
    else:
        win, votes = "–", "0"
    return [
        (str(row.rank), row.rank),
        (row.model, row.model),
        (str(row.tasks), row.tasks),
        (success, row.success_rate),
        (_secs(row.latency_p50), row.latency_p50),
        (_secs(row.latency_p95), row.latency_p95),
        (spec, row.spec_ok_rate),
        (votes, row.votes),
        (win, row.win_rate),
        (_reasons_text(row.failure_reasons) or "–", row.failed),
    ]


_COLUMNS = (
    "#",
    "model",
    "tasks",
    "success",
    "p50",
    "p95",
    "spec ok",
    "votes",
    "win rate [95% CI]",
    "failure reasons",
)
_RIGHT = frozenset({0, 2, 3, 4, 5, 6, 7, 8})

_SORT_JS = """
(function () {
  var table = document.getElementById("%s");
  if (!table) { return; }
  var heads = table.tHead.rows[0].cells;
  Array.prototype.forEach.call(heads, function (th, col) {
    th.style.cursor = "pointer";
    th.addEventListener("click", function () {
      var up = th.getAttribute("data-dir") !== "asc";
      Array.prototype.forEach.call(heads, function (h) {
        h.removeAttribute("data-dir");
        h.textContent = h.textContent.replace(/ [▲▼]$/, "");
      });
      th.setAttribute("data-dir", up ? "asc" : "desc");
      th.textContent += up ? " ▲" : " ▼";
      var body = table.tBodies[0];
      var rows = Array.prototype.slice.call(body.rows);
      rows.sort(function (a, b) {
        var x = a.cells[col].getAttribute("data-sort");
        var y = b.cells[col].getAttribute("data-sort");
        if (x === "" || y === "") { return (x === "") - (y === ""); }
        var nx = parseFloat(x), ny = parseFloat(y);
        var c = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : x.localeCompare(y);
        return up ? c : -c;
      });
      rows.forEach(function (r) { body.appendChild(r); });
    });
  });
})();
"""


@attrs.define(frozen=True, kw_only=True)
class Leaderboard:
    """Ranked per-model figures (``rows``, best first) and ``notes`` on how they were counted.

    Shows as a click-to-sort table in a notebook and as an aligned text table with
    ``print``; ``to_dataframe()`` gives a pandas DataFrame.
    """

    rows: tuple[LeaderboardRow, ...] = attrs.field(default=(), converter=tuple)
    notes: tuple[str, ...] = attrs.field(default=(), converter=tuple)
    skipped_votes: int = 0

    def row(self, model: str) -> LeaderboardRow | None:
        """The row of ``model``, or None."""
        return next((r for r in self.rows if r.model == model), None)

    @property
    def models(self) -> list[str]:
        """Model names, best first."""
        return [r.model for r in self.rows]

    def to_dataframe(self) -> Any:
        """A pandas DataFrame, one row per model (``failure_reasons`` as text). Needs pandas."""
        try:
            import pandas as pd
        except ImportError as exc:
            raise ImportError(
                "to_dataframe() needs pandas: pip install 'videogen-nb[pandas]'"
            ) from exc
        records = []
        for row in self.rows:
            record = row.to_dict()
            record["failure_reasons"] = _reasons_text(row.failure_reasons)
            records.append(record)
        columns = [f.name for f in attrs.fields(LeaderboardRow)]
        return pd.DataFrame.from_records(records, columns=columns)

    def __str__(self) -> str:
        if not self.rows:
            return "\n".join(["(no models in the journal for this selection)", *self._note_lines()])
        table = [list(_COLUMNS[:-1])] + [[text for text, _ in _cells(r)[:-1]] for r in self.rows]
        widths = [max(len(line[i]) for line in table) for i in range(len(table[0]))]
        lines = []
        for n, line in enumerate(table):
            cells = [
                cell.rjust(widths[i]) if i in _RIGHT else cell.ljust(widths[i])
                for i, cell in enumerate(line)
            ]
            lines.append("  ".join(cells).rstrip())
            if n == 0:
                lines.append("  ".join("-" * w for w in widths))
        failing = [r for r in self.rows if r.failure_reasons]
        if failing:
            lines.append("")
            lines.append("failure reasons:")
            for r in failing:
                lines.append(f"  {r.model}: {_reasons_text(r.failure_reasons)}")
        lines.extend(self._note_lines())
        return "\n".join(lines)

    def _note_lines(self) -> list[str]:
        if not self.notes:
            return []
        return ["", "notes:", *(f"  - {note}" for note in self.notes)]

    def __repr__(self) -> str:
        return f"Leaderboard({len(self.rows)} models: {', '.join(self.models) or 'none'})"

    def _repr_html_(self) -> str:
        esc = html.escape
        table_id = f"videogen-leaderboard-{uuid.uuid4().hex[:10]}"
        out = [
            '<div class="videogen-leaderboard">',
            f'<table id="{table_id}" style="border-collapse:collapse;font-size:13px">',
            "<thead><tr>",
        ]
        for i, name in enumerate(_COLUMNS):
            align = "right" if i in _RIGHT else "left"
            out.append(
                f'<th title="click to sort" style="text-align:{align};padding:2px 8px;'
                f'border-bottom:1px solid #999">{esc(name)}</th>'
            )
        out.append("</tr></thead><tbody>")
        for row in self.rows:
            out.append("<tr>")
            for i, (text, key) in enumerate(_cells(row)):
                align = "right" if i in _RIGHT else "left"
                sort = "" if key is None else str(key)
                out.append(
                    f'<td data-sort="{esc(sort)}" style="text-align:{align};padding:2px 8px">'
                    f"{esc(text)}</td>"
                )
            out.append("</tr>")
        out.append("</tbody></table>")
        if not self.rows:
            out.append("<p>No models in the journal for this selection.</p>")
        if self.notes:
            out.append('<ul style="font-size:12px;color:#555">')
            out.extend(f"<li>{esc(note)}</li>" for note in self.notes)
            out.append("</ul>")
        out.append(f"<script>{_SORT_JS % table_id}</script>")
        out.append("</div>")
        return "".join(out)


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
    if entry.state in _SUCCEEDED:
        tally.succeeded += 1
        start, end = entry.submitted_at, entry.completed_at
        if start is not None and end is not None and end >= start:
            tally.latencies.append(end - start)
    elif entry.state in _FAILED:
        tally.failed += 1
        tally.reasons[failure_reason(entry.error, entry.error_code, entry.state)] += 1
    elif entry.state == "cancelled":
        tally.cancelled += 1
    elif entry.state in _PENDING:
        tally.pending += 1
    if isinstance(entry.spec, Mapping) and entry.spec:
        tally.spec_checked += 1
        tally.spec_ok += _spec_ok(entry.spec)


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


def _row(model: str, t: _Tally) -> LeaderboardRow:
    finished = t.succeeded + t.failed
    win_rate = low = high = None
    if t.votes:
        score = t.wins + t.ties / 2
        win_rate = score / t.votes
        low, high = wilson_interval(score, t.votes)
    return LeaderboardRow(
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
    wanted = None if models is None else [models] if isinstance(models, str) else list(models)
    tallies: dict[str, _Tally] = {m: _Tally() for m in wanted or ()}
    for entry in entries:
        _count_entry(tallies.setdefault(entry.model, _Tally()), entry)
    counted = skipped = ignored = 0
    for vote in votes:
        if vote.kind == "skip":
            skipped += 1
        elif _count_vote(tallies, vote):
            counted += 1
        else:
            ignored += 1
    shown = [m for m in tallies if wanted is None or m in wanted]
    rows = sorted((_row(m, tallies[m]) for m in shown), key=_rank_key)
    rows = [attrs.evolve(r, rank=i) for i, r in enumerate(rows, start=1)]

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
    if any(r.tasks for r in rows):
        notes.append(
            "success rate = succeeded / (succeeded + failed); timed-out tasks count as failed"
        )
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
    return Leaderboard(rows=rows, notes=notes, skipped_votes=skipped)


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
    names = None if models is None else [models] if isinstance(models, str) else list(models)
    entries = journal.entries(since=since, models=names)
    votes = journal.votes(since=since, models=names)
    return compute_leaderboard(entries, votes, models=names)
