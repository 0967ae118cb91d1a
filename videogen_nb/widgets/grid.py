"""``ComparisonGrid``: videos side by side, played in step, with blind voting.

Rows are one request field (the prompt by default), columns another (the model); each cell
is one ``Result``. The front end (``grid.js``/``grid.css``, no build step) plays every video
from one control bar and keeps them aligned to a master clock.

Video bytes never enter widget state: the browser asks for each cell with a custom message
and the kernel answers with the file as binary buffers, so saved notebooks stay small and
the grid works where no file server does (VS Code, Colab, Voila).

>>> grid = vg.ComparisonGrid(run.results)                     # doctest: +SKIP
>>> grid = vg.ComparisonGrid(run.results, blind=True)         # doctest: +SKIP
>>> grid.reveal(); grid.scores()                              # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import json
import logging
import pathlib
import random
import secrets
import threading
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol

import anywidget
import attrs
import traitlets

from ..display.html import truncate
from ..display.video import caption_fields, error_text, safe_url, video_mime
from ..errors import ValidationError
from ..request import VideoRequest
from ..task import Result
from .votes import VOTE_KINDS, win_rates

__all__ = [
    "DEFAULT_MAX_BYTES",
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

#: Files larger than this are not streamed to the browser (the cell shows the path instead).
DEFAULT_MAX_BYTES = 64 * 1024 * 1024
#: Size of one binary message; large files go in several so no single frame is huge.
CHUNK_BYTES = 4 * 1024 * 1024

_REQUEST_FIELDS = tuple(a.name for a in attrs.fields(VideoRequest))
# Fields tried, in this order, to tell apart two results that share a row and a column.
_TIEBREAK_ORDER = ("seed", "duration", "seconds", "size", "aspect_ratio", "quality", "fps",
                   "width", "height", "prompt", "model", "n")
_HERE = pathlib.Path(__file__).parent


class VoteRecorder(Protocol):
    """What a grid needs of a journal to save votes (``videogen_nb.journal.Journal``)."""

    def record_vote(
        self,
        *,
        run_id: str | None,
        row_key: str,
        candidates: list[str],
        winner: str | None,
        loser: str | None,
        kind: str,
    ) -> Any:
        """Save one vote."""


def column_letter(index: int) -> str:
    """``0 -> "A"``, ``25 -> "Z"``, ``26 -> "AA"``: blind column labels."""
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def _fields(spec: str | Sequence[str] | None, what: str) -> tuple[str, ...]:
    names = () if spec is None else (spec,) if isinstance(spec, str) else tuple(spec)
    for name in names:
        if name not in _REQUEST_FIELDS:
            raise ValidationError(
                what, f"{name!r} is not a request field; use one of {', '.join(_REQUEST_FIELDS)}"
            )
    return names


def _value(result: Result, name: str) -> Any:
    value = getattr(result.request, name)
    if isinstance(value, tuple):
        return list(value)
    if hasattr(value, "items"):
        return dict(value)
    return value


def _key(result: Result, names: Sequence[str]) -> str:
    return json.dumps([_value(result, n) for n in names], sort_keys=True, default=str)


def _label(result: Result, names: Sequence[str]) -> str:
    parts = []
    for name in names:
        value = _value(result, name)
        text = "—" if value is None else str(value)
        # The main axis fields read best bare; others say what they are ("seed=2").
        parts.append(text if name in ("prompt", "model") or len(names) == 1 else f"{name}={text}")
    return " · ".join(parts) if parts else "all"


@attrs.define(frozen=True, kw_only=True)
class GridLayout:
    """Where each result sits: ``rows``/``cols`` are ``(key, label)`` in display order,
    ``positions[i]`` is ``(row, col)`` of result ``i``, ``models[(row, col)]`` its model."""

    row_fields: tuple[str, ...]
    col_fields: tuple[str, ...]
    rows: tuple[tuple[str, str], ...]
    cols: tuple[tuple[str, str], ...]
    positions: tuple[tuple[int, int], ...]


def build_layout(
    results: Sequence[Result],
    *,
    rows: str | Sequence[str] | None = "prompt",
    cols: str | Sequence[str] | None = "model",
    blind: bool = False,
    blind_seed: int = 0,
) -> GridLayout:
    """Place ``results`` on a grid of ``rows`` x ``cols`` request fields.

    Rows and columns keep the order in which their values first appear, except that a blind
    grid shuffles its columns with ``blind_seed`` (the same columns always get the same
    order). When two results would share a cell (the same prompt and model with two seeds),
    the rows are split by the first field that tells them apart (seed, then duration, ...).
    """
    row_fields = _fields(rows, "rows")
    col_fields = _fields(cols, "cols")
    if set(row_fields) & set(col_fields):
        raise ValidationError("rows", "rows and cols must name different fields")

    def collides(fields: Sequence[str]) -> bool:
        seen = {(_key(r, fields), _key(r, col_fields)) for r in results}
        return len(seen) < len(results)

    if collides(row_fields):
        varying = [
            name for name in (*_TIEBREAK_ORDER, *sorted(_REQUEST_FIELDS))
            if name not in row_fields and name not in col_fields
            and len({_key(r, (name,)) for r in results}) > 1
        ]
        extended = list(row_fields)
        for name in dict.fromkeys(varying):
            extended.append(name)
            if not collides(extended):
                break
        row_fields = tuple(extended)

    row_index: dict[str, int] = {}
    row_list: list[tuple[str, str]] = []
    col_keys: dict[str, str] = {}
    occupied: dict[tuple[str, str], int] = {}
    placed: list[tuple[str, str]] = []
    for result in results:
        rk, ck = _key(result, row_fields), _key(result, col_fields)
        # Identical requests (same everything) get numbered rows rather than overwrite.
        n = occupied.get((rk, ck), 0)
        occupied[(rk, ck)] = n + 1
        label = _label(result, row_fields)
        if n:
            rk, label = f"{rk}#{n + 1}", f"{label} #{n + 1}"
        if rk not in row_index:
            row_index[rk] = len(row_list)
            row_list.append((rk, label))
        col_keys.setdefault(ck, _label(result, col_fields))
        placed.append((rk, ck))

    col_order = list(col_keys)
    if blind:
        col_order = sorted(col_order)
        random.Random(blind_seed).shuffle(col_order)
    col_index = {k: i for i, k in enumerate(col_order)}
    return GridLayout(
        row_fields=row_fields,
        col_fields=col_fields,
        rows=tuple(row_list),
        cols=tuple((k, col_keys[k]) for k in col_order),
        positions=tuple((row_index[rk], col_index[ck]) for rk, ck in placed),
    )


def _file_info(path: pathlib.Path) -> tuple[int, str] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    token = hashlib.sha1(f"{path.resolve()}|{st.st_mtime_ns}|{st.st_size}".encode()).hexdigest()
    return st.st_size, token[:16]


def _display_path(path: pathlib.Path) -> str:
    try:
        return str(path.resolve().relative_to(pathlib.Path.cwd().resolve()))
    except ValueError:
        return str(path)


def cell_states(
    results: Sequence[Result],
    layout: GridLayout,
    *,
    hide: Iterable[str] = (),
    max_bytes: int = DEFAULT_MAX_BYTES,
    src: Callable[[int, Result], str | None] | None = None,
) -> list[dict[str, Any]]:
    """The front end's description of every cell (small JSON: no video bytes).

    ``hide`` names caption fields left out (the model in a blind grid). ``src`` may give a
    cell a URL (the report's data URIs or relative paths); without one, local files are
    ``"stream"``-ed over widget messages and remote-only ones use the task's http(s) URL.
    """
    hidden = set(hide)
    cells = []
    for i, (result, (r, c)) in enumerate(zip(results, layout.positions, strict=True)):
        caption = [[k, v] for k, v in caption_fields(result).items() if k not in hidden]
        status = result.status
        if result.ok:
            state = "ready"
        elif result.error is not None or status in ("failed", "cancelled"):
            state = "failed"
        elif result.task is not None and result.task.status.value == "completed":
            state = "ready"  # completed but not downloaded: playable from its URL
        else:
            state = "pending"
        cell: dict[str, Any] = {
            "i": i, "r": r, "c": c, "state": state, "status": status, "caption": caption,
            "error": error_text(result), "video": "none", "src": None, "token": "",
            "path": None, "size": None, "mime": "video/mp4",
            "progress": result.task.progress if result.task is not None else None,
        }
        if state == "ready":
            given = src(i, result) if src is not None else None
            info = _file_info(result.path) if result.path is not None else None
            if given is not None:
                cell.update(video="url", src=given, token=hashlib.sha1(given.encode()).hexdigest()[:16])
            elif result.path is not None and info is None:
                cell.update(video="missing", path=_display_path(result.path))
            elif result.path is not None and info is not None:
                size, token = info
                cell.update(path=_display_path(result.path), size=size, mime=video_mime(result.path),
                            token=token, video="stream" if size <= max_bytes else "too_large")
            elif result.task is not None and safe_url(result.task.video_url):
                url = safe_url(result.task.video_url)
                cell.update(video="url", src=url, token=hashlib.sha1(str(url).encode()).hexdigest()[:16])
        cells.append(cell)
    return cells


def as_result(item: Result | VideoRequest) -> Result:
    """``item`` as a ``Result``; a bare ``VideoRequest`` becomes a pending one."""
    if isinstance(item, Result):
        return item
    if isinstance(item, VideoRequest):
        return Result(request=item)  # a placeholder: shown as pending
    raise TypeError(f"expected a Result or VideoRequest, got {type(item).__name__}")


def probe_fps(results: Sequence[Result]) -> float:
    """The frame rate to step by: the requests' ``fps``, else the first video's, else 0."""
    for result in results:
        if result.request.fps:
            return float(result.request.fps)
    try:
        import av
    except ImportError:
        return 0.0
    for result in results:
        if result.ok and result.path is not None:
            try:
                with av.open(str(result.path)) as container:
                    rate = container.streams.video[0].average_rate
                    return float(rate) if rate else 0.0
            except Exception:  # an unreadable file just means no frame stepping
                return 0.0
    return 0.0


class ComparisonGrid(anywidget.AnyWidget):
    """A grid of videos that play in step: rows x columns of request fields.

    ``rows``/``cols`` name request fields (``"prompt"``, ``"model"``, ``"seed"``, ...; a
    list for several, None for one). ``blind=True`` hides model names, shuffles the columns
    (stable for this grid) and labels them A, B, C; votes land in ``votes``, the optional
    ``journal`` (``record_vote``) and the ``on_vote`` callbacks. ``set_results`` and
    ``update_result`` may be called from any thread while the grid is shown.

    >>> grid = vg.ComparisonGrid(results, rows="seed", cols="model")   # doctest: +SKIP
    """

    _esm = _HERE / "grid.js"
    _css = _HERE / "grid.css"

    #: {"rows": [{"key", "label"}], "cols": [...], "row_title", "col_title"}
    axes = traitlets.Dict().tag(sync=True)
    #: one small dict per result (see ``cell_states``); never video bytes
    cells = traitlets.List().tag(sync=True)
    blind = traitlets.Bool(False).tag(sync=True)
    revealed = traitlets.Bool(False).tag(sync=True)
    #: frame rate for arrow-key stepping; 0 steps by 0.1 s
    fps = traitlets.Float(0.0).tag(sync=True)
    #: the vote shown per row: {"<row>": {"kind": ..., "cell": i | None}}
    voted = traitlets.Dict().tag(sync=True)
    #: one line for the control bar (a journal error, for instance)
    message = traitlets.Unicode("").tag(sync=True)
    title = traitlets.Unicode("").tag(sync=True)

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
    ) -> None:
        _fields(rows, "rows")
        _fields(cols, "cols")
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
            blind_seed = (int(hashlib.sha1(run_id.encode()).hexdigest()[:8], 16)
                          if run_id else secrets.randbits(32))
        self.blind_seed = blind_seed
        #: the votes so far, one per row (a new vote on a row replaces the old one)
        self.votes: list[dict[str, Any]] = []
        #: callables called with each vote dict, after it is recorded
        self.on_vote: list[Callable[[dict[str, Any]], Any]] = []
        self._results: list[Result] = []
        self._layout: GridLayout | None = None
        self._fixed_fps = fps
        self.on_msg(self._on_custom_msg)
        self.set_results(results)

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
            self._results = [as_result(r) for r in results]
            self._refresh()

    def update_result(self, index: int, result: Result | VideoRequest) -> None:
        """Replace result ``index`` (or append when ``index == len(results)``)."""
        with self._lock:
            item = as_result(result)
            if index == len(self._results):
                self._results.append(item)
            elif 0 <= index < len(self._results):
                self._results[index] = item
            else:
                raise IndexError(f"result index {index} out of range 0..{len(self._results)}")
            self._refresh()

    def _hidden_fields(self) -> set[str]:
        if not self.blind or self.revealed:
            return set()
        return {"model", *(self._layout.col_fields if self._layout else ())}

    def _refresh(self) -> None:
        layout = build_layout(self._results, rows=self._rows_spec, cols=self._cols_spec,
                              blind=self.blind, blind_seed=self.blind_seed)
        self._layout = layout
        masked = self.blind and not self.revealed
        cols = []
        for n, (key, label) in enumerate(layout.cols):
            letter = column_letter(n)
            shown = letter if masked else (f"{letter} · {label}" if self.blind else label)
            cols.append({"key": f"col{n}" if masked else key, "label": shown})
        axes = {
            "rows": [{"key": k, "label": truncate(lbl, 500)} for k, lbl in layout.rows],
            "cols": cols,
            "row_title": " · ".join(layout.row_fields),
            "col_title": "" if masked else " · ".join(layout.col_fields),
        }
        cells = cell_states(self._results, layout, hide=self._hidden_fields(),
                            max_bytes=self.max_bytes)
        if masked:
            # A file name often carries the model ("kling-v2_boat.mp4"): keep it out.
            for cell in cells:
                cell["path"] = None
        fps = self._fixed_fps if self._fixed_fps is not None else (self.fps or probe_fps(self._results))
        # hold_sync sends the changed traits as one message.
        with self.hold_sync():
            self.axes = axes
            self.cells = cells
            self.fps = float(fps)

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
                self.vote(int(content["row"]), str(content.get("kind", "best")),
                          cell=None if cell is None else int(cell))
            elif kind == "reveal":
                self.reveal()
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            log.warning("ignored front-end message %r: %s", kind, exc)
            self.message = f"ignored {kind} message: {exc}"

    def _serve(self, index: int) -> None:
        """Send the bytes of cell ``index`` to the front end as binary buffers."""
        with self._lock:
            if not 0 <= index < len(self._results):
                raise IndexError(f"no cell {index}")
            result = self._results[index]
        path = result.path
        info = _file_info(path) if path is not None else None
        if path is None or info is None:
            self.send({"type": "video_error", "cell": index, "message": "no local video file"})
            return
        size, token = info
        if size > self.max_bytes:
            self.send({"type": "video_error", "cell": index,
                       "message": f"{size / 1e6:.0f} MB is over the {self.max_bytes / 1e6:.0f} MB limit"})
            return
        try:
            data = path.read_bytes()
        except OSError as exc:
            self.send({"type": "video_error", "cell": index, "message": f"cannot read the file: {exc.strerror}"})
            return
        parts = max(1, -(-len(data) // CHUNK_BYTES))
        view = memoryview(data)
        for part in range(parts):
            chunk = view[part * CHUNK_BYTES:(part + 1) * CHUNK_BYTES]
            self.send({"type": "video", "cell": index, "token": token, "mime": video_mime(path),
                       "part": part, "parts": parts, "size": len(data)}, buffers=[chunk])

    # --- voting --------------------------------------------------------------------------

    def vote(self, row: int, kind: str = "best", *, cell: int | None = None) -> dict[str, Any]:
        """Record a vote on ``row``: ``kind="best"`` with the winning ``cell`` index, or
        ``"tie"``/``"skip"``. Returns the vote dict (model names, never letters)."""
        if kind not in VOTE_KINDS:
            raise ValueError(f"vote kind must be one of {VOTE_KINDS}, got {kind!r}")
        with self._lock:
            layout = self.grid_layout
            if not 0 <= row < len(layout.rows):
                raise IndexError(f"no row {row}")
            in_row = [i for i, (r, _c) in enumerate(layout.positions) if r == row]
            in_row.sort(key=lambda i: layout.positions[i][1])
            candidates = [self._results[i].request.model for i in in_row if self._results[i].ok]
            winner = None
            if kind == "best":
                if cell is None or cell not in in_row:
                    raise ValueError(f"cell {cell} is not in row {row}")
                if not self._results[cell].ok:
                    raise ValueError(f"cell {cell} has no video to vote for")
                winner = self._results[cell].request.model
            elif kind == "tie" and len(set(candidates)) < 2:
                raise ValueError(f"row {row} has fewer than two videos to call a tie")
            row_key = layout.rows[row][1]
            record = {"row": row_key, "winner": winner, "kind": kind,
                      "candidates": list(dict.fromkeys(candidates)), "row_index": row}
            self.votes = [v for v in self.votes if v["row_index"] != row] + [record]
            voted = dict(self.voted)
            voted[str(row)] = {"kind": kind, "cell": cell if kind == "best" else None}
            self.voted = voted
        if self.journal is not None:
            try:
                self.journal.record_vote(run_id=self.run_id, row_key=row_key,
                                         candidates=record["candidates"], winner=winner,
                                         loser=None, kind=kind)
            except Exception as exc:  # the vote stays in the grid; say it was not saved
                log.warning("vote not saved to the journal: %s", exc)
                self.message = f"vote not saved to the journal: {exc}"
        for callback in list(self.on_vote):
            try:
                callback(dict(record))
            except Exception:
                log.exception("on_vote callback failed")
        return record

    def reveal(self) -> None:
        """Show the real model names of a blind grid (the letters stay, for reference)."""
        with self._lock:
            self.revealed = True
            self._refresh()

    def scores(self) -> dict[str, dict[str, float]]:
        """Per-model win rates from this grid's votes (see ``votes.win_rates``)."""
        return win_rates(self.votes)

    def __repr__(self) -> str:
        with self._lock:
            n_rows = len(self._layout.rows) if self._layout else 0
            n_cols = len(self._layout.cols) if self._layout else 0
            return (f"ComparisonGrid({len(self._results)} results, {n_rows} rows x {n_cols} cols"
                    f"{', blind' if self.blind else ''})")
