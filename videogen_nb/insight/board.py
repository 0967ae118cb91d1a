"""How a leaderboard shows: ``LeaderboardRow`` and ``Leaderboard`` with their text table,
their click-to-sort HTML table and their DataFrame. The figures are computed in
``leaderboard.py``."""

from __future__ import annotations

import html
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from ..core.cost import Cost, format_cost

__all__ = ["Leaderboard", "LeaderboardRow"]


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
    #: the currency of the money figures (None: no known cost)
    currency: str | None = None
    #: successful tasks' costs + charges reported on failed ones
    spent: float | None = None
    #: True when ``spent`` (and the figures made from it) includes price-table estimates
    spent_estimated: bool = False
    #: successful tasks whose price is unknown (the money figures are then None)
    costs_unknown: int = 0
    cost_per_success: float | None = None
    #: charges the gateway reported on failed tasks (None: none reported)
    failure_cost: float | None = None
    charged_failures: int = 0
    cost_per_win: float | None = None
    #: measured seconds of the successful videos checked, and the seconds billed for them
    delivered_seconds: float | None = None
    billed_seconds: float | None = None
    delivered_ratio: float | None = None
    delivery_checked: int = 0
    #: videos whose length differs from what was billed (beyond the spec tolerance)
    delivery_off: int = 0

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


def _money(row: LeaderboardRow, amount: float | None, *, reported_only: bool = False) -> str:
    """A money cell: "$0.35", "~$0.35" (includes estimates), "price unknown", or "–"."""
    if amount is None or row.currency is None:
        return "price unknown" if row.costs_unknown and not reported_only else "–"
    estimated = row.spent_estimated and not reported_only
    source = "estimated" if estimated else "reported"
    return format_cost(Cost(amount=amount, currency=row.currency, source=source, basis=""))


def _failures_cost(row: LeaderboardRow) -> str:
    if row.charged_failures:
        return (
            f"{_money(row, row.failure_cost, reported_only=True)} ({row.charged_failures} charged)"
        )
    return "none reported" if row.failed else "–"


def _delivery(row: LeaderboardRow) -> str:
    if row.delivered_ratio is None:
        return "–"
    off = f", {row.delivery_off} off" if row.delivery_off else ""
    return f"{_pct(row.delivered_ratio)} ({row.delivery_checked} checked{off})"


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
        (_money(row, row.cost_per_success), row.cost_per_success),
        (_failures_cost(row), row.failure_cost),
        (_money(row, row.cost_per_win), row.cost_per_win),
        (_delivery(row), row.delivered_ratio),
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
    "cost/video",
    "failures cost",
    "cost/win",
    "delivered / billed",
    "failure reasons",
)
_RIGHT = frozenset({0, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12})

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


def _row_tuple(rows: Iterable[LeaderboardRow]) -> tuple[LeaderboardRow, ...]:
    return tuple(rows)


def _note_tuple(notes: Iterable[str]) -> tuple[str, ...]:
    return tuple(notes)


@attrs.define(frozen=True, kw_only=True)
class Leaderboard:
    """Ranked per-model figures (``rows``, best first) and ``notes`` on how they were counted.

    Shows as a click-to-sort table in a notebook and as an aligned text table with
    ``print``; ``to_dataframe()`` gives a pandas DataFrame.
    """

    rows: tuple[LeaderboardRow, ...] = attrs.field(default=(), converter=_row_tuple)
    notes: tuple[str, ...] = attrs.field(default=(), converter=_note_tuple)
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
        return self.to_html()

    def to_html(self, *, sortable: bool = True) -> str:
        """The board as an HTML table (every text escaped); ``sortable`` adds the small
        script that sorts a column on a click (leave it out where scripts are unwanted)."""
        esc = html.escape
        table_id = f"videogen-leaderboard-{uuid.uuid4().hex[:10]}"
        out = [
            '<div class="videogen-leaderboard">',
            f'<table id="{table_id}" style="border-collapse:collapse;font-size:13px">',
            "<thead><tr>",
        ]
        for i, name in enumerate(_COLUMNS):
            align = "right" if i in _RIGHT else "left"
            hint = ' title="click to sort"' if sortable else ""
            out.append(
                f'<th{hint} style="text-align:{align};padding:2px 8px;'
                f'border-bottom:1px solid var(--jp-border-color1,#999)">{esc(name)}</th>'
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
            out.append('<ul style="font-size:12px;color:var(--jp-content-font-color2,#555)">')
            out.extend(f"<li>{esc(note)}</li>" for note in self.notes)
            out.append("</ul>")
        if sortable:
            out.append(f"<script>{_SORT_JS % table_id}</script>")
        out.append("</div>")
        return "".join(out)
