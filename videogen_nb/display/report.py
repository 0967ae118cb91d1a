"""A standalone HTML report of a comparison: one file that plays in any browser.

The page runs the very same front end as ``ComparisonGrid`` (``grid.js`` and ``grid.css``,
inlined) against a small static stand-in for the widget model, so the grid, the control
bar and the captions look and behave the same as in the notebook. The data travels as JSON
in a ``<script type="application/json">`` element, escaped so that no prompt can end it.

>>> run.to_html("report.html")                                   # doctest: +SKIP
>>> write_report(results, "out/report.html", embed=False)        # doctest: +SKIP
"""

from __future__ import annotations

import datetime
import os
import pathlib
import urllib.parse
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from .html import data_uri, escape, json_for_script
from .layout import GRID_CSS, GRID_JS, as_result, build_layout, cell_states, probe_fps
from .video import video_mime

if TYPE_CHECKING:
    from ..core.request import VideoRequest
    from ..core.task import Result

__all__ = ["render_report", "write_report"]

# The stand-in for an anywidget model: get/on/off/send over static data. Votes and byte
# requests have no kernel to go to, so send() does nothing.
_SHIM = """
const read = (id) => JSON.parse(document.getElementById(id).textContent);
const data = read("vgg-data");
const handlers = new Map();
const model = {
  get: (name) => data[name],
  set: (name, value) => { data[name] = value; },
  save_changes: () => {},
  on: (name, fn) => { if (!handlers.has(name)) handlers.set(name, new Set()); handlers.get(name).add(fn); },
  off: (name, fn) => { const set = handlers.get(name); if (set) set.delete(fn); },
  send: () => {},
};
const url = URL.createObjectURL(new Blob([read("vgg-esm")], { type: "text/javascript" }));
try {
  const widget = (await import(url)).default;
  widget.render({ model, el: document.getElementById("vgg-root") });
} finally {
  URL.revokeObjectURL(url);
}
"""

_PAGE_CSS = """
body { margin: 16px; background: #fff; }
.vgg-footer { margin-top: 16px; color: #59636e; font: 12px system-ui, sans-serif; }
"""


def render_report(
    results: Iterable[Result | VideoRequest],
    *,
    base_dir: os.PathLike[str] | str,
    embed: bool = True,
    title: str = "Video comparison",
    rows: str | Sequence[str] | None = "prompt",
    cols: str | Sequence[str] | None = "model",
) -> str:
    """The report page as a string; relative video links are made from ``base_dir``."""
    items = [as_result(r) for r in results]
    layout = build_layout(items, rows=rows, cols=cols)
    base = pathlib.Path(base_dir).resolve()

    def src(_index: int, result: Result) -> str | None:
        path = result.path
        if path is None or not path.is_file():
            return None
        if embed:
            return data_uri(video_mime(path), path.read_bytes())
        rel = os.path.relpath(path.resolve(), base)
        return urllib.parse.quote(pathlib.Path(rel).as_posix())

    cells = cell_states(items, layout, src=src, max_bytes=2**62)
    data = {
        "axes": {
            "rows": [{"key": k, "label": label} for k, label in layout.rows],
            "cols": [{"key": k, "label": label} for k, label in layout.cols],
            "row_title": " · ".join(layout.row_fields),
            "col_title": " · ".join(layout.col_fields),
        },
        "cells": cells,
        "blind": False,
        "revealed": False,
        "fps": probe_fps(items),
        "voted": {},
        "message": "",
        "title": title,
    }
    css = GRID_CSS.read_text(encoding="utf-8").replace("</", "<\\/")
    stamp = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    return (
        '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="generator" content="videogen-nb">\n'
        f"<title>{escape(title)}</title>\n"
        f"<style>\n{css}\n{_PAGE_CSS}</style>\n</head>\n<body>\n"
        '<div id="vgg-root"></div>\n'
        "<noscript>This report needs JavaScript to show its videos.</noscript>\n"
        f'<div class="vgg-footer">{escape(len(items))} videos · made with videogen-nb · '
        f"{escape(stamp)}</div>\n"
        f'<script type="application/json" id="vgg-data">{json_for_script(data)}</script>\n'
        f'<script type="application/json" id="vgg-esm">{json_for_script(GRID_JS.read_text(encoding="utf-8"))}'
        "</script>\n"
        f'<script type="module">{_SHIM}</script>\n</body>\n</html>\n'
    )


def write_report(
    results: Iterable[Result | VideoRequest],
    path: os.PathLike[str] | str,
    *,
    embed: bool = True,
    title: str = "Video comparison",
    rows: str | Sequence[str] | None = "prompt",
    cols: str | Sequence[str] | None = "model",
) -> pathlib.Path:
    """Write one self-contained HTML file with the grid, control bar and captions.

    ``embed=True`` puts the videos in the file as base64 ``data:`` URIs (one file to share);
    ``embed=False`` links them by paths relative to the report's folder (small file; keep
    the videos beside it). Failed and pending results show their status and message.
    Returns the path written.
    """
    target = pathlib.Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    page = render_report(
        results, base_dir=target.parent, embed=embed, title=title, rows=rows, cols=cols
    )
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(target)
    return target
