"""The grid's front end, joined from its parts.

anywidget loads one ES module and the project has no bundler, so ``assets/grid/`` holds
plain scripts, one job each, that :func:`grid_js` joins in a fixed order into that one
module (the last part, ``main.js``, has the module's only ``export``). The widget
(``ComparisonGrid._esm``/``_css``) and the standalone report read the front end through
these two functions, so both always run the same code.
"""

from __future__ import annotations

import functools
import pathlib
import re

__all__ = ["GRID_ASSETS", "GRID_CSS", "GRID_PARTS", "grid_css", "grid_js"]

#: The folder of the front end's files (shipped in the wheel as package data).
GRID_ASSETS = pathlib.Path(__file__).parent / "assets"
#: The grid's stylesheet.
GRID_CSS = GRID_ASSETS / "grid.css"
#: The parts of the module, in the order they are joined: helpers first, then one function
#: per job (each adds its functions to the grid's shared context), the wiring last.
GRID_PARTS = (
    "dom.js",  # constants and DOM helpers
    "sync.js",  # the shared clock: play, pause, seek, frame steps, stalls, loop
    "sound.js",  # one unmuted cell; the video bytes the kernel sends in parts
    "layout.js",  # cells sized by the videos' real shape, fitted to the width
    "table.js",  # headings, cells, captions, per-cell tools, votes
    "menu.js",  # the cell menu: download, copy, re-run, remix
    "viewer.js",  # the enlarged viewer, in step with the grid
    "wipe.js",  # the A/B wipe of two cells
    "main.js",  # the page, the wiring, teardown, the export
)


# A line holding only a comment. The parts have no multi-line template literals (a test
# checks), so such a line is always a comment, never text inside a string.
_COMMENT_LINE = re.compile(r"^[ \t]*//.*\n", re.MULTILINE)


@functools.cache
def grid_js() -> str:
    """The grid's ES module: every part of ``assets/grid/``, joined in ``GRID_PARTS`` order.

    Whole-line comments stay in the source files and are left out of the module: the report
    page inlines it, and its size is what a linked report weighs.
    """
    folder = GRID_ASSETS / "grid"
    parts = []
    for name in GRID_PARTS:
        text = _COMMENT_LINE.sub("", (folder / name).read_text(encoding="utf-8"))
        parts.append(f"// ---- {name} ----\n{text.strip()}\n")
    return "\n".join(parts)


@functools.cache
def grid_css() -> str:
    """The grid's stylesheet."""
    return GRID_CSS.read_text(encoding="utf-8")
