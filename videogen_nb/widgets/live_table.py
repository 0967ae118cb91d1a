"""The live table widget of a run: one ``HTML`` widget, redrawn at most a few times a second.

A run calls its listeners on its event loop's thread for every row change (every poll of
every task), so 200 polling tasks produce a stream of calls. ``Coalescer`` turns that
stream into at most one redraw per ``interval``; ``LiveTable`` redraws one ``HTML``
widget whose content is built from escaped text only (``display.table``: prompts and
gateway messages are untrusted). Each row shows its cost (the gateway's figure, or "~" and
the price table's estimate, or "price unknown"), and the summary line the run's total,
then the plan it was launched with (``display.table.summary_html``: the task count, the
estimate and its range, the unpriced models by name, the limit), drawn from the first
moment, before anything is sent.

>>> table = LiveTable(run)                # doctest: +SKIP
>>> table.refresh(); print(table_text(run))   # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from ..display.table import PROMPT_CHARS, TABLE_CSS, table_html, table_text

if TYPE_CHECKING:
    from ..run.run import Run

__all__ = ["Coalescer", "LiveTable"]


class Coalescer:
    """Turns many change notices into at most one ``flush`` per ``interval`` seconds.

    ``poke`` and ``flush_now`` must be called on ``loop``'s thread (where a run's listeners
    run); ``flush`` is called there too, with the set of row indexes poked since the last
    flush. Cheap enough to be called on every poll of every task.
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        flush: Callable[[set[int]], None],
        *,
        interval: float = 0.2,
    ) -> None:
        self.loop = loop
        self.interval = float(interval)
        self.flushes = 0
        self._flush = flush
        self._dirty: set[int] = set()
        self._handle: asyncio.TimerHandle | None = None
        self._last = 0.0

    def poke(self, index: int | None = None) -> None:
        """Note that row ``index`` (or nothing in particular: a clock tick) changed."""
        if index is not None:
            self._dirty.add(index)
        if self._handle is not None:
            return
        delay = max(0.0, self._last + self.interval - time.monotonic())
        self._handle = self.loop.call_later(delay, self.flush_now)

    def flush_now(self) -> None:
        """Flush at once (the run ended, or the timer fired)."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        dirty, self._dirty = self._dirty, set()
        self._last = time.monotonic()
        self.flushes += 1
        self._flush(dirty)

    def cancel(self) -> None:
        """Drop a pending flush."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None


class LiveTable:
    """One ``ipywidgets.HTML`` showing a run's rows; ``refresh()`` redraws it.

    ``refresh`` only assigns the widget's value, so it may be called from the run's loop
    thread (the only thread that writes to display widgets while a run works). The widget
    carries the DOM class ``vg-run-table``.
    """

    def __init__(self, run: Run, *, prompt_chars: int = PROMPT_CHARS) -> None:
        self.run = run
        self.prompt_chars = prompt_chars
        self.redraws = 0
        self.widget = widgets.HTML(value=TABLE_CSS + self._body(), _dom_classes=("vg-run-table",))

    def _body(self) -> str:
        return table_html(self.run, prompt_chars=self.prompt_chars, css=False)

    def refresh(self) -> None:
        """Redraw from the run's current rows (sends nothing when nothing visible changed)."""
        self.redraws += 1
        self.widget.value = TABLE_CSS + self._body()

    @property
    def html(self) -> str:
        """The HTML the widget shows now."""
        return str(self.widget.value)

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        bundle = dict(self.widget._repr_mimebundle_(**kwargs) or {})
        bundle["text/plain"] = table_text(self.run)
        return bundle

    def __repr__(self) -> str:
        return f"LiveTable({self.run!r})"
