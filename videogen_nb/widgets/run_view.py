"""The notebook presenter: how a ``Run`` shows itself live, and how it writes its report.

``install()`` registers ``NotebookPresenter`` with the run layer (``run/presenter.py``), so
that a ``Run`` left as the last expression of a cell renders a ``RunView``: the live table
while tasks work and the ``ComparisonGrid`` below it as results arrive.

Threads: the view's widgets are made on the thread that displays the run (the kernel's);
after that, only the run's event loop thread writes to them, from the run's listener,
through a ``Coalescer`` (at most ``1 / interval`` redraws a second however many tasks
poll). The grid appears with ``Output.append_display_data``, never ``with out:``, because
``with out:`` captures by the kernel's current message, which a background thread does not
have.

>>> run                                    # doctest: +SKIP
>>> show_run(run, view="table")            # doctest: +SKIP
>>> vg.widgets.run_view.install(NotebookPresenter(view="grid"))   # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import logging
import pathlib
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

import ipywidgets as widgets

from ..display.html import escape
from ..display.report import write_report
from ..display.table import summary_text, table_text
from ..run.presenter import set_presenter
from .live_table import Coalescer, LiveTable

if TYPE_CHECKING:
    from ..run.run import Run
    from .grid import ComparisonGrid

__all__ = ["VIEWS", "NotebookPresenter", "RunView", "install", "show_run"]

log = logging.getLogger(__name__)

ViewName = Literal["table", "grid", "both"]
#: what a run view can show: the live table, the comparison grid, or the table with the
#: grid below it (the default)
VIEWS: tuple[str, ...] = ("table", "grid", "both")
#: seconds between clock ticks that refresh elapsed time and ETA while nothing else changes
TICK_SECONDS = 1.0


def _check_view(view: str) -> str:
    if view not in VIEWS:
        raise ValueError(f"view must be one of {', '.join(VIEWS)}; got {view!r}")
    return view


class RunView:
    """A run shown live: table, grid or both, in one ``VBox`` (``widget``).

    ``interval`` is the shortest time between two redraws (0.2 s: at most five widget
    updates a second); ``tick`` refreshes elapsed times while no row changes. ``grid`` is
    None until the first result arrives (with ``view="grid"`` it exists at once).
    ``grid_options`` go to ``ComparisonGrid`` (``blind=True``, ``max_bytes=...``).
    """

    def __init__(
        self,
        run: Run,
        *,
        view: str = "both",
        interval: float = 0.2,
        tick: float = TICK_SECONDS,
        grid_options: dict[str, Any] | None = None,
    ) -> None:
        self.run = run
        self.view = _check_view(view)
        self.interval = float(interval)
        self.tick = float(tick)
        self.grid_options = dict(grid_options or {})
        self.table: LiveTable | None = LiveTable(run) if view in ("table", "both") else None
        self.grid: ComparisonGrid | None = None
        self.grid_out = widgets.Output(_dom_classes=("vg-run-grid",))
        self.summary = widgets.HTML(_dom_classes=("vg-run-summary",))
        children: list[widgets.Widget] = []
        if self.table is not None:
            children.append(self.table.widget)
        else:
            children.append(self.summary)
            self.summary.value = _summary_html(run)
        if view != "table":
            children.append(self.grid_out)
        self.widget = widgets.VBox(children, _dom_classes=("vg-run-view",))
        self._coalescer: Coalescer | None = None
        self._ticker: asyncio.TimerHandle | None = None
        self._finished_seen: set[int] = set()
        self._started = False
        self._lock = threading.Lock()
        if view == "grid":
            self._make_grid()

    # -- lifecycle ----------------------------------------------------------------------

    def start(self) -> RunView:
        """Follow the run: register the listener and begin redrawing on the run's loop."""
        with self._lock:
            if self._started:
                return self
            self._started = True
        if self.table is not None:
            # The table shows the catalog's warnings on their rows: no raw Python warning.
            self.run.warnings_on_rows = True
        self.run.add_listener(self._on_change)
        loop = _run_loop(self.run)
        if loop is None or loop.is_closed() or not loop.is_running():
            # No loop to redraw from (a finished run restored, a loop that stopped): draw
            # once, here, and that is final.
            self._flush(set(range(len(self.run.rows))))
            return self
        self._coalescer = Coalescer(loop, self._flush, interval=self.interval)
        loop.call_soon_threadsafe(self._begin)
        return self

    def stop(self) -> None:
        """Stop following the run (the widgets keep what they show)."""
        self.run.remove_listener(self._on_change)
        loop = self._coalescer.loop if self._coalescer is not None else None
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._stop_timers)

    def _stop_timers(self) -> None:
        if self._coalescer is not None:
            self._coalescer.cancel()
        if self._ticker is not None:
            self._ticker.cancel()
            self._ticker = None

    # -- on the run's loop thread ---------------------------------------------------------

    def _begin(self) -> None:
        assert self._coalescer is not None
        self._coalescer.poke()
        self._schedule_tick()

    def _schedule_tick(self) -> None:
        if self._coalescer is None or self.run.done:
            self._ticker = None
            return
        self._ticker = self._coalescer.loop.call_later(self.tick, self._on_tick)

    def _on_tick(self) -> None:
        if self._coalescer is not None and any(
            row.submitted_at is not None and not row.state.is_finished for row in self.run.rows
        ):
            self._coalescer.poke()
        self._schedule_tick()

    def _on_change(self, index: int | None) -> None:
        coalescer = self._coalescer
        if coalescer is None:
            return
        if index is None:
            # The run ended: show the final state now, not after the throttle.
            coalescer.flush_now()
            if self._ticker is not None:
                self._ticker.cancel()
                self._ticker = None
            return
        if self._ticker is None and not self.run.done:
            self._schedule_tick()  # run.retry_unknown() woke a finished run up
        coalescer.poke(index)

    def _flush(self, dirty: set[int]) -> None:
        try:
            self.redraw(dirty)
        except Exception:  # a display bug must never stop the run or the loop
            log.exception("live run display failed")

    def redraw(self, dirty: set[int] | None = None) -> None:
        """Bring the widgets up to date (rows in ``dirty`` changed; None: maybe all)."""
        run = self.run
        if self.table is not None:
            self.table.refresh()
        else:
            self.summary.value = _summary_html(run)
        if self.view == "table":
            return
        finished = {row.index for row in run.rows if row.state.is_finished}
        newly = finished - self._finished_seen
        self._finished_seen = finished
        if self.grid is None:
            if any(row.result is not None and row.result.ok for row in run.rows):
                self._make_grid()
            return
        # In "both" the table shows progress; the grid changes only as rows finish, which
        # keeps its (larger) state off the wire while tasks merely poll.
        if self.view == "grid" or newly or dirty is None:
            self.grid.set_results(run.results)

    def _make_grid(self) -> None:
        from .grid import ComparisonGrid

        run = self.run
        journal = getattr(run.client, "journal", None)
        options: dict[str, Any] = {
            "rows": run.grid_rows,
            "cols": run.grid_cols,
            "run_id": run.run_id,
            "journal": journal,
            "title": run.title or "",
        }
        options.update(self.grid_options)
        self.grid = ComparisonGrid(run.results, **options)
        # A failed cell offers "Retry": that one request is submitted again in this run.
        self.grid.enable_retry(run.retry)
        self.grid_out.append_display_data(self.grid)

    # -- display --------------------------------------------------------------------------

    def text(self) -> str:
        """The run as plain text (the table, or the summary line)."""
        return table_text(self.run)

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        bundle = dict(self.widget._repr_mimebundle_(**kwargs) or {})
        bundle["text/plain"] = self.text()
        return bundle

    def __repr__(self) -> str:
        return f"RunView({self.run!r}, view={self.view!r})"


def _summary_html(run: Run) -> str:
    return f'<div class="vg-rs" style="font:12px system-ui,sans-serif">{escape(summary_text(run))}</div>'


def _run_loop(run: Run) -> asyncio.AbstractEventLoop | None:
    """The loop the run works on: the only thread allowed to write to its widgets."""
    return run.loop


def show_run(run: Run, *, view: str = "both", **options: Any) -> RunView:
    """A started ``RunView`` of ``run``; display it (the last expression of a cell, or
    ``display(...)``). ``options`` go to ``RunView`` (``interval``, ``grid_options``)."""
    return RunView(run, view=view, **options).start()


class NotebookPresenter:
    """The display layer's ``Presenter``: live views in notebooks, HTML reports on disk.

    ``view`` is the default for every run shown (``"both"``: table, grid below as results
    arrive; ``"table"``; ``"grid"``); ``interval`` the shortest time between redraws.
    """

    def __init__(self, *, view: str = "both", interval: float = 0.2, **options: Any) -> None:
        self.view = _check_view(view)
        self.interval = float(interval)
        self.options = options
        #: the last view shown (tests and the Studio read it)
        self.last_view: RunView | None = None

    def view_for(self, run: Run, *, view: str | None = None, **options: Any) -> RunView:
        """A started live view of ``run`` with this presenter's defaults."""
        merged = {"interval": self.interval, **self.options, **options}
        shown = show_run(run, view=view or self.view, **merged)
        self.last_view = shown
        return shown

    def display(self, run: Run, *, view: str | None = None, **options: Any) -> None:
        """Show ``run`` live in the current output (``IPython.display.display``)."""
        from IPython.display import display

        # IPython ships no types; a typed name keeps this call checked
        show: Callable[..., object] = display
        show(self.view_for(run, view=view, **options))

    def write_html(
        self, run: Run, path: pathlib.Path, *, embed: bool = True, **options: Any
    ) -> pathlib.Path:
        """Write the run's comparison as one self-contained HTML file (``write_report``)."""
        options.setdefault("title", run.title or "Video comparison")
        options.setdefault("rows", run.grid_rows)
        options.setdefault("cols", run.grid_cols)
        return write_report(run.results, path, embed=embed, **options)

    def __repr__(self) -> str:
        return f"NotebookPresenter(view={self.view!r}, interval={self.interval})"


def install(presenter: NotebookPresenter | None = None) -> NotebookPresenter:
    """Register ``presenter`` (default: a new ``NotebookPresenter``) with the run layer and
    return it; ``videogen_nb/__init__.py`` calls this on import."""
    chosen = presenter if presenter is not None else NotebookPresenter()
    set_presenter(chosen)
    return chosen
