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

Saved notebooks: the view is displayed as two outputs (``display.static_grid``
``display_with_fallback``): the widget, then a fallback with a display id that holds the
static ``text/html`` (the table and a table of posters) and the ``text/plain`` table, and
that shows only when the widget cannot (reopened without its kernel: no "model not found").
When the run ends, the fallback is updated, so a notebook saved afterwards (from JupyterLab,
nbclient, ``nbconvert --execute``) holds the final table, not the first moment's, and
nbviewer, GitHub or a notebook reopened without its kernel show what was compared.
Redraws run in a fresh ``contextvars`` context that adopts the kernel's latest request: their
messages then name the cell running now (not the finished cell that displayed the run),
which is what nbclient records into the saved notebook and its widget state.

>>> run                                    # doctest: +SKIP
>>> show_run(run, view="table")            # doctest: +SKIP
>>> vg.widgets.run_view.install(NotebookPresenter(view="grid"))   # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import pathlib
import threading
import weakref
from typing import TYPE_CHECKING, Any, Literal

import ipywidgets as widgets

from ..display.frontend import set_widget_video
from ..display.html import tag
from ..display.report import write_report
from ..display.static_grid import (
    display_with_fallback,
    fallback_bundle,
    grid_fallback_html,
    results_fallback_html,
    widget_bundle,
)
from ..display.table import summary_html, table_html, table_text
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
#: the widget output's ``text/plain``: fixed, so it never shows a stale moment of the run
#: (the fallback output below it holds the table)
_LABEL = "videogen-nb run view (a live widget; its table and posters follow)"
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
        #: the handle of this view's output (``display``), updated when the run ends
        self._handle: Any = None
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
        # A fresh context: the kernel stamps these messages with the cell running now (see
        # the module docstring), so nbclient keeps them in the saved notebook.
        _latest_cell_context().run(self._flush_here, dirty)

    def _flush_here(self, dirty: set[int]) -> None:
        try:
            done = self.run.done
            # the last flush shows every row as it ended, whatever was marked dirty
            self.redraw(None if done else dirty)
            if done:
                self._show_final()
        except Exception:  # a display bug must never stop the run or the loop
            log.exception("live run display failed")

    def _show_final(self) -> None:
        """Update the saved output (static table and posters) to the run's final state."""
        handle = self._handle
        if handle is not None:
            handle.update(fallback_bundle(self.static_html(), self.text()), raw=True)

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
        if self.grid is None:
            if any(row.result is not None and row.result.ok for row in run.rows):
                self._make_grid()
        # In "both" the table shows progress; the grid changes only as rows finish, which
        # keeps its (larger) state off the wire while tasks merely poll.
        elif self.view == "grid" or newly or dirty is None:
            self.grid.set_results(run.results)
        # only once shown: a redraw that failed half-way is done again by the next one
        self._finished_seen = finished

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
        # Each cell's menu re-runs or remixes through the run's client (a new run).
        self.grid.enable_actions(run.client)
        # The view alone (not ``append_display_data``, which would show the grid's own
        # fallback output in the cell): the run view's fallback has the posters.
        data, metadata = widget_bundle(self.grid._repr_mimebundle_(), repr(self.grid))
        self.grid_out.outputs += (
            {"output_type": "display_data", "data": data, "metadata": metadata},
        )

    # -- display --------------------------------------------------------------------------

    def text(self) -> str:
        """The run as plain text (the table, or the summary line)."""
        return table_text(self.run)

    def static_html(self) -> str:
        """The view as plain HTML for where no kernel runs: the table (or the summary) and
        the grid's posters, as they are now."""
        run = self.run
        table = table_html(run) if self.table is not None else _summary_html(run)
        if self.view == "table":
            return tag("div", raw=table, class_="vg-run-static")
        grid = self.grid
        if grid is not None:
            posters = grid_fallback_html(grid)
        else:
            posters = results_fallback_html(
                [row.result for row in run.rows if row.result is not None],
                rows=run.grid_rows,
                cols=run.grid_cols,
                title=run.title or "",
            )
        return tag("div", raw=table + posters, class_="vg-run-static")

    def bundle(self, **kwargs: Any) -> dict[str, Any]:
        """The view, the static HTML and the text table in one bundle (what a front end
        that formats objects itself gets; ``display`` shows two outputs instead)."""
        bundle = dict(self.widget._repr_mimebundle_(**kwargs) or {})
        bundle["text/html"] = self.static_html()
        bundle["text/plain"] = self.text()
        return bundle

    def display(self) -> RunView:
        """Show the view, then its fallback with a display id, so the run's end can update
        what is saved (see the module docstring)."""
        self._handle = display_with_fallback(
            self.widget._repr_mimebundle_(), self.static_html(), self.text(), label=_LABEL
        )
        if not self.run.done:
            _watch_for_final(self)
        return self

    def _ipython_display_(self) -> None:
        self.display()

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        return self.bundle(**kwargs)

    def __repr__(self) -> str:
        return f"RunView({self.run!r}, view={self.view!r})"


#: views whose run had not ended when shown: after each cell, the ended ones update their
#: saved output from the kernel's thread (see ``_finalize_ended_views``)
_pending_final: weakref.WeakSet[RunView] = weakref.WeakSet()
_hook_lock = threading.Lock()
_hook_registered = False


def _watch_for_final(view: RunView) -> None:
    """Make sure ``view``'s saved output gets the run's final state.

    The run's loop updates it when the run ends, but a cell that waited for the run (``run.wait()``)
    can finish between the run's end and that update, and nbclient keeps only what arrives while
    a cell runs. IPython's ``post_run_cell`` runs inside the cell, on the kernel's thread: there
    the update always lands.
    """
    global _hook_registered
    _pending_final.add(view)
    with _hook_lock:
        if _hook_registered:
            return
        try:
            from IPython import get_ipython
        except ImportError:  # pragma: no cover - ipywidgets depends on IPython
            return
        shell = get_ipython()
        if shell is None:
            return
        shell.events.register("post_run_cell", _finalize_ended_views)
        _hook_registered = True


def _finalize_ended_views(*_: Any) -> None:
    for view in list(_pending_final):
        if view.run.done:
            _pending_final.discard(view)
            try:
                view._show_final()
            except Exception:  # a display bug must never break the user's cell
                log.exception("final run display failed")


def _latest_cell_context() -> contextvars.Context:
    """A fresh context in which the kernel's outputs belong to the cell that runs now.

    The run's loop callbacks carry the context of the cell that started them, so their
    display updates would name a finished cell, and nbclient (which records what is saved)
    drops those. The kernel knows the latest request (``kernel.get_parent()`` falls back to
    it outside any cell's context); ipykernel's display publisher takes it per context.
    """
    context = contextvars.Context()

    def adopt_latest_parent() -> None:
        try:
            from IPython import get_ipython

            shell = get_ipython()
            kernel = getattr(shell, "kernel", None)
            adopt = getattr(getattr(shell, "display_pub", None), "set_thread_parent", None)
            if kernel is not None and adopt is not None:
                adopt(kernel.get_parent())
        except Exception:  # not an ipykernel shell: nothing to adopt
            log.debug("no kernel parent to adopt", exc_info=True)

    context.run(adopt_latest_parent)
    return context


def _summary_html(run: Run) -> str:
    return f'<div class="vg-rs" style="font:12px system-ui,sans-serif">{summary_html(run)}</div>'


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
        """Show ``run`` live in the current output, with a display id (``RunView.display``)."""
        self.view_for(run, view=view, **options).display()

    def write_html(
        self, run: Run, path: pathlib.Path, *, embed: bool = True, **options: Any
    ) -> pathlib.Path:
        """Write the run's comparison as one self-contained HTML file (``write_report``)."""
        options.setdefault("title", run.title or "Video comparison")
        options.setdefault("rows", run.grid_rows)
        options.setdefault("cols", run.grid_cols)
        options.setdefault("journal", run.client.journal)  # votes, reported costs
        options.setdefault("run_id", run.run_id)
        return write_report(run.results, path, embed=embed, **options)

    def __repr__(self) -> str:
        return f"NotebookPresenter(view={self.view!r}, interval={self.interval})"


def install(presenter: NotebookPresenter | None = None) -> NotebookPresenter:
    """Register ``presenter`` (default: a new ``NotebookPresenter``) with the run layer and
    return it; ``videogen_nb/__init__.py`` calls this on import."""
    chosen = presenter if presenter is not None else NotebookPresenter()
    set_presenter(chosen)
    # vg.config(display="widget"): vg.show(result) streams over widget messages
    set_widget_video(_one_video_grid)
    return chosen


def _one_video_grid(result: Any) -> ComparisonGrid:
    """``result`` as a one-cell grid: its bytes travel over the kernel's widget messages,
    so it plays where no file server does (VS Code, Colab)."""
    from .grid import ComparisonGrid

    return ComparisonGrid([result], rows=None, cols=None)
