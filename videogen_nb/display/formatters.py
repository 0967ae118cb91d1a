"""Teach IPython how to show a ``Result``: the video with its caption, or its error.

``Result`` lives in the bottom layer (``task.py``) and may not import the display layer, so
instead of a ``_repr_html_`` method there, the display layer registers an HTML formatter for
it with the running IPython when the package is imported.
"""

from __future__ import annotations

from ..task import Result
from .video import result_html

__all__ = ["register_formatters"]


def register_formatters() -> bool:
    """Register the HTML formatter for ``Result`` with the running IPython, if any.

    Returns True when registered (inside IPython or a Jupyter kernel), False in plain Python.
    """
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - ipython is a dependency
        return False
    shell = get_ipython()
    if shell is None:
        return False
    shell.display_formatter.formatters["text/html"].for_type(Result, result_html)
    return True
