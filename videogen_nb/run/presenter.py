"""The seam between the run layer and the notebook face.

``Run`` must display itself live and export a report, but the display layer sits above
the run layer and may not be imported from it. The display layer registers a presenter
here when it is imported (``videogen_nb/__init__.py`` imports it), and ``Run`` asks for it.
"""

from __future__ import annotations

import pathlib
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from .run import Run

__all__ = ["Presenter", "get_presenter", "set_presenter"]


class Presenter(Protocol):
    """What the display layer offers the run layer."""

    def display(self, run: Run, **options: Any) -> Any:
        """Show the run live in the current notebook output (``view=...`` and the like)."""

    def write_html(self, run: Run, path: pathlib.Path, **options: Any) -> pathlib.Path:
        """Write a self-contained HTML report of the run."""


_presenter: Presenter | None = None


def set_presenter(presenter: Presenter | None) -> None:
    """Install the display layer's presenter (None removes it)."""
    global _presenter
    _presenter = presenter


def get_presenter() -> Presenter | None:
    """The installed presenter, or None when the display layer is not loaded."""
    return _presenter
