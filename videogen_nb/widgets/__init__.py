"""Notebook widgets (ipywidgets/anywidget): grid, live table, run view, Studio. May import every layer below."""

from __future__ import annotations

from ..core.scoring import win_rates
from .grid import ComparisonGrid, build_layout

__all__ = ["ComparisonGrid", "build_layout", "win_rates"]
