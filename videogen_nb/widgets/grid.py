"""``ComparisonGrid``: videos side by side, played in step, with blind voting.

Rows are one request field (the prompt by default), columns another (the model); each cell
is one ``Result``. The front end (the parts in ``display/assets/grid/``, joined into one
module by ``display.grid_assets``; no build step) plays every video from one control bar and
keeps them aligned to a master clock.

Video bytes never enter widget state: the browser asks for each cell with a custom message
and the kernel answers with the file as binary buffers, so saved notebooks stay small and
the grid works where no file server does (VS Code, Colab, Voila).

>>> grid = vg.ComparisonGrid(run.results)                     # doctest: +SKIP
>>> grid = vg.ComparisonGrid(run.results, blind=True)         # doctest: +SKIP
>>> grid.reveal(); grid.scores()                              # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import threading
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import anywidget
import traitlets

from ..core.errors import VideoGenError
from ..core.request import VideoRequest
from ..core.scoring import ROW_VOTE_KINDS as VOTE_KINDS
from ..core.scoring import win_rates
from ..core.task import Result
from ..core.text import shorten
from ..display.grid_assets import grid_css, grid_js
from ..display.layout import (
    DEFAULT_MAX_BYTES,
    GridLayout,
    as_result,
    build_layout,
    cell_states,
    check_fields,
    choose_axes,
    column_letter,
    file_info,
    probe_fps,
)
from ..display.static_grid import display_with_fallback, grid_fallback_html, with_static_html
from ..display.video import video_mime
from .grid_actions import GridActions
from .grid_favourites import GridFavourites
from .grid_votes import GridVoting, VoteRecorder

__all__ = [
    "DEFAULT_MAX_BYTES",
    "VOTE_KINDS",
    "ComparisonGrid",
    "GridLayout",
    "VoteRecorder",
    "as_result",
    "build_layout",
    "cell_states",
    "column_letter",
    "probe_fps",
    "win_rates",
]

log = logging.getLogger(__name__)

#: Size of one binary message; large files go in several so no single frame is huge.
CHUNK_BYTES = 4 * 1024 * 1024


#: what a failed cell of a blind grid says instead of the gateway's text (which often names
#: the model or its vendor)
BLIND_ERROR = "failed: the gateway's message is shown after Reveal models"


def mask_cell(cell: dict[str, Any]) -> None:
    """Strip from one cell of a masked blind grid what could tell its model: the file name
    ("kling-v2_boat.mp4"), its size, the progress (models differ in speed) and the
    gateway's error text."""
    cell["path"] = None
    cell["size"] = None
    cell["progress"] = None
    # the request names the model, and some gateways pack the model into the task id
    cell["request"] = None
    cell["task_id"] = None
    cell["caption"] = [
        [k, cell["status"] if k == "status" else v] for k, v in cell["caption"] if k != "time"
    ]
    if cell.get("error"):
        cell["error"] = cell["reason"] = BLIND_ERROR


class ComparisonGrid(anywidget.AnyWidget, GridActions, GridFavourites, GridVoting):
    """A grid of videos that play in step: rows x columns of request fields.

    ``rows``/``cols`` name request fields (``"prompt"``, ``"model"``, ``"seed"``, ...; a
    list for several, None for one). ``blind=True`` hides everything that could name a
    model (names, timings, progress, gateway errors, file names), gives every row its own
    order of the models (stable for this grid) and labels the slots A, B, C. Once the models
    are revealed voting is closed (a vote then would not be blind). Votes land in ``votes``,
    the optional
    ``journal`` (``record_vote``) and the ``on_vote`` callbacks. ``set_results`` and
    ``update_result`` may be called from any thread while the grid is shown.

    ``arrange="auto"`` (the default) treats ``rows``/``cols`` as a preference: when the
    columns would not vary (one model) what does vary goes across (a seed sweep shows its
    seeds side by side); ``arrange="as given"`` keeps them exactly. The front end sizes each
    cell by its video's real shape and fits the output's width. ``client=`` (or
    ``enable_actions(client)``) adds re-run and remix to each cell's menu (see
    ``grid_actions``); favourites (stars) are kept in the ``journal`` when the grid has one,
    so a reopened grid shows them (see ``grid_favourites``); sound (one cell at a time), a
    viewer, an A/B wipe and frame stepping need no kernel call. ``export(path)`` writes the
    grid as one MP4 or GIF.

    >>> grid = vg.ComparisonGrid(results, rows="seed", cols="model")   # doctest: +SKIP
    """

    # One module joined from the parts (anywidget loads a single ES module).
    _esm = grid_js()
    _css = grid_css()

    #: {"rows": [{"key", "label"}], "cols": [...], "row_title", "col_title"}
    axes = traitlets.Dict().tag(sync=True)
    #: one small dict per result (see ``cell_states``); never video bytes
    cells: traitlets.List[dict[str, Any]] = traitlets.List().tag(sync=True)
    blind = traitlets.Bool(False).tag(sync=True)
    revealed = traitlets.Bool(False).tag(sync=True)
    #: frame rate for arrow-key stepping; 0 steps by 0.1 s
    fps = traitlets.Float(0.0).tag(sync=True)
    #: the vote shown per row: {"<row>": {"kind": ..., "cell": i | None}}
    voted = traitlets.Dict().tag(sync=True)
    #: one line for the control bar (a journal error, for instance)
    message = traitlets.Unicode("").tag(sync=True)
    title = traitlets.Unicode("").tag(sync=True)
    #: failed cells show a Retry button (see ``enable_retry``)
    retry_enabled = traitlets.Bool(False).tag(sync=True)
    #: the cell menu offers re-run (and remix): see ``enable_actions``
    actions_enabled = traitlets.Bool(False).tag(sync=True)
    remix_supported = traitlets.Bool(False).tag(sync=True)
    #: why the menu's Remix is off (the gateway's dialect has no remix call)
    remix_note = traitlets.Unicode("").tag(sync=True)
    #: the cells marked as favourites (indices, sorted)
    favourites: traitlets.List[int] = traitlets.List().tag(sync=True)

    def __init__(
        self,
        results: Iterable[Result | VideoRequest] = (),
        *,
        rows: str | Sequence[str] | None = "prompt",
        cols: str | Sequence[str] | None = "model",
        blind: bool = False,
        journal: VoteRecorder | None = None,
        run_id: str | None = None,
        blind_seed: int | None = None,
        fps: float | None = None,
        max_bytes: int = DEFAULT_MAX_BYTES,
        title: str = "",
        arrange: str = "auto",
        client: Any = None,
    ) -> None:
        check_fields(rows, "rows")
        check_fields(cols, "cols")
        if arrange not in ("auto", "as given"):
            raise ValueError(f'arrange must be "auto" or "as given", got {arrange!r}')
        self._arrange = arrange
        self.spawned: list[Any] = []
        self._favourites_seen: set[int] = set()
        super().__init__(blind=bool(blind), title=str(title))
        self._lock = threading.RLock()
        self._rows_spec = rows
        self._cols_spec = cols
        self.journal = journal
        self.run_id = run_id
        self.max_bytes = int(max_bytes)
        # Stable per grid: derived from the run when there is one, so a re-shown grid of the
        # same run keeps its letters; random otherwise.
        if blind_seed is None:
            blind_seed = (
                int(hashlib.sha1(run_id.encode()).hexdigest()[:8], 16)
                if run_id
                else secrets.randbits(32)
            )
        self.blind_seed = blind_seed
        #: the votes so far, one per row (a new vote on a row replaces the old one)
        self.votes: list[dict[str, Any]] = []
        #: callables called with each vote dict, after it is recorded
        self.on_vote: list[Callable[[dict[str, Any]], Any]] = []
        self._retry: Callable[[int], Any] | None = None
        self._results: list[Result] = []
        #: how many of ``_results`` were given (the rest come from runs the menu started)
        self._given = 0
        self._layout: GridLayout | None = None
        self._fixed_fps = fps
        self.on_msg(self._on_custom_msg)
        self.set_results(results)
        if client is not None:
            self.enable_actions(client)

    # --- results -----------------------------------------------------------------------

    @property
    def results(self) -> list[Result]:
        """A copy of the results shown, in cell order."""
        with self._lock:
            return list(self._results)

    @property
    def grid_layout(self) -> GridLayout:
        """Where each result sits (see ``build_layout``)."""
        with self._lock:
            assert self._layout is not None
            return self._layout

    def set_results(self, results: Iterable[Result | VideoRequest]) -> None:
        """Show ``results`` (replacing all); a ``VideoRequest`` shows as a pending cell."""
        with self._lock:
            given = [as_result(r) for r in results]
            self._given = len(given)
            # cells a re-run or a remix added stay after the given ones
            self._results = given + [r for run in self.spawned for r in run.results]
            self._refresh()

    def update_result(self, index: int, result: Result | VideoRequest) -> None:
        """Replace result ``index`` (or append when ``index == len(results)``)."""
        with self._lock:
            item = as_result(result)
            if index == len(self._results):
                # a given result goes before the cells a re-run or a remix added
                self._results.insert(self._given, item)
                self._given += 1
            elif 0 <= index < len(self._results):
                self._results[index] = item
            else:
                raise IndexError(f"result index {index} out of range 0..{len(self._results)}")
            self._refresh()

    def _hidden_fields(self) -> set[str]:
        if not self.blind or self.revealed:
            return set()
        # Timing tells models apart as surely as a name (they differ in speed).
        return {"model", "time", *(self._layout.col_fields if self._layout else ())}

    def _masked(self) -> bool:
        """True while a blind grid hides its models."""
        return bool(self.blind and not self.revealed)

    def _axes_specs(self) -> tuple[Any, Any]:
        # A blind grid's columns are the models under comparison: never rearranged.
        if self._arrange == "as given" or self.blind:
            return self._rows_spec, self._cols_spec
        return choose_axes(self._results, self._rows_spec, self._cols_spec)

    def _refresh(self) -> None:
        rows_spec, cols_spec = self._axes_specs()
        layout = build_layout(
            self._results,
            rows=rows_spec,
            cols=cols_spec,
            blind=self.blind,
            blind_seed=self.blind_seed,
        )
        self._layout = layout
        masked = self.blind and not self.revealed
        cols = []
        for n, (key, label) in enumerate(layout.cols):
            # A blind grid's columns are slots (each row orders the models its own way):
            # after reveal, each cell's caption names its model.
            shown = column_letter(n) if self.blind else label
            cols.append({"key": f"col{n}" if masked else key, "label": shown})
        axes = {
            "rows": [{"key": k, "label": shorten(lbl, 500)} for k, lbl in layout.rows],
            "cols": cols,
            "row_title": " · ".join(layout.row_fields),
            "col_title": "" if masked else " · ".join(layout.col_fields),
            # captions leave out what the column heading already says ("kling-v1" twice)
            "col_fields": [] if self.blind else list(layout.col_fields),
        }
        cells = cell_states(
            self._results, layout, hide=self._hidden_fields(), max_bytes=self.max_bytes
        )
        if masked:
            for cell in cells:
                mask_cell(cell)
        fps = (
            self._fixed_fps
            if self._fixed_fps is not None
            else (self.fps or probe_fps(self._results))
        )
        # hold_sync sends the changed traits as one message.
        with self.hold_sync():
            self.axes = axes
            self.cells = cells
            self.fps = float(fps)
            # stars the journal kept for these videos (a grid reopened in a new kernel)
            self._load_favourites()

    # --- front-end messages --------------------------------------------------------------

    def _on_custom_msg(self, _widget: Any, content: Any, buffers: Sequence[Any]) -> None:
        if not isinstance(content, dict):
            return
        kind = content.get("type")
        try:
            if kind == "want":
                self._serve(int(content["cell"]))
            elif kind == "vote":
                cell = content.get("cell")
                self.vote(
                    int(content["row"]),
                    str(content.get("kind", "best")),
                    cell=None if cell is None else int(cell),
                )
            elif kind == "reveal":
                self.reveal()
            elif kind == "retry":
                self.retry(int(content["cell"]))
            else:
                self._on_action_msg(kind, content)
        except VideoGenError as exc:  # a refusal in the library's words (no remix here...)
            self.message = str(exc)
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            log.warning("ignored front-end message %r: %s", kind, exc)
            self.message = f"ignored {kind} message: {exc}"

    def _on_action_msg(self, kind: Any, content: dict[str, Any]) -> None:
        """The cell menu's messages: re-run, remix, favourite."""
        if kind == "rerun":
            self.rerun(int(content["cell"]))
        elif kind == "remix":
            self.remix(int(content["cell"]), str(content.get("prompt", "")))
        elif kind == "favourite":
            self.favourite(int(content["cell"]), bool(content.get("on", True)))
        else:
            raise ValueError(f"unknown message type {kind!r}")

    def _serve(self, index: int) -> None:
        """Send the bytes of cell ``index`` to the front end as binary buffers."""
        with self._lock:
            if not 0 <= index < len(self._results):
                raise IndexError(f"no cell {index}")
            result = self._results[index]
        path = result.path
        info = file_info(path) if path is not None else None
        if path is None or info is None:
            self.send({"type": "video_error", "cell": index, "message": "no local video file"})
            return
        size, token = info
        if size > self.max_bytes:
            self.send(
                {
                    "type": "video_error",
                    "cell": index,
                    "message": f"{size / 1e6:.0f} MB is over the {self.max_bytes / 1e6:.0f} MB limit",
                }
            )
            return
        try:
            data = path.read_bytes()
        except OSError as exc:
            self.send(
                {
                    "type": "video_error",
                    "cell": index,
                    "message": f"cannot read the file: {exc.strerror}",
                }
            )
            return
        parts = max(1, -(-len(data) // CHUNK_BYTES))
        view = memoryview(data)
        for part in range(parts):
            chunk = view[part * CHUNK_BYTES : (part + 1) * CHUNK_BYTES]
            self.send(
                {
                    "type": "video",
                    "cell": index,
                    "token": token,
                    "mime": video_mime(path),
                    "part": part,
                    "parts": parts,
                    "size": len(data),
                },
                buffers=[chunk],
            )

    def enable_retry(self, retry: Callable[[int], Any]) -> None:
        """Show a Retry button on failed cells; ``retry(cell_index)`` submits that request
        again (a run's ``retry``: cell ``i`` is the run's row ``i``)."""
        self._retry = retry
        self.retry_enabled = True

    def retry(self, index: int) -> bool:
        """What a failed cell's Retry button does; False when nothing was resubmitted."""
        with self._lock:
            if not 0 <= index < len(self._results):
                raise IndexError(f"no cell {index}")
        if self._retry is None:
            raise ValueError("this grid cannot retry (no run behind it)")
        done = bool(self._retry(index))
        self.message = "" if done else f"cell {index} has nothing to retry"
        return done

    def reveal(self) -> None:
        """Show the real model names of a blind grid (the letters stay, for reference)."""
        with self._lock:
            self.revealed = True
            self._refresh()

    def export(self, path: str | Any, **options: Any) -> Any:
        """Write the grid as shown to one ``.mp4`` (or ``.gif``): every cell side by side
        and captioned, blind while the models are hidden (see ``display.grid_export``)."""
        from ..display.grid_export import export_grid

        with self._lock:
            results = list(self._results)
            # the rows and columns shown (a seed sweep has its seeds across), not the asked
            rows, cols = self._axes_specs()
        options.setdefault("rows", rows)
        options.setdefault("cols", cols)
        return export_grid(
            results,
            path,
            blind=self.blind,
            revealed=self.revealed,
            blind_seed=self.blind_seed,
            **options,
        )

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        """The widget view, with a static table of posters (``display.static_grid``) for
        wherever the widget's model is not there: a saved notebook, nbviewer, GitHub."""
        with self._lock:
            html = grid_fallback_html(self)
        return with_static_html(super()._repr_mimebundle_(**kwargs), html)

    def _ipython_display_(self) -> None:
        """Shown as two outputs: the widget, then its posters, which show only when the
        widget cannot (a saved notebook reopened: ``display.static_grid``)."""
        with self._lock:
            html = grid_fallback_html(self)
            text = repr(self)
        display_with_fallback(super()._repr_mimebundle_(), html, text, label="ComparisonGrid")

    def __repr__(self) -> str:
        with self._lock:
            n_rows = len(self._layout.rows) if self._layout else 0
            n_cols = len(self._layout.cols) if self._layout else 0
            return (
                f"ComparisonGrid({len(self._results)} results, {n_rows} rows x {n_cols} cols"
                f"{', blind' if self.blind else ''})"
            )
