"""A standalone HTML report of a comparison: one file that plays in any browser.

Below the grid, static sections list every request with its settings, status, cost (the
gateway's figure, or the price table's estimate marked "~") and spec check, the run's total,
and, given the journal, the blind votes and a leaderboard of these videos. The page follows
the reader's light or dark preference (``prefers-color-scheme``).

The page runs the very same front end as ``ComparisonGrid`` (``grid_js()`` and ``grid.css``,
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

from .grid_assets import grid_css, grid_js
from .html import data_uri, escape, json_for_script
from .layout import as_result, build_layout, cell_states, probe_fps
from .report_parts import REPORT_SECTIONS_CSS, report_sections
from .video import video_mime

if TYPE_CHECKING:
    from ..core.request import VideoRequest
    from ..core.task import Result
    from ..store.journal import Journal

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

# The grid's colours are JupyterLab's theme variables with light fallbacks: outside
# JupyterLab the page sets them itself, light or dark as the reader's system prefers.
_PAGE_CSS = """
:root { color-scheme: light dark;
  --vgr-fg: #1f2328; --vgr-muted: #59636e; --vgr-bg: #ffffff; --vgr-bg2: #f3f4f6;
  --vgr-line: #d8dee4; --vgr-accent: #1f6feb; --vgr-bad: #cf222e; }
@media (prefers-color-scheme: dark) {
  :root { --vgr-fg: #e6edf3; --vgr-muted: #9da7b3; --vgr-bg: #0d1117; --vgr-bg2: #161b22;
    --vgr-line: #30363d; --vgr-accent: #4493f8; --vgr-bad: #ff7b72; }
}
:root { --jp-ui-font-color1: var(--vgr-fg); --jp-ui-font-color2: var(--vgr-muted);
  --jp-layout-color1: var(--vgr-bg); --jp-layout-color2: var(--vgr-bg2);
  --jp-border-color2: var(--vgr-line); --jp-brand-color1: var(--vgr-accent);
  --jp-error-color1: var(--vgr-bad); }
body { margin: 16px; background: var(--vgr-bg); color: var(--vgr-fg); }
.vgg-footer { margin-top: 16px; color: var(--vgr-muted); font: 12px system-ui, sans-serif; }
"""


def render_report(
    results: Iterable[Result | VideoRequest],
    *,
    base_dir: os.PathLike[str] | str,
    embed: bool = True,
    title: str = "Video comparison",
    rows: str | Sequence[str] | None = "prompt",
    cols: str | Sequence[str] | None = "model",
    journal: Journal | None = None,
    run_id: str | None = None,
) -> str:
    """The report page as a string; relative video links are made from ``base_dir``.

    With ``journal``, the sections below the grid add what it recorded: reported costs,
    stored spec checks, the votes of ``run_id`` and a leaderboard of these videos.
    """
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
    css = grid_css().replace("</", "<\\/")
    stamp = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    return (
        '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="generator" content="videogen-nb">\n'
        f"<title>{escape(title)}</title>\n"
        f"<style>\n{css}\n{_PAGE_CSS}{REPORT_SECTIONS_CSS}</style>\n</head>\n<body>\n"
        '<div id="vgg-root"></div>\n'
        "<noscript>This report needs JavaScript to show its videos.</noscript>\n"
        f"{report_sections(items, journal=journal, run_id=run_id)}\n"
        f'<div class="vgg-footer">{escape(len(items))} videos · made with videogen-nb · '
        f"{escape(stamp)}</div>\n"
        f'<script type="application/json" id="vgg-data">{json_for_script(data)}</script>\n'
        f'<script type="application/json" id="vgg-esm">{json_for_script(grid_js())}'
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
    journal: Journal | None = None,
    run_id: str | None = None,
) -> pathlib.Path:
    """Write one self-contained HTML file with the grid, control bar and captions.

    ``embed=True`` puts the videos in the file as base64 ``data:`` URIs (one file to share);
    ``embed=False`` links them by paths relative to the report's folder (small file; keep
    the videos beside it). Failed and pending results show their status and message. Below
    the grid: each request's settings, status, cost and spec check, and the run's total;
    with ``journal`` (and ``run_id``) also the votes and a leaderboard. Returns the path
    written.
    """
    target = pathlib.Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    page = render_report(
        results,
        base_dir=target.parent,
        embed=embed,
        title=title,
        rows=rows,
        cols=cols,
        journal=journal,
        run_id=run_id,
    )
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(target)
    return target
