"""The static picture of a comparison grid: a table of posters that needs no kernel.

A widget is only a reference to a model that lives in the kernel: once the kernel is gone
(a saved notebook reopened, nbviewer, GitHub, ``nbconvert --to html``) it shows nothing, or
"model not found". Each grid and run view therefore carries this HTML beside its widget
view: the grid's first frames as small JPEGs (``data:`` URIs), with the captions, the
failures and a link to each file, so what was compared stays readable. Posters, not videos:
the saved notebook stays small.

The table is built from the grid's own front-end description (``axes`` and ``cells``), so
a blind grid's static picture hides exactly what its widget hides (no model, no file name).

Where a widget is shown, it is shown as TWO outputs (``display_with_fallback``): the widget
view, then this HTML in a ``div.vg-fallback`` with a small ``<style>``. JupyterLab renders
a widget output whose model is gone as "Error displaying widget: model not found" and never
falls back to the output's own HTML, so the posters must be an output of their own. The
style (kept by Lab for trusted outputs, and a notebook Lab saved is trusted when reopened)
shows exactly one of the two: the widget while its view is there and has a kernel behind
it, the posters otherwise (no view: model not found, an export without widget state; or a
grid that found no kernel, ``grid.js`` marks it ``vgg-offline``). Where the style is
dropped (GitHub, an untrusted notebook) the posters show below whatever the widget shows.

>>> html = grid_fallback_html(grid)                                 # doctest: +SKIP
>>> html = results_fallback_html(run.results, rows="prompt", cols="model")  # doctest: +SKIP
>>> handle = display_with_fallback(widget_bundle, html, "3 videos")  # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from ..core.task import Result
from ..core.text import shorten
from .html import tag
from .layout import build_layout, cell_states
from .video import poster_data_uri, relative_url

__all__ = [
    "FALLBACK_CLASS",
    "FALLBACK_CSS",
    "MAX_POSTERS",
    "POSTER_WIDTH",
    "StaticGrid",
    "display_with_fallback",
    "fallback_bundle",
    "grid_fallback_html",
    "poster_table_html",
    "results_fallback_html",
    "widget_bundle",
    "with_static_html",
]

#: the width of each poster, in pixels (a JPEG of a few KB)
POSTER_WIDTH = 200
#: posters in one table; the cells beyond show their captions only (the notebook stays small)
MAX_POSTERS = 36

_CELL_STYLE = "vertical-align:top;padding:4px;border:1px solid #ddd;max-width:220px"
_HEAD_STYLE = "text-align:left;padding:4px;font-weight:600;max-width:220px"
_NOTE = (
    "A still picture of the grid (first frames): the videos play in step while the "
    "notebook's kernel runs; run the cell again to get them back."
)


class StaticGrid(Protocol):
    """What ``grid_fallback_html`` reads from a ``ComparisonGrid``."""

    axes: Any
    cells: Any
    title: Any

    @property
    def results(self) -> list[Result]: ...

    def _masked(self) -> bool: ...


def grid_fallback_html(grid: StaticGrid, *, base_dir: os.PathLike[str] | str | None = None) -> str:
    """The static table of ``grid`` as it is now (a blind grid stays blind)."""
    masked = bool(grid._masked())
    return poster_table_html(
        dict(grid.axes),
        list(grid.cells),
        grid.results,
        title=str(grid.title or ""),
        links=not masked,
        base_dir=base_dir,
    )


def results_fallback_html(
    results: Sequence[Result],
    *,
    rows: str | Sequence[str] | None = "prompt",
    cols: str | Sequence[str] | None = "model",
    title: str = "",
    base_dir: os.PathLike[str] | str | None = None,
) -> str:
    """The static table of ``results`` laid out as a (not blind) grid would show them."""
    results = list(results)
    if not results:
        return ""
    layout = build_layout(results, rows=rows, cols=cols)
    axes = {
        "rows": [{"key": key, "label": label} for key, label in layout.rows],
        "cols": [{"key": key, "label": label} for key, label in layout.cols],
        "row_title": " · ".join(layout.row_fields),
        "col_title": " · ".join(layout.col_fields),
        "col_fields": list(layout.col_fields),
    }
    cells = cell_states(results, layout)
    return poster_table_html(axes, cells, results, title=title, base_dir=base_dir)


def poster_table_html(
    axes: Mapping[str, Any],
    cells: Sequence[Mapping[str, Any]],
    results: Sequence[Result],
    *,
    title: str = "",
    links: bool = True,
    base_dir: os.PathLike[str] | str | None = None,
) -> str:
    """A ``<table>`` of posters: one row per ``axes["rows"]``, one column per
    ``axes["cols"]``, each cell its poster, caption, failure and (``links``) file link."""
    row_axis = list(axes.get("rows") or [])
    col_axis = list(axes.get("cols") or [])
    placed: dict[tuple[int, int], list[Mapping[str, Any]]] = {}
    for cell in cells:
        placed.setdefault((int(cell["r"]), int(cell["c"])), []).append(cell)
    budget = [MAX_POSTERS]
    # what the column heading says is not repeated in each caption
    hide = set(axes.get("col_fields") or ())
    head = tag("th", str(axes.get("row_title") or ""), style=_HEAD_STYLE) + "".join(
        tag("th", shorten(str(col.get("label", "")), 120), style=_HEAD_STYLE) for col in col_axis
    )
    body = []
    for r, row in enumerate(row_axis):
        tds = [tag("th", shorten(str(row.get("label", "")), 200), style=_HEAD_STYLE)]
        for c in range(len(col_axis)):
            inner = "".join(
                _cell_html(cell, results, links=links, base_dir=base_dir, budget=budget, hide=hide)
                for cell in placed.get((r, c), [])
            )
            tds.append(tag("td", raw=inner, style=_CELL_STYLE))
        body.append(tag("tr", raw="".join(tds)))
    heading = tag("div", title, style="font-weight:600;margin:4px 0") if title else ""
    note = tag("div", _NOTE, class_="vg-static-note", style="color:#666;margin:2px 0 6px")
    table = tag(
        "table",
        raw=tag("thead", raw=tag("tr", raw=head)) + tag("tbody", raw="".join(body)),
        style="border-collapse:collapse",
    )
    return tag(
        "div",
        raw=heading + note + table,
        class_="vg-static-grid",
        style="font:12px system-ui,sans-serif",
    )


def _cell_html(
    cell: Mapping[str, Any],
    results: Sequence[Result],
    *,
    links: bool,
    base_dir: os.PathLike[str] | str | None,
    budget: list[int],
    hide: set[str],
) -> str:
    index = int(cell["i"])
    result = results[index] if 0 <= index < len(results) else None
    path = result.path if result is not None else None
    parts = []
    if cell.get("state") == "ready" and path is not None:
        poster = poster_data_uri(path, max_width=POSTER_WIDTH) if budget[0] > 0 else None
        if poster is not None:
            budget[0] -= 1
            parts.append(
                tag("img", "", src=poster, alt="first frame", width=POSTER_WIDTH, loading="lazy")
            )
        if links:
            rel = relative_url(path, base_dir)
            href = rel if rel is not None else path.resolve().as_uri()
            parts.append(tag("div", raw=tag("a", path.name, href=href, target="_blank")))
    elif cell.get("state") == "failed":
        reason = cell.get("reason") or cell.get("error") or cell.get("status")
        parts.append(tag("div", f"✗ {shorten(str(reason), 300)}", style="color:#b00020"))
    else:
        parts.append(tag("div", str(cell.get("status") or "pending"), style="color:#666"))
    caption = " · ".join(str(value) for key, value in cell.get("caption") or () if key not in hide)
    if caption:
        parts.append(tag("div", caption, style="color:#555"))
    return tag("div", raw="".join(parts), class_="vg-static-cell")


def with_static_html(bundle: Any, html: str) -> Any:
    """``bundle`` (a widget's ``_repr_mimebundle_``: a dict, or ``(data, metadata)`` as
    anywidget returns) with ``html`` added as its ``text/html``: what front ends without the
    widget's model show (nbviewer, GitHub, nbconvert, a notebook reopened without state)."""
    if isinstance(bundle, tuple):
        data, metadata = bundle
        return {**(data or {}), "text/html": html}, metadata
    return {**(bundle or {}), "text/html": html}


# -- the widget and its fallback, as two outputs -----------------------------------------

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
#: the class of the fallback output's outer ``div`` (the style below finds it by it)
FALLBACK_CLASS = "vg-fallback"
#: the classes MathJax (Lab, Notebook 7, nbconvert) leaves alone
_NO_MATHS = "tex2jax_ignore mathjax_ignore"
# An output of a notebook (JupyterLab, Notebook 7, Voila, nbconvert's "lab" template) is a
# ``.jp-OutputArea-child``; a widget's view is a Lumino widget (``.lm-Widget``) inside its
# ``.jp-OutputArea-output``, in Lab and in an export's HTML widget manager alike. Lab's
# "model not found" is text on the output node itself, nbconvert's stand-in a ``<pre>``,
# an export whose widget scripts did not load holds only ``<script>``s: no view.
# ``vgg-offline``: a grid whose model has no kernel (grid.js). Only the output right before
# one of ours is ever hidden.
_W = ".jp-OutputArea-child"
_VIEW = ".jp-OutputArea-output .lm-Widget"
_NEXT_IS_OURS = f":has(+ {_W} .{FALLBACK_CLASS})"  # (a :has inside a :has is not allowed)
FALLBACK_CSS = (
    # the view is there and alive: hide the posters
    f"{_W}:has({_VIEW}):not(:has(.vgg-offline)) + {_W}:has(.{FALLBACK_CLASS}){{display:none}}"
    # no view, or a grid with no kernel: hide the widget's output (Lab's error line)
    f"{_W}:not(:has({_VIEW})){_NEXT_IS_OURS},{_W}:has(.vgg-offline){_NEXT_IS_OURS}"
    "{display:none}"
)


def fallback_bundle(html: str, text: str) -> dict[str, str]:
    """The fallback output: ``html`` with its style in a ``div.vg-fallback``, and ``text``."""
    style = f"<style>{FALLBACK_CSS}</style>"
    # Lab typesets "$...$" in HTML outputs as maths: two prices would become a formula
    div = tag("div", raw=style + html, class_=f"{FALLBACK_CLASS} {_NO_MATHS}")
    return {"text/html": div, "text/plain": text}


def widget_bundle(bundle: Any, label: str = "") -> tuple[dict[str, Any], dict[str, Any]]:
    """A widget's ``_repr_mimebundle_`` (a dict, or anywidget's ``(data, metadata)``) as the
    first of the two outputs: the view and a one-line ``text/plain`` ``label``; no HTML,
    since the fallback output carries it (an export shows it once)."""
    data, metadata = bundle if isinstance(bundle, tuple) else (bundle, {})
    view = {WIDGET_MIME: dict(data or {})[WIDGET_MIME], "text/plain": label}
    return view, dict(metadata or {})


def display_with_fallback(bundle: Any, html: str, text: str, *, label: str = "") -> Any:
    """Show a widget (``bundle``: its ``_repr_mimebundle_``) as two outputs, the view, then
    ``html``/``text`` as its fallback; returns the fallback's display handle (``update``
    it with a new ``fallback_bundle`` when what it shows changes)."""
    from IPython.display import display

    show: Callable[..., Any] = display  # IPython ships no types
    data, metadata = widget_bundle(bundle, label)
    show(data, metadata=metadata, raw=True)
    return show(fallback_bundle(html, text), raw=True, display_id=True)
