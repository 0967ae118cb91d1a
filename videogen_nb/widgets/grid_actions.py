"""What a comparison grid's cell menu does in the kernel: re-run and remix.

The front end (``display/assets/grid/menu.js``) sends a message; ``ComparisonGrid`` hands it
to the methods here, which go through the client the grid was given (``enable_actions``),
never HTTP. A re-run or a remix starts a new ``Run``; its results join the grid as new cells and
fill in as they finish, so the new video sits beside the ones it is compared with.

>>> grid.enable_actions(client)                  # doctest: +SKIP
>>> grid.rerun(0); grid.remix(0, "at night")     # doctest: +SKIP

(Favourites: ``grid_favourites``. ``ComparisonGrid.export``, the grid as one video file,
lives with the widget.)
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from ..core.errors import ValidationError
from ..core.loops import running_on
from ..core.task import Result
from ..dialects import get_dialect

__all__ = ["GridActions", "remix_support", "start_on_client_loop"]

log = logging.getLogger(__name__)

#: seconds a re-run or a remix may take to start (``client.run`` returns at once; this only
#: bounds a client loop that is stuck)
START_TIMEOUT = 30.0


def remix_support(client: Any) -> tuple[bool, str]:
    """Whether ``client``'s gateway can remix, and what to say when it cannot.

    Under ``dialect="auto"`` the answer waits for the origin (the client adopts the dialect
    the origin was made with), so remix is offered and the kernel explains a refusal.
    """
    aclient = getattr(client, "aclient", client)
    name = str(getattr(aclient, "dialect", ""))
    try:
        supported = get_dialect(name).supports_remix
    except (ValidationError, KeyError, TypeError, ValueError):
        supported = False
    # "auto" starts on the unified dialect and moves to the origin's when it has remix
    if supported or getattr(aclient, "_auto", False):
        return True, ""
    return False, (
        f"remix needs OpenAI's POST /v1/videos/{{id}}/remix; the {name or 'unknown'} dialect "
        "of this gateway has no such call"
    )


def start_on_client_loop(client: Any, work: Callable[[Any], Any]) -> Any:
    """``work(async_client)`` on the loop the client's runs live on, from any thread.

    A blocking ``Client`` keeps its runs on a private background loop, and a message from
    the front end arrives on the kernel's own loop: the run must start where it will be
    followed, so the call hops to that loop and waits (``run`` returns at once).
    """
    aclient = getattr(client, "aclient", client)
    loop = getattr(aclient, "loop", None)
    if isinstance(loop, asyncio.AbstractEventLoop) and loop.is_running() and not running_on(loop):

        async def call() -> Any:
            return work(aclient)

        return asyncio.run_coroutine_threadsafe(call(), loop).result(timeout=START_TIMEOUT)
    return work(aclient)


class GridActions:
    """The kernel side of the cell menu, mixed into ``ComparisonGrid``.

    The grid provides ``_lock``, ``_results``, ``update_result``, the traitlets
    ``actions_enabled``/``remix_supported``/``remix_note``/``message``, and
    ``_masked()`` (a blind grid whose models are hidden).
    """

    _client: Any = None
    #: the runs the cell menu started (re-runs and remixes), oldest first
    spawned: list[Any]

    def enable_actions(self, client: Any) -> None:
        """Offer re-run (and remix, where the gateway has it) in every cell's menu, through
        ``client`` (a ``vg.Client`` or ``vg.AsyncClient``)."""
        self._client = client
        supported, note = remix_support(client)
        grid: Any = self
        with grid.hold_sync():
            grid.remix_supported = supported
            grid.remix_note = note
            grid.actions_enabled = True

    def _result_at(self, index: int) -> Result:
        grid: Any = self
        with grid._lock:
            if not 0 <= index < len(grid._results):
                raise IndexError(f"no cell {index}")
            return grid._results[index]

    def _check_actions(self, what: str) -> Any:
        grid: Any = self
        if self._client is None:
            raise ValidationError(
                what, f"this grid cannot {what} (no client): call grid.enable_actions(client)"
            )
        if grid._masked():
            raise ValidationError(
                what, f"no {what} in a blind grid before Reveal models: it would tell the models"
            )
        return self._client

    def rerun(self, index: int) -> Any:
        """Submit cell ``index``'s request again as a new run (a new task, never the
        journal's cached video: ``force=True``); its result joins the grid as a new cell.
        Returns the new ``Run``."""
        client = self._check_actions("rerun")
        request = self._result_at(index).request
        run = start_on_client_loop(
            client, lambda c: c.run([request], force=True, title=f"re-run of cell {index}")
        )
        return self._adopt(run)

    def remix(self, index: int, prompt: str) -> Any:
        """A remix of cell ``index``'s video with a new ``prompt`` (``client.remix``); the
        new video joins the grid as a new cell. Returns the new ``Run``."""
        client = self._check_actions("remix")
        text = str(prompt or "").strip()
        if not text:
            raise ValidationError("prompt", "write what the remix should change")
        origin = self._result_at(index)
        run = start_on_client_loop(client, lambda c: c.remix(origin, prompt=text))
        return self._adopt(run)

    def _show_spawned(self) -> None:
        """The given cells, then every result of the runs the menu started."""
        grid: Any = self
        with grid._lock:
            given = grid._results[: grid._given]
            grid._results = given + [r for run in self.spawned for r in run.results]
            grid._refresh()

    def _adopt(self, run: Any) -> Any:
        """Show ``run``'s results as new cells at the end of the grid, kept up to date."""
        grid: Any = self
        self.spawned.append(run)
        self._show_spawned()

        def follow(_row: int | None) -> None:
            try:
                self._show_spawned()
            except Exception:  # a listener must never break the run that calls it
                log.exception("the grid could not show a new result")

        run.add_listener(follow)
        grid.message = f"started {run.title or 'a new run'}"
        return run
