"""Notebook widgets: the synchronized ``ComparisonGrid`` and vote scoring."""

from __future__ import annotations

from .grid import ComparisonGrid, build_layout
from .votes import win_rates

__all__ = ["ComparisonGrid", "build_layout", "win_rates"]
