"""The report's sections below the grid: every request with its settings, status, cost and
spec check (and the run's total), the blind votes, and the leaderboard of these videos.

Static HTML only (no script): every text that came from a user or a gateway is escaped by
``html.tag``/``html.escape``. The journal, when given, supplies what a ``Result`` does not
carry: the cost a gateway reported after the run, the stored spec check, and the votes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..core.cost import Cost
from ..core.task import Result
from ..core.text import shorten
from ..insight.costs import CostTotal, cost_of, cost_text, delivery, result_failed
from ..insight.leaderboard import compute_leaderboard
from ..store.journal import Journal, JournalEntry, Vote
from .html import escape, tag
from .video import spec_findings

__all__ = ["REPORT_SECTIONS_CSS", "report_sections"]

#: characters of one setting's value (a data-URI image must not flood the table)
SETTING_CHARS = 80

#: the sections' styles; colours come from the page's variables (light and dark)
REPORT_SECTIONS_CSS = """
.vgr { font: 13px/1.4 system-ui, sans-serif; color: var(--vgr-fg); margin-top: 20px; }
.vgr h2 { font-size: 15px; margin: 18px 0 6px; }
.vgr table { border-collapse: collapse; }
.vgr th, .vgr td { text-align: left; padding: 3px 8px; vertical-align: top;
  border-bottom: 1px solid var(--vgr-line); }
.vgr th { font-weight: 600; white-space: nowrap; }
.vgr td.pr { max-width: 28em; overflow-wrap: anywhere; }
.vgr td.se { max-width: 24em; overflow-wrap: anywhere; color: var(--vgr-muted); }
.vgr td.co, .vgr td.nu { white-space: nowrap; font-variant-numeric: tabular-nums; }
.vgr .bad { color: var(--vgr-bad); }
.vgr .note, .vgr .videogen-leaderboard ul { color: var(--vgr-muted) !important; font-size: 12px; }
.vgr .videogen-leaderboard th { border-bottom: 1px solid var(--vgr-line) !important; }
.vgr tfoot td { font-weight: 600; border-bottom: none; }
"""


def _setting_value(value: Any) -> str:
    text = str(value)
    if text.startswith("data:"):
        # an uploaded image: its type and size, not its bytes
        kind = text[5:].split(";", 1)[0] or "data"
        return f"{kind} ({len(text) * 3 // 4 // 1024} kB inline)"
    return shorten(text, SETTING_CHARS, one_line=True)


def _settings(result: Result) -> str:
    """The request's settings other than model and prompt: ``"seed=1 · duration=5"``."""
    data = result.request.to_dict()
    parts = [f"{k}={_setting_value(v)}" for k, v in data.items() if k not in ("model", "prompt")]
    return " · ".join(parts)


def _reported(result: Result, entry: JournalEntry | None) -> Cost | None:
    if result.task is not None and result.task.cost is not None:
        return result.task.cost
    return entry.cost if entry is not None else None


def _spec(result: Result, entry: JournalEntry | None) -> Any:
    if result.spec is not None:
        return result.spec
    return entry.spec if entry is not None else None


def _spec_cell(result: Result, entry: JournalEntry | None, reported: Cost | None) -> str:
    spec = _spec(result, entry)
    findings = spec_findings(Result(request=result.request, spec=spec))
    spec_dict = spec if isinstance(spec, dict) else getattr(spec, "to_dict", lambda: None)()
    check = delivery(spec_dict, result.request, reported)
    if check is not None and check.finding:
        findings.append(check.finding)
    if findings:
        return tag("td", "⚠ " + "; ".join(findings), class_="bad")
    return tag("td", "spec ok" if spec is not None else "not checked")


def _request_rows(
    items: Sequence[Result], entries: dict[int, JournalEntry]
) -> tuple[list[str], CostTotal]:
    rows: list[str] = []
    total = CostTotal()
    for n, result in enumerate(items, start=1):
        entry = entries.get(result.journal_id) if result.journal_id is not None else None
        reported = _reported(result, entry)
        failed = result_failed(result)
        cost = cost_of(result.request, reported, failed=failed)
        if not (failed and cost is None):
            total = total.plus(cost)
        status = result.status + (" (cached)" if result.cached else "")
        cells = [
            tag("td", n, class_="nu"),
            tag("td", result.request.model),
            tag("td", result.request.prompt or "", class_="pr"),
            tag("td", _settings(result), class_="se"),
            tag("td", status, class_="bad" if failed else None),
            tag(
                "td",
                cost_text(cost, failed=failed),
                title=cost.basis if cost else None,
                class_="co",
            ),
            _spec_cell(result, entry, reported),
        ]
        rows.append(f"<tr>{''.join(cells)}</tr>")
    return rows, total


def _requests_section(items: Sequence[Result], entries: dict[int, JournalEntry]) -> str:
    rows, total = _request_rows(items, entries)
    heads = ("#", "model", "prompt", "settings", "status", "cost", "spec check")
    head = "".join(tag("th", h) for h in heads)
    foot = (
        f'<tfoot><tr><td colspan="5">run total</td>'
        f'<td class="co">{escape(total.text() or "–")}</td><td></td></tr></tfoot>'
    )
    note = tag(
        "p",
        "~ marks a price-table estimate (vg.prices); other figures are what the gateway "
        "reported. A failed task counts only a charge the gateway reported.",
        class_="note",
    )
    table = f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody>{foot}</table>"
    return f'<section class="vgr-requests">{tag("h2", "Requests")}{table}{note}</section>'


def _votes_section(votes: Sequence[Vote]) -> str:
    if not votes:
        return ""
    rows = []
    for vote in votes:
        winner = vote.winner or "–"
        others = vote.loser if vote.kind == "pair" else ", ".join(vote.candidates)
        if vote.kind == "tie":  # no winner: the tied models are the ones named
            tied = [m for m in (vote.winner, vote.loser) if m]
            winner, others = "none (a tie)", ", ".join(tied) or others
        cells = [tag("td", vote.row_key), tag("td", vote.kind), tag("td", winner)]
        rows.append(f"<tr>{''.join(cells)}{tag('td', others or '–')}</tr>")
    head = "".join(tag("th", h) for h in ("compared", "vote", "winner", "over / among"))
    table = f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    return f'<section class="vgr-votes">{tag("h2", f"Votes ({len(votes)})")}{table}</section>'


def _leaderboard_section(entries: Sequence[JournalEntry], votes: Sequence[Vote]) -> str:
    if not entries:
        return ""
    board = compute_leaderboard(entries, votes)
    title = tag("h2", "Leaderboard of these videos")
    return f'<section class="vgr-board">{title}{board.to_html(sortable=False)}</section>'


def report_sections(
    items: Sequence[Result], *, journal: Journal | None = None, run_id: str | None = None
) -> str:
    """The sections below the report's grid, as one escaped HTML string. With a
    ``journal``, the costs it recorded, the votes of ``run_id`` and a leaderboard of the
    shown results' entries join them."""
    entries: dict[int, JournalEntry] = {}
    votes: list[Vote] = []
    if journal is not None:
        for result in items:
            if result.journal_id is not None:
                entry = journal.get(result.journal_id)
                if entry is not None:
                    entries[entry.id] = entry
        votes = journal.votes(run_id=run_id) if run_id is not None else []
    parts = [
        _requests_section(items, entries),
        _votes_section(votes),
        _leaderboard_section(list(entries.values()), votes),
    ]
    return f'<div class="vgr">{"".join(parts)}</div>'
