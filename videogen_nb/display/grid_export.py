"""A comparison grid as one video file: every cell side by side, captioned, in step.

``export_grid(results, "grid.mp4")`` writes an H.264 MP4 (``.gif`` a GIF) whose frames
hold every result's video in its grid position, each under a caption (the column's label,
e.g. the model, and the row's, e.g. the prompt). The layout is the grid's (``rows``/
``cols`` request fields, see ``display.layout.build_layout``), or reading order with
``columns=`` cells a row. Cells are decoded in step (``insight.probe.rgb_frames``), so the
export never holds more than one frame per cell; a shorter clip holds its last frame, a
cell without a video shows a grey box that says why. Blind exports keep the grid's per-row
order and label the columns A, B, C, with nothing that names a model.

Needs the ``sandbox`` extra (PyAV, Pillow, numpy). ``ComparisonGrid.export(path)`` exports
the grid as shown.

>>> vg.export_grid(run.results, "comparison.mp4")          # doctest: +SKIP
"""

from __future__ import annotations

import functools
import os
import pathlib
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import attrs

from ..core.errors import ValidationError
from ..core.request import VideoRequest
from ..core.task import Result
from ..core.text import shorten
from ..insight.probe import INSTALL_HINT, rgb_frames, video_fps
from .layout import as_result, build_layout, column_letter

__all__ = ["ExportCell", "export_grid", "plan_cells"]

#: the longest export written (a runaway clip must not fill the disk)
MAX_SECONDS = 120.0
_BG = (16, 16, 20)
_BOX = (58, 58, 64)


@attrs.define(frozen=True)
class ExportCell:
    """One cell of an export: where it sits, its caption lines, and its result."""

    row: int
    col: int
    title: str
    subtitle: str
    result: Result


def _caption_title(result: Result, label: str, n: int, *, blind: bool, masked: bool) -> str:
    if masked:
        return column_letter(n)
    if blind:  # revealed: the slot letter stays for reference, with the model it held
        return f"{column_letter(n)} · {result.request.model}"
    return label


def plan_cells(
    results: Sequence[Result],
    *,
    rows: str | Sequence[str] | None = "prompt",
    cols: str | Sequence[str] | None = "model",
    columns: int | None = None,
    blind: bool = False,
    revealed: bool = False,
    blind_seed: int = 0,
) -> list[ExportCell]:
    """Where each result goes and what its caption says (the grid's layout, or reading
    order with ``columns`` cells a row)."""
    if columns is not None:
        if columns < 1:
            raise ValidationError("columns", f"columns must be 1 or more, got {columns}")
        return [
            ExportCell(i // columns, i % columns, r.request.model, r.request.prompt or "", r)
            for i, r in enumerate(results)
        ]
    layout = build_layout(results, rows=rows, cols=cols, blind=blind, blind_seed=blind_seed)
    masked = blind and not revealed
    cells = []
    for i, (row, col) in enumerate(layout.positions):
        title = _caption_title(results[i], layout.cols[col][1], col, blind=blind, masked=masked)
        cells.append(ExportCell(row, col, title, layout.rows[row][1], results[i]))
    return cells


def _imports() -> tuple[Any, Any]:
    try:
        import numpy as np
        from PIL import Image
    except ImportError as exc:
        raise ImportError(f"exporting a grid needs numpy and Pillow: {INSTALL_HINT}") from exc
    return np, Image


@functools.lru_cache(maxsize=8)
def _font(size: int) -> Any:
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError):  # Pillow without FreeType: its fixed bitmap font
        return ImageFont.load_default()


class _Canvas:
    """The export's frame: a static background (boxes and captions) and one slot per cell."""

    def __init__(self, cells: list[ExportCell], cell_width: int, *, captions: bool) -> None:
        np, Image = _imports()
        from PIL import ImageDraw

        self.cell_w = cell_width
        self.font_px = max(10, cell_width // 22)
        self.caption_h = _even(int(self.font_px * 2.9)) if captions else 0
        n_rows = max(c.row for c in cells) + 1
        n_cols = max(c.col for c in cells) + 1
        # each row is as tall as its tallest video needs (a 9:16 row, a 16:9 row)
        self.row_h = [
            _box_height([c.result for c in cells if c.row == r], cell_width) for r in range(n_rows)
        ]
        self.row_top = [sum(self.caption_h + h for h in self.row_h[:r]) for r in range(n_rows)]
        self.size = (n_cols * cell_width, sum(self.caption_h + h for h in self.row_h))
        img = Image.new("RGB", self.size, _BG)
        draw = ImageDraw.Draw(img)
        for cell in cells:
            if captions:
                self._caption(draw, cell)
            if cell.result.path is None:
                self._empty_box(draw, cell)
        self.background = np.asarray(img).copy()

    def origin(self, cell: ExportCell) -> tuple[int, int]:
        """The top-left corner of ``cell``'s video box."""
        return cell.col * self.cell_w, self.row_top[cell.row] + self.caption_h

    def box(self, cell: ExportCell) -> tuple[int, int]:
        """The (width, height) of ``cell``'s video box."""
        return self.cell_w, self.row_h[cell.row]

    def _caption(self, draw: Any, cell: ExportCell) -> None:
        x, y = self.origin(cell)
        chars = max(8, int(self.cell_w / (self.font_px * 0.55)))
        font = _font(self.font_px)
        draw.text(
            (x + 6, y - self.caption_h + 2),
            shorten(cell.title, chars, one_line=True),
            fill=(240, 240, 240),
            font=font,
        )
        draw.text(
            (x + 6, y - self.caption_h + 2 + int(self.font_px * 1.35)),
            shorten(cell.subtitle, chars, one_line=True),
            fill=(170, 170, 178),
            font=font,
        )

    def _empty_box(self, draw: Any, cell: ExportCell) -> None:
        x, y = self.origin(cell)
        box_h = self.row_h[cell.row]
        draw.rectangle((x + 2, y + 2, x + self.cell_w - 3, y + box_h - 3), fill=_BOX)
        draw.text(
            (x + 8, y + box_h // 2 - self.font_px),
            f"no video ({cell.result.status})",
            fill=(220, 220, 220),
            font=_font(self.font_px),
        )

    def compose(self, frames: list[Any | None], cells: list[ExportCell]) -> Any:
        """One output frame: the background with each cell's current frame centred in its box."""
        out = self.background.copy()
        for frame, cell in zip(frames, cells, strict=True):
            if frame is None:
                continue
            x, y = self.origin(cell)
            h, w = frame.shape[:2]
            top, left = y + (self.row_h[cell.row] - h) // 2, x + (self.cell_w - w) // 2
            out[top : top + h, left : left + w] = frame
        return out


def _even(value: int) -> int:
    return max(2, value // 2 * 2)


class _CellReader:
    """One cell's frames, read in step with the export's clock."""

    def __init__(self, cell: ExportCell, fit: tuple[int, int]) -> None:
        self.current: Any | None = None
        self.end = 0.0
        self._gap = 0.0
        self._frames: Iterator[tuple[float, Any]] | None = None
        self._next: tuple[float, Any] | None = None
        if cell.result.path is not None:
            self._frames = iter(rgb_frames(cell.result.path, fit=fit))
            self._advance()

    def _advance(self) -> None:
        previous = self._next[0] if self._next is not None else None
        try:
            self._next = next(self._frames) if self._frames is not None else None
        except StopIteration:
            self._next = None
        except Exception:  # a broken file: the cell keeps its last good frame
            self._next = None
        if self._next is not None:
            if previous is not None:
                self._gap = max(0.0, self._next[0] - previous)
            self.end = self._next[0] + (self._gap or 1 / 24)

    @property
    def done(self) -> bool:
        return self._next is None

    def at(self, seconds: float) -> Any | None:
        """The frame showing at ``seconds`` (the last one whose time has come)."""
        while self._next is not None and self._next[0] <= seconds + 1e-6:
            self.current = self._next[1]
            self._advance()
        return self.current


def _box_height(results: Sequence[Result], cell_width: int) -> int:
    """The tallest aspect ratio among ``results``' requests sets their box height."""
    ratio = 9 / 16
    for result in results:
        req = result.request
        shape = req.size or req.aspect_ratio or ""
        for sep in ("x", ":"):
            a, _, b = shape.partition(sep)
            if b and a.isdigit() and b.isdigit() and int(a):
                ratio = max(ratio, int(b) / int(a))
                break
    return _even(round(cell_width * min(ratio, 2.0)))


def _frames(
    cells: list[ExportCell], canvas: _Canvas, fps: float, max_seconds: float
) -> Iterator[Any]:
    readers = [_CellReader(c, canvas.box(c)) for c in cells]
    index = 0
    while True:
        seconds = index / fps
        frames = [r.at(seconds) for r in readers]
        end = max((r.end for r in readers), default=0.0)
        if (
            index
            and (seconds >= end - 1e-6 or seconds >= max_seconds)
            and all(r.done for r in readers)
        ):
            return
        if seconds >= max_seconds:
            return
        yield canvas.compose(frames, cells)
        index += 1


def _write_mp4(frames: Iterable[Any], path: pathlib.Path, fps: float, size: tuple[int, int]) -> int:
    from fractions import Fraction

    import av  # the one PyAV writer besides the sandbox's renderer

    count = 0
    with av.open(str(path), "w", format="mp4", options={"movflags": "+faststart"}) as out:
        stream = out.add_stream(
            "libx264",
            rate=Fraction(fps).limit_denominator(1001),
            options={"crf": "23", "preset": "veryfast"},
        )
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
        for array in frames:
            out.mux(stream.encode(av.VideoFrame.from_ndarray(array, format="rgb24")))
            count += 1
        out.mux(stream.encode(None))
    return count


def _write_gif(frames: Iterable[Any], path: pathlib.Path, fps: float) -> int:
    _np, Image = _imports()
    images = [
        Image.fromarray(a).quantize(colors=128, method=Image.Quantize.MEDIANCUT) for a in frames
    ]
    if not images:
        raise ValueError("nothing to export: no frames")
    images[0].save(
        path,
        save_all=True,
        append_images=images[1:],
        duration=round(1000 / fps),
        loop=0,
        optimize=False,
    )
    return len(images)


def export_grid(
    results: Iterable[Result | VideoRequest],
    path: str | os.PathLike[str],
    *,
    rows: str | Sequence[str] | None = "prompt",
    cols: str | Sequence[str] | None = "model",
    columns: int | None = None,
    captions: bool = True,
    cell_width: int = 320,
    fps: float | None = None,
    blind: bool = False,
    revealed: bool = False,
    blind_seed: int = 0,
    max_seconds: float = MAX_SECONDS,
) -> pathlib.Path:
    """Write ``results`` as one video at ``path`` (``.mp4``: H.264; ``.gif``: a GIF at
    most 12 fps) and return the path; blocking.

    Each frame is ``columns x cell_width`` pixels wide (the grid's column count without
    ``columns``); a row's boxes have its tallest request's aspect ratio, under a caption
    band (``captions=False``: no band). ``fps`` defaults to the first
    video's rate. ``blind``/``revealed``/``blind_seed`` mirror a blind ``ComparisonGrid``:
    while not revealed, captions name slots (A, B, ...) and never a model.
    """
    target = pathlib.Path(path)
    suffix = target.suffix.lower()
    if suffix not in (".mp4", ".gif"):
        raise ValidationError("path", f"export to a .mp4 or .gif file, not {target.name!r}")
    if cell_width < 32:
        raise ValidationError(
            "cell_width", f"cell_width must be at least 32 pixels, got {cell_width}"
        )
    items = [as_result(r) for r in results]
    if not items:
        raise ValidationError("results", "nothing to export: the grid has no results")
    cells = plan_cells(
        items,
        rows=rows,
        cols=cols,
        columns=columns,
        blind=blind,
        revealed=revealed,
        blind_seed=blind_seed,
    )
    canvas = _Canvas(cells, _even(cell_width), captions=captions)
    rate = fps or next((video_fps(r.path) for r in items if r.path is not None), None) or 24.0
    if suffix == ".gif":
        rate = min(rate, 12.0)
    frames = _frames(cells, canvas, float(rate), max_seconds)
    target.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".gif":
        _write_gif(frames, target, rate)
    else:
        _write_mp4(frames, target, rate, canvas.size)
    return target
