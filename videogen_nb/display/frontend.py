"""Where the notebook is shown, and so how a video can reach the page: ``vg.config``.

A ``<video>`` that links a file by a path relative to the notebook plays only where a
Jupyter server serves the kernel's files at relative URLs (JupyterLab, Notebook 7). VS Code
and Colab render outputs in a page of their own that cannot reach those files, Voila serves
no ``.mp4`` by default (its ``file_allowlist``), and a static export (nbviewer, GitHub,
``nbconvert --to html``) has no server at all. So each video is shown in one of three ways:

``"link"``
    a relative link, with the first frame as poster (files under ``EMBED_LIMIT`` are
    embedded, so a small video plays in a static export too);
``"embed"``
    the bytes as a ``data:`` URI, up to ``embed_limit``; a larger video shows its poster and
    a line that says why it does not play and how to see it;
``"widget"``
    ``vg.show`` of a ``Result`` returns a one-cell ``ComparisonGrid``, whose bytes travel
    over the kernel's widget messages (HTML-only outputs use ``"embed"``).

``"auto"`` (the default) picks from the front end's documented markers: Colab
(``google.colab`` imported, or ``COLAB_RELEASE_TAG`` set) and VS Code (``VSCODE_PID`` or
``VSCODE_CWD`` set) embed; Voila (``VOILA_KERNEL_ID``) embeds; a Jupyter server's kernel
(``JPY_SESSION_NAME``) links; anything else (nbclient, ``nbconvert --execute``) links with
posters and small embeds, which is what a static export can show.

>>> import videogen_nb as vg                    # doctest: +SKIP
>>> vg.config(display="embed", embed_limit=50_000_000)   # doctest: +SKIP
>>> vg.config(display="auto")                   # doctest: +SKIP
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from typing import Any

import attrs

__all__ = [
    "DISPLAY_MODES",
    "EMBED_MAX",
    "DisplaySettings",
    "config",
    "detect_frontend",
    "display_mode",
    "embed_limit",
    "set_widget_video",
    "widget_video",
]

#: what ``vg.config(display=...)`` accepts
DISPLAY_MODES: tuple[str, ...] = ("auto", "link", "embed", "widget")
#: the default bound on an embedded video (``"embed"`` mode): a notebook that holds a few of
#: these still opens; larger videos show a poster and say how to see them
EMBED_MAX = 20 * 1024 * 1024

#: the mode each front end gets under ``"auto"``
_AUTO_MODE = {
    "colab": "embed",
    "vscode": "embed",
    "voila": "embed",
    "jupyter": "link",
    "unknown": "link",
}


@attrs.define(kw_only=True)
class DisplaySettings:
    """What ``vg.config`` set: the forced mode (``"auto"``: none) and the embed bound."""

    display: str = "auto"
    embed_limit: int = EMBED_MAX


_settings = DisplaySettings()
_widget_video: Callable[[Any], Any] | None = None


def config(*, display: str | None = None, embed_limit: int | None = None) -> DisplaySettings:
    """Set how videos are shown, for this kernel; returns the settings now in force.

    ``display``: ``"auto"`` (pick from the front end), ``"link"``, ``"embed"`` or
    ``"widget"`` (see this module's docstring). ``embed_limit``: the largest video, in
    bytes, that ``"embed"`` puts into the notebook.

    >>> vg.config(display="embed")              # doctest: +SKIP
    """
    if display is not None:
        if display not in DISPLAY_MODES:
            raise ValueError(
                f"display must be one of {', '.join(map(repr, DISPLAY_MODES))}; got {display!r}"
            )
        _settings.display = display
    if embed_limit is not None:
        if isinstance(embed_limit, bool) or not isinstance(embed_limit, int) or embed_limit < 0:
            raise ValueError(
                f"embed_limit must be a number of bytes (an int >= 0); got {embed_limit!r}"
            )
        _settings.embed_limit = embed_limit
    return attrs.evolve(_settings)


def embed_limit() -> int:
    """The largest video ``"embed"`` mode puts into a notebook, in bytes."""
    return _settings.embed_limit


def _in_kernel() -> bool:
    """True inside a Jupyter kernel (ipykernel's shell), where a front end shows outputs."""
    if "ipykernel" not in sys.modules:
        return False
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - ipykernel depends on IPython
        return False
    shell = get_ipython()
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


def detect_frontend(
    env: Mapping[str, str] | None = None, modules: Mapping[str, Any] | None = None
) -> str:
    """The front end showing this kernel's outputs, from its documented markers:
    ``"colab"``, ``"vscode"``, ``"voila"``, ``"jupyter"`` (a Jupyter server's kernel:
    JupyterLab, Notebook 7) or ``"unknown"`` (no kernel, nbclient, a terminal).

    Only a kernel has a front end: a script or a test run from a VS Code terminal (where
    ``VSCODE_PID`` is set too) is ``"unknown"``.
    """
    env = os.environ if env is None else env
    modules = sys.modules if modules is None else modules
    if "google.colab" in modules or env.get("COLAB_RELEASE_TAG"):
        return "colab"
    if not _in_kernel():
        return "unknown"
    if env.get("VSCODE_PID") or env.get("VSCODE_CWD"):
        return "vscode"
    if env.get("VOILA_KERNEL_ID") or env.get("VOILA_BASE_URL"):
        return "voila"
    if env.get("JPY_SESSION_NAME"):
        return "jupyter"
    return "unknown"


def display_mode() -> str:
    """The mode in force: the one ``vg.config`` forced, else the front end's."""
    if _settings.display != "auto":
        return _settings.display
    return _AUTO_MODE[detect_frontend()]


def set_widget_video(maker: Callable[[Any], Any] | None) -> None:
    """Register how ``"widget"`` mode shows one ``Result`` (the widgets layer installs a
    one-cell ``ComparisonGrid``; the display layer may not import widgets)."""
    global _widget_video
    _widget_video = maker


def widget_video(result: Any) -> Any | None:
    """A widget that streams ``result``'s video, or None when none is registered."""
    maker = _widget_video
    return maker(result) if maker is not None else None
