"""The live table of a run: one row per task, redrawn at most a few times a second.

A run calls its listeners on its event loop's thread for every row change (every poll of
every task), so 200 polling tasks produce a stream of calls. ``Coalescer`` turns that
stream into at most one redraw per ``interval``.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from ..core.text import shorten
from ..insight.costs import CostTotal, cost_text
from ..store.catalog import check_request, get_model
from .html import escape, tag
from .video import spec_findings

if TYPE_CHECKING:
    from ..run.run import Run, RunRow

__all__ = [
    "COLUMNS",
    "PROMPT_CHARS",
    "TABLE_CSS",
    "cost_cell",
    "cost_total",
    "estimate_text",
    "format_seconds",
    "plan_text",
    "row_message",
    "row_warnings",
    "summary_html",
    "summary_text",
    "table_html",
    "table_text",
]

#: characters of a prompt shown in a row; the full prompt is in the cell's tooltip
PROMPT_CHARS = 60
#: characters of a gateway message shown in a row (a whole HTML error page must not flood it)
MESSAGE_CHARS = 300
#: characters of a message on the row's one line; the whole message is one click away
MESSAGE_LINE_CHARS = 90
#: the HTML table's column headers, every column named
COLUMNS = (
    "#",
    "model",
    "prompt",
    "settings",
    "status",
    "progress",
    "elapsed",
    "time left",
    "cost",
)
#: how the summary and the status cell name a row state
_STATE_WORDS = {
    "waiting": "waiting",
    "submitting": "sending",
    "queued": "queued",
    "in_progress": "running",
    "downloading": "downloading",
    "done": "done",
    "failed": "failed",
    "cancelled": "cancelled",
    "timed_out": "timed out",
    "submit_unknown": "outcome unknown",
}

# One <style> for the table; class names are short because they repeat on every row.
TABLE_CSS = """<style>
.vg-rt{font:12px/1.4 system-ui,sans-serif;border-collapse:collapse;margin:4px 0}
/* colours follow JupyterLab's theme (its CSS variables; plain light values elsewhere) */
.vg-rt{--vg-bad:#b00020;--vg-note:#8a6d00;--vg-warn:#b35900;--vg-ok:#1a7f37}
body[data-jp-theme-light=false] .vg-rt,body.vscode-dark .vg-rt{--vg-bad:#ff7b72;--vg-note:#e3b341;--vg-warn:#f0883e;--vg-ok:#3fb950}
.vg-rt th,.vg-rt td{padding:2px 8px;text-align:left;border-bottom:1px solid var(--jp-border-color2,#e5e5e5);vertical-align:top}
.vg-rt th{font-weight:600;color:var(--jp-content-font-color1,#444);white-space:nowrap}
.vg-rt td.md,.vg-rt td.st,.vg-rt td.pg,.vg-rt td.tm,.vg-rt td.se{white-space:nowrap}
.vg-rt td.co{white-space:nowrap;font-variant-numeric:tabular-nums}
.vg-rt td.pg{min-width:130px}
.vg-rt td.pr{max-width:480px;overflow-wrap:anywhere}
.vg-rt progress{width:90px;height:10px;vertical-align:middle}
.vg-rt .m{color:var(--vg-bad);max-width:480px}
.vg-rt .m summary{white-space:nowrap;overflow:hidden;text-overflow:ellipsis;cursor:pointer}
.vg-rt .m pre{white-space:pre-wrap;overflow-wrap:anywhere;font:inherit;margin:2px 0}
.vg-rt .n{color:var(--vg-note)}
.vg-rt .w{color:var(--vg-warn)}
.vg-rt tr.s-done td.st{color:var(--vg-ok)}
.vg-rt tr.s-failed td.st,.vg-rt tr.s-timed_out td.st,.vg-rt tr.s-submit_unknown td.st{color:var(--vg-bad)}
.vg-rs{font:12px system-ui,sans-serif;color:var(--jp-content-font-color1,#333);margin:2px 0}
.vg-rs .vg-plan.over{color:#b00020}
body[data-jp-theme-light=false] .vg-rs .vg-plan.over,body.vscode-dark .vg-rs .vg-plan.over{color:#ff7b72}
</style>"""


def format_seconds(value: float | None) -> str:
    """``75.2 -> "1:15"``, ``4.26 -> "4.3 s"``, None -> ``""``: compact times for a table."""
    if value is None:
        return ""
    if value < 60:
        return f"{value:.1f} s"
    minutes, seconds = divmod(round(value), 60)
    if minutes < 60:
        return f"{minutes}:{seconds:02d}"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}"


def row_message(row: RunRow) -> str | None:
    """What the row has to say: the gateway's error text, else a note (rate limited...).

    Plain text, not escaped, shortened to ``MESSAGE_CHARS``.
    """
    text: str | None = None
    if row.error is not None:
        text = str(row.error) or type(row.error).__name__
    elif row.task is not None and row.task.error:
        text = row.task.error
    elif row.note:
        text = row.note
    return shorten(text, MESSAGE_CHARS) if text else None


def _duration(row: RunRow) -> Any:
    req = row.request
    return req.duration if req.duration is not None else req.seconds


def _rounded(seconds: float) -> str:
    """A time left without false precision: ``37 -> "35 s"``, ``200 -> "3-4 min"``."""
    if seconds < 10:
        return "a few s"
    if seconds < 60:
        return f"{max(10, round(seconds / 5) * 5)} s"
    low = int(seconds // 60)
    return f"{low}-{low + 1} min"


def estimate_text(row: RunRow) -> tuple[str, str]:
    """The row's time left as ``("~40 s", basis)``; ``("", why)`` when there is none.

    The estimate is the progress rate the gateway reports (a percentage over the time so
    far), rounded: gateways report progress in leaps, so more digits would be false."""
    if row.state.is_finished:
        return "", ""
    eta = row.eta
    if eta is not None:
        progress = row.progress or 0
        took = format_seconds(row.elapsed)
        return f"~{_rounded(eta)}", f"from the progress rate: {progress}% in {took}"
    if row.task is not None:
        return _typical_range(row)
    return "", "not sent yet"


def _typical_range(row: RunRow) -> tuple[str, str]:
    """No progress to go by: a range around the catalog's typical time for the model."""
    info = get_model(row.request.model)
    typical = info.typical_seconds if info is not None else None
    if not typical:
        return "?", "the gateway reports no progress for this task yet"
    elapsed = row.elapsed or 0.0
    low, high = max(0.0, 0.5 * typical - elapsed), 1.5 * typical - elapsed
    if high <= 0:
        return "?", f"past the typical time for {info.name if info else 'this model'}"
    basis = f"no progress reported; typical for this model: ~{_approx(typical)}"
    return _span(low, high), basis


def _approx(seconds: float) -> str:
    """``37 -> "40 s"``, ``200 -> "3 min"``: one rough figure."""
    if seconds < 60:
        return f"{round(seconds / 10) * 10} s"
    return f"{round(seconds / 60)} min"


def _span(low: float, high: float) -> str:
    """A range of times left: ``"20-90 s"``, ``"2-6 min"``, ``"30 s-3 min"``."""
    a, b = _approx(low), _approx(high)
    if a.split()[1] == b.split()[1]:
        return f"{a.split()[0]}-{b}" if a != b else b
    return f"{a}-{b}"


def _run_estimate(run: Run) -> str:
    """The run's time left: the slowest unfinished row's estimate (a lower bound when some
    rows have none yet)."""
    open_rows = [row for row in run.rows if not row.state.is_finished]
    etas = [row.eta for row in open_rows if row.eta is not None]
    if not open_rows or not etas:
        return ""
    known = len(etas) == len(open_rows)
    return f"{'~' if known else '≥ ~'}{_rounded(max(etas))} left"


def cost_cell(row: RunRow) -> tuple[str, str]:
    """The row's cost as ``(text, basis)``: ``("$0.35", "new-api quota ...")``, ``("~$0.35",
    "price table: ...")`` for an estimate, ``("price unknown", ...)``; never "$0" for a
    price nobody knows."""
    cost = row.cost
    text = cost_text(cost, failed=row.failed)
    if cost is not None:
        return text, f"{cost.source}: {cost.basis}" if cost.basis else cost.source
    if row.failed:
        return text, "the gateway reported no charge for this task"
    return text, f"no price for {row.request.model}: set one with vg.prices.set(...)"


def cost_total(run: Run) -> CostTotal:
    """The run's money: every row's cost (failed rows only when a charge was reported)."""
    return CostTotal.of(row.cost for row in run.rows if not (row.failed and row.cost is None))


def summary_text(run: Run) -> str:
    """One tqdm-like line: ``"6 tasks: 3/6 done · 1 failed · 2 running · ~40 s left · 0:41 ·
    cost ~$2.10"`` (``~``: the total includes price-table estimates)."""
    counts = run.counts
    total = counts["total"]
    parts = [f"{counts['done']}/{total} done"]
    parts += [
        f"{n} {_STATE_WORDS.get(state, state)}"
        for state, n in counts.items()
        if n and state not in ("total", "done")
    ]
    if not run.done and (left := _run_estimate(run)):
        parts.append(left)
    end = run.finished_at if run.finished_at is not None else time.time()
    took = format_seconds(max(0.0, end - run.started_at))
    head = f"{run.title} · " if run.title else ""
    word = "task" if total == 1 else "tasks"
    state = "finished in" if run.done else "running for"
    return f"{head}{total} {word}: {' · '.join(parts)} · {state} {took}{_cost_part(run)}"


def _cost_part(run: Run) -> str:
    """The summary's money: ``" · cost ~$2.10"``, ``" · price unknown"``, or nothing."""
    money = cost_total(run).text()
    if not money:
        return ""
    return f" · {money}" if money == "price unknown" else f" · cost {money}"


def plan_text(run: Run) -> str:
    """The plan the run was launched with, made before anything was sent: ``"plan: 6 tasks,
    estimated ~$2.10 ($1.50-$3.00); 1 task with unknown price (not counted): veo-3; limit
    $5.00 (this run's max_cost=5)"``; ``""`` for a run launched without one."""
    return f"plan: {run.plan.line()}" if run.plan is not None else ""


def summary_html(run: Run) -> str:
    """The summary line as HTML, every piece escaped: ``summary_text`` and then, from the
    first draw on (before anything is sent), the run's plan (class ``vg-plan``; ``over``
    when the estimate is over the limit, as a forced launch may be)."""
    line = escape(summary_text(run))
    plan = plan_text(run)
    if not plan:
        return line
    over = run.plan is not None and run.plan.exceeds_limit
    return line + tag("span", f" · {plan}", class_="vg-plan over" if over else "vg-plan")


def row_warnings(row: RunRow) -> list[str]:
    """The catalog's warnings about the row's request (a length or size the model does not
    document), shown on the row instead of as a Python warning per cell."""
    try:
        return check_request(row.request)
    except Exception:  # a display must not fail on a catalog quirk
        return []


def _message_html(row: RunRow) -> str:
    message = row_message(row)
    if message is None:
        return ""
    if row.error is not None or (row.task is not None and row.task.error):
        # One line in the row; the gateway's whole text one click away.
        line = shorten(message, MESSAGE_LINE_CHARS, one_line=True)
        return tag(
            "div", raw=tag("details", raw=tag("summary", line) + tag("pre", message)), class_="m"
        )
    return tag("div", message, class_="n")


def _row_html(row: RunRow, prompt_chars: int) -> str:
    req = row.request
    prompt = req.prompt or ""
    state = row.state.value
    progress = row.progress
    bar = ""
    if row.state.is_finished and row.state.value != "done":
        pass  # a failed task's "100%" only means the gateway stopped working on it
    elif progress is not None:
        bar = f'<progress max="100" value="{int(progress)}"></progress> {int(progress)}%'
    elif not row.state.is_finished and row.state.value != "waiting":
        bar = "<progress></progress>"  # indeterminate: the gateway gives no percentage
    note = _message_html(row)
    for warning in row_warnings(row):
        note += tag("div", "ⓘ " + shorten(warning, MESSAGE_CHARS), class_="w cw")
    if row.result is not None and (findings := spec_findings(row.result)):
        note += tag("div", "⚠ " + shorten("; ".join(findings), MESSAGE_CHARS), class_="w")
    extra = []
    if req.seed is not None:
        extra.append(f"seed {req.seed}")
    if _duration(row) is not None:
        extra.append(f"{_duration(row)} s")
    left, basis = estimate_text(row)
    cost, cost_basis = cost_cell(row)
    cells = [
        tag("td", row.index + 1),
        tag("td", req.model, class_="md"),
        tag(
            "td",
            raw=escape(shorten(prompt, prompt_chars, one_line=True)) + note,
            title=shorten(prompt, 1000),
            class_="pr",
        ),
        tag("td", " · ".join(extra), class_="se"),
        tag("td", _STATE_WORDS.get(state, state), class_="st"),
        f'<td class="pg">{bar}</td>',
        tag("td", format_seconds(row.elapsed), class_="tm"),
        tag("td", left, title=basis, class_="tm"),
        tag("td", cost, title=cost_basis, class_="co"),
    ]
    return f'<tr class="s-{escape(state)}">{"".join(cells)}</tr>'


def table_html(run: Run, *, prompt_chars: int = PROMPT_CHARS, css: bool = True) -> str:
    """The run as an HTML table; every piece of text in it is escaped.

    While the run works (or when a row failed) the table is open; once everything is done
    it folds into its summary line, which a click opens again.
    """
    rows = "".join(_row_html(row, prompt_chars) for row in run.rows)
    head = "".join(f"<th>{name}</th>" for name in COLUMNS)
    failed = any(row.state.value in ("failed", "timed_out", "submit_unknown") for row in run.rows)
    is_open = " open" if not run.done or failed else ""
    return (
        (TABLE_CSS if css else "")
        + f'<details class="vg-run"{is_open}><summary class="vg-rs">{summary_html(run)}'
        + f'</summary><table class="vg-rt"><thead><tr>{head}</tr></thead><tbody>{rows}'
        + "</tbody></table></details>"
    )


def table_text(run: Run, *, prompt_chars: int = 40) -> str:
    """The run as a plain-text table (for ``text/plain`` outputs and scripts)."""
    header = ("#", "model", "prompt", "status", "progress", "elapsed", "ETA", "cost", "message")
    lines: list[tuple[str, ...]] = []
    for row in run.rows:
        progress = row.progress
        if row.state.is_finished and row.state.value != "done":
            progress = None
        lines.append(
            (
                str(row.index + 1),
                row.request.model,
                shorten(row.request.prompt, prompt_chars, one_line=True),
                row.state.value,
                "" if progress is None else f"{int(progress)}%",
                format_seconds(row.elapsed),
                format_seconds(row.eta),
                cost_cell(row)[0],
                shorten(row_message(row), 120, one_line=True),
            )
        )
    widths = [
        max(len(h), *(len(line[i]) for line in lines)) if lines else len(h)
        for i, h in enumerate(header)
    ]

    def fmt(cells: tuple[str, ...]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    # the plan the run was launched with (estimate, range, limit), made before anything was
    # sent; its short form, so the line stays one line
    plan = f" · plan: {run.plan.short()}" if run.plan is not None else ""
    return "\n".join([summary_text(run) + plan, fmt(header), *(fmt(line) for line in lines)])
