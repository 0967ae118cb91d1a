"""The live table of a run: one row per task, redrawn at most a few times a second.

A run calls its listeners on its event loop's thread for every row change (every poll of
every task), so 200 polling tasks produce a stream of calls. ``Coalescer`` turns that
stream into at most one redraw per ``interval``.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from ..core.text import shorten
from .html import escape, tag
from .video import spec_findings

if TYPE_CHECKING:
    from ..run.run import Run, RunRow

__all__ = [
    "PROMPT_CHARS",
    "TABLE_CSS",
    "format_seconds",
    "row_message",
    "summary_text",
    "table_html",
    "table_text",
]

#: characters of a prompt shown in a row; the full prompt is in the cell's tooltip
PROMPT_CHARS = 60
#: characters of a gateway message shown in a row (a whole HTML error page must not flood it)
MESSAGE_CHARS = 300

# One <style> for the table; class names are short because they repeat on every row.
TABLE_CSS = """<style>
.vg-rt{font:12px/1.4 system-ui,sans-serif;border-collapse:collapse;margin:4px 0}
.vg-rt th,.vg-rt td{padding:2px 8px;text-align:left;border-bottom:1px solid #e5e5e5;vertical-align:top}
.vg-rt th{font-weight:600;color:#444}
.vg-rt progress{width:90px;height:10px;vertical-align:middle}
.vg-rt .m{color:#b00020;white-space:pre-wrap;max-width:520px}
.vg-rt .n{color:#8a6d00}
.vg-rt .w{color:#b35900}
.vg-rt tr.s-done td.st{color:#1a7f37}
.vg-rt tr.s-failed td.st,.vg-rt tr.s-timed_out td.st,.vg-rt tr.s-submit_unknown td.st{color:#b00020}
.vg-rs{font:12px system-ui,sans-serif;color:#333;margin:2px 0}
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


def summary_text(run: Run) -> str:
    """One line: ``"12 tasks: 3 done, 2 in_progress, 7 queued · 0:41"``."""
    counts = run.counts
    parts = [f"{n} {state}" for state, n in counts.items() if n and state != "total"]
    end = run.finished_at if run.finished_at is not None else time.time()
    took = format_seconds(max(0.0, end - run.started_at))
    head = f"{run.title} · " if run.title else ""
    word = "task" if counts["total"] == 1 else "tasks"
    state = "finished" if run.done else "running"
    return f"{head}{counts['total']} {word}: {', '.join(parts)} · {state} {took}"


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
    message = row_message(row)
    if message is None:
        note = ""
    elif row.error is not None or (row.task is not None and row.task.error):
        note = tag("div", message, class_="m")
    else:
        note = tag("div", message, class_="n")
    if row.result is not None and (findings := spec_findings(row.result)):
        note += tag("div", "⚠ " + shorten("; ".join(findings), MESSAGE_CHARS), class_="w")
    extra = []
    if req.seed is not None:
        extra.append(f"seed {req.seed}")
    if _duration(row) is not None:
        extra.append(f"{_duration(row)} s")
    cells = [
        tag("td", row.index + 1),
        tag("td", req.model),
        tag(
            "td",
            raw=escape(shorten(prompt, prompt_chars, one_line=True)) + note,
            title=shorten(prompt, 1000),
        ),
        tag("td", " · ".join(extra)),
        tag("td", state.replace("_", " "), class_="st"),
        f"<td>{bar}</td>",
        tag("td", format_seconds(row.elapsed)),
        tag("td", format_seconds(row.eta)),
    ]
    return f'<tr class="s-{escape(state)}">{"".join(cells)}</tr>'


def table_html(run: Run, *, prompt_chars: int = PROMPT_CHARS, css: bool = True) -> str:
    """The run as an HTML table; every piece of text in it is escaped.

    While the run works (or when a row failed) the table is open; once everything is done
    it folds into its summary line, which a click opens again.
    """
    rows = "".join(_row_html(row, prompt_chars) for row in run.rows)
    head = "".join(
        f"<th>{name}</th>"
        for name in ("#", "model", "prompt", "", "status", "progress", "elapsed", "ETA")
    )
    failed = any(row.state.value in ("failed", "timed_out", "submit_unknown") for row in run.rows)
    is_open = " open" if not run.done or failed else ""
    return (
        (TABLE_CSS if css else "")
        + f'<details class="vg-run"{is_open}><summary class="vg-rs">{escape(summary_text(run))}'
        + f'</summary><table class="vg-rt"><thead><tr>{head}</tr></thead><tbody>{rows}'
        + "</tbody></table></details>"
    )


def table_text(run: Run, *, prompt_chars: int = 40) -> str:
    """The run as a plain-text table (for ``text/plain`` outputs and scripts)."""
    header = ("#", "model", "prompt", "status", "progress", "elapsed", "ETA", "message")
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
                shorten(row_message(row), 120, one_line=True),
            )
        )
    widths = [
        max(len(h), *(len(line[i]) for line in lines)) if lines else len(h)
        for i, h in enumerate(header)
    ]

    def fmt(cells: tuple[str, ...]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    return "\n".join([summary_text(run), fmt(header), *(fmt(line) for line in lines)])
