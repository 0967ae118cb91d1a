"""Pure HTML and text for notebooks, no ipywidgets; imports up to client/: videos, tables, grid layout, report.

Notebook display of videos and results: ``show``, ``result_html``, ``write_report``."""

from __future__ import annotations

from .report import render_report, write_report
from .video import EMBED_LIMIT, VideoDisplay, poster_data_uri, result_html, show

__all__ = [
    "EMBED_LIMIT",
    "VideoDisplay",
    "poster_data_uri",
    "render_report",
    "result_html",
    "show",
    "write_report",
]
