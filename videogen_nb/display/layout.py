"""Where each result sits in a comparison grid, and what the front end is told of each cell.

Pure functions over ``Result``s: the ``ComparisonGrid`` widget and the static HTML report
both lay out their grid with them and hand the cells to the same front end
(``assets/grid/*.js`` joined by ``grid_assets``, and ``assets/grid.css``; no build step).

>>> layout = build_layout(results, rows="prompt", cols="model")   # doctest: +SKIP
>>> cells = cell_states(results, layout)                           # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import json
import pathlib
import random
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import attrs

from ..core.errors import ValidationError
from ..core.geometry import shape_of
from ..core.request import VideoRequest
from ..core.task import Result
from ..core.text import shorten
from ..insight.costs import cost_caption_items
from ..insight.probe import video_fps
from .video import caption_fields, error_text, safe_url, video_mime

__all__ = [
    "DEFAULT_MAX_BYTES",
    "GridLayout",
    "as_result",
    "build_layout",
    "cell_aspect",
    "cell_states",
    "check_fields",
    "choose_axes",
    "column_letter",
    "file_info",
    "probe_fps",
    "row_permutation",
]

#: Files larger than this are not streamed to the browser (the cell shows the path instead).
DEFAULT_MAX_BYTES = 64 * 1024 * 1024

_REQUEST_FIELDS = tuple(a.name for a in attrs.fields(VideoRequest))
# Fields tried, in this order, to tell apart two results that share a row and a column.
_TIEBREAK_ORDER = (
    "seed",
    "duration",
    "seconds",
    "size",
    "aspect_ratio",
    "quality",
    "fps",
    "width",
    "height",
    "prompt",
    "model",
    "n",
)


#: request text longer than this (a data-URI image, say) is cut in a cell's copyable request
REQUEST_TEXT_CHARS = 400
#: fields tried, in this order, for the columns when the ones asked for do not vary
_ACROSS_ORDER = ("seed", "duration", "seconds", "size", "aspect_ratio", "quality", "fps", "model")


def column_letter(index: int) -> str:
    """``0 -> "A"``, ``25 -> "Z"``, ``26 -> "AA"``: blind column labels."""
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def check_fields(spec: str | Sequence[str] | None, what: str) -> tuple[str, ...]:
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


def _varies(results: Sequence[Result], name: str) -> bool:
    return len({_key(r, (name,)) for r in results}) > 1


def choose_axes(
    results: Sequence[Result],
    rows: str | Sequence[str] | None = "prompt",
    cols: str | Sequence[str] | None = "model",
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The rows and columns that show ``results`` best, starting from the ones asked for.

    A column axis that does not vary (one model) would stack every video in one full-width
    column: then what does vary goes across instead, a row field after the first (the seed
    of ``("prompt", "seed")``) first, else another varying field (seed, duration, size, ...).
    The prompt stays down the side, where a long one is readable. Axes that vary are kept.

    >>> from videogen_nb.core.task import Result
    >>> sweep = [Result(request=VideoRequest(model="m", prompt="p", seed=s)) for s in (1, 2, 3)]
    >>> choose_axes(sweep, ("prompt", "seed"), "model")
    (('prompt',), ('seed',))
    """
    row_fields = check_fields(rows, "rows")
    col_fields = check_fields(cols, "cols")
    if len(results) < 2 or any(_varies(results, name) for name in col_fields):
        return row_fields, col_fields
    candidates = [
        *(name for name in row_fields[1:]),
        *(name for name in _ACROSS_ORDER if name not in row_fields),
    ]
    across = next((name for name in candidates if _varies(results, name)), None)
    if across is None:
        return row_fields, col_fields
    return tuple(name for name in row_fields if name != across), (across,)


def cell_aspect(result: Result) -> float | None:
    """Width over height the video of ``result`` should have: from the video's own frame
    size once known to the caller, else from the request (``size``, ``width``/``height``,
    ``aspect_ratio``); None when nothing says (the front end then waits for the video).

    >>> cell_aspect(Result(request=VideoRequest(model="m", prompt="p", aspect_ratio="9:16")))
    0.5625
    """
    req = result.request
    if req.width and req.height:
        return req.width / req.height
    for text in (req.size, req.aspect_ratio):
        shape = shape_of(text) if text else None
        if shape:
            return shape
    return None


def request_summary(result: Result) -> dict[str, Any]:
    """The request of ``result`` as small JSON (what "copy request" gives): fields that are
    set, long text (a data-URI image) cut to ``REQUEST_TEXT_CHARS``."""
    out: dict[str, Any] = {}
    for name, value in result.request.to_dict().items():
        if value is None:
            continue
        if isinstance(value, str) and len(value) > REQUEST_TEXT_CHARS and name != "prompt":
            value = shorten(value, REQUEST_TEXT_CHARS)
        out[name] = value
    return json.loads(json.dumps(out, default=str))


def _split_rows(
    results: Sequence[Result], row_fields: tuple[str, ...], col_fields: tuple[str, ...]
) -> tuple[str, ...]:
    """``row_fields`` plus the fields that tell apart results sharing a cell (two seeds of
    one prompt and model): added one at a time, each kept only when it separates some.
    Twins (a re-run of the same request) stay together and get numbered rows, rather than
    labels that list every field that happens to vary."""

    def collisions(fields: Sequence[str]) -> int:
        seen = {(_key(r, fields), _key(r, col_fields)) for r in results}
        return len(results) - len(seen)

    left = collisions(row_fields)
    if not left:
        return row_fields
    extended = list(row_fields)
    for name in dict.fromkeys((*_TIEBREAK_ORDER, *sorted(_REQUEST_FIELDS))):
        if name in extended or name in col_fields or not _varies(results, name):
            continue
        fewer = collisions([*extended, name])
        if fewer < left:
            extended.append(name)
            left = fewer
        if not left:
            break
    return tuple(extended)


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

    Rows and columns keep the order in which their values first appear, except in a blind
    grid: there each row has its own order of the columns (a permutation drawn from
    ``blind_seed`` and the row, so the same grid always gets the same orders), and the
    columns are plain slots labelled A, B, C, so recognising one row's video tells nothing
    about another row. When two results would share a cell (the same prompt and model with two seeds),
    the rows are split by the first field that tells them apart (seed, then duration, ...).
    """
    row_fields = check_fields(rows, "rows")
    col_fields = check_fields(cols, "cols")
    if set(row_fields) & set(col_fields):
        raise ValidationError("rows", "rows and cols must name different fields")

    row_fields = _split_rows(results, row_fields, col_fields)

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

    col_index = {k: i for i, k in enumerate(col_keys)}
    col_axis: tuple[tuple[str, str], ...] = tuple(col_keys.items())
    positions = [(row_index[rk], col_index[ck]) for rk, ck in placed]
    if blind:
        # Sorted first, so the input order of the results does not change the orders.
        canonical = {k: i for i, k in enumerate(sorted(col_keys))}
        perms = {rk: row_permutation(blind_seed, rk, len(col_keys)) for rk in row_index}
        positions = [(row_index[rk], perms[rk][canonical[ck]]) for rk, ck in placed]
        col_axis = tuple((f"slot{n}", column_letter(n)) for n in range(len(col_keys)))
    return GridLayout(
        row_fields=row_fields,
        col_fields=col_fields,
        rows=tuple(row_list),
        cols=col_axis,
        positions=tuple(positions),
    )


def row_permutation(seed: int, row_key: str, n: int) -> list[int]:
    """Where each of ``n`` columns goes in one row of a blind grid (stable for a seed and a
    row; different rows get independent orders).

    >>> sorted(row_permutation(3, "a dog", 4))
    [0, 1, 2, 3]
    """
    order = list(range(n))
    random.Random(f"{seed}|{row_key}").shuffle(order)
    return order


def file_info(path: pathlib.Path) -> tuple[int, str] | None:
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
        status = result.status
        if result.ok:
            state = "ready"
        elif result.error is not None or status in ("failed", "cancelled"):
            state = "failed"
        elif result.task is not None and result.task.status.value == "completed":
            state = "ready"  # completed but not downloaded: playable from its URL
        else:
            state = "pending"
        # "made in 25.9 s" is how long a video took; a failure made nothing.
        drop = hidden | ({"time"} if state == "failed" else set())
        caption = [[k, v] for k, v in caption_fields(result).items() if k not in drop]
        caption += cost_caption_items(result, hidden=drop)
        error = error_text(result)
        cell: dict[str, Any] = {
            "i": i,
            "r": r,
            "c": c,
            "state": state,
            "status": status,
            "caption": caption,
            "error": error,
            "reason": failure_summary(result) if error else None,
            "video": "none",
            "src": None,
            "token": "",
            "path": None,
            "size": None,
            "mime": "video/mp4",
            "progress": result.task.progress if result.task is not None else None,
            "aspect": cell_aspect(result),
            "prompt": result.request.prompt or "",
            "request": request_summary(result),
            "task_id": result.task.id if result.task is not None else None,
        }
        if state == "ready":
            given = src(i, result) if src is not None else None
            info = file_info(result.path) if result.path is not None else None
            if given is not None:
                cell.update(
                    video="url", src=given, token=hashlib.sha1(given.encode()).hexdigest()[:16]
                )
            elif result.path is not None and info is None:
                cell.update(video="missing", path=_display_path(result.path))
            elif result.path is not None and info is not None:
                size, token = info
                cell.update(
                    path=_display_path(result.path),
                    size=size,
                    mime=video_mime(result.path),
                    token=token,
                    video="stream" if size <= max_bytes else "too_large",
                )
            elif result.task is not None and safe_url(result.task.video_url):
                url = safe_url(result.task.video_url)
                cell.update(
                    video="url", src=url, token=hashlib.sha1(str(url).encode()).hexdigest()[:16]
                )
        cells.append(cell)
    return cells


_TASK_PREFIX = re.compile(r"^task \S+ (?:failed|cancelled|still \w+)[:;]?\s*", re.IGNORECASE)
#: characters of a failure's one-line summary in a grid cell (the whole text one click away)
REASON_CHARS = 140


def failure_summary(result: Result) -> str:
    """What went wrong in a few readable words: the gateway's own reason first, without the
    "task 7f3a… failed:" preamble (the task id is in the details).

    >>> from videogen_nb.core.task import Task, TaskStatus
    >>> r = Result(request=VideoRequest(model="m", prompt="p"),
    ...            task=Task(id="t1", status=TaskStatus.FAILED, error="prompt blocked"))
    >>> failure_summary(r)
    'Prompt blocked'
    """
    task = result.task
    text = task.error if task is not None and task.error else None
    if text is None and result.error is not None:
        text = _TASK_PREFIX.sub("", str(result.error)) or type(result.error).__name__
    if not text:
        return "failed"
    text = text.strip()
    return shorten(text[:1].upper() + text[1:], REASON_CHARS, one_line=True)


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
    for result in results:
        if result.ok and result.path is not None:
            # the first video decides; an unreadable one just means no frame stepping
            return video_fps(result.path) or 0.0
    return 0.0
