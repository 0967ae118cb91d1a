"""Give ``Result`` its HTML form: the video with its caption, or its error.

``Result`` lives in the bottom layer (``task.py``) and may not import the display layer, so
the display layer installs the renderer that ``Result._repr_html_`` calls, when the package
is imported.
"""

from __future__ import annotations

from ..core.task import set_result_html_renderer
from .video import result_html

__all__ = ["install_result_html"]


def install_result_html() -> None:
    """Make ``Result._repr_html_`` render with ``display.video.result_html``."""
    set_result_html_renderer(result_html)
