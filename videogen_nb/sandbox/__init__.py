"""A local stand-in gateway, a separate program; imports only core.wire: same HTTP API, real MP4s.

A local stand-in for a video gateway: the same HTTP API, real MP4s, settable faults.

>>> import videogen_nb as vg                                    # doctest: +SKIP
>>> sb = vg.sandbox.start(task_seconds=1, failure_rate=0.1)     # doctest: +SKIP
>>> client = vg.Client(sb.base_url, sb.api_key)                 # doctest: +SKIP

Or standing: ``python -m videogen_nb.sandbox --port 8000``. It imports nothing from the
package but ``videogen_nb.wire``: it is the other side of the wire.
"""

from __future__ import annotations

from .behaviour import DEFAULT_API_KEY, DEFAULT_MODELS, Behaviour
from .handle import SANDBOX_EXTRA, SandboxHandle, require_renderer, start
from .render import RenderSpec, render_mp4
from .server import SandboxServer, make_app

__all__ = [
    "DEFAULT_API_KEY",
    "DEFAULT_MODELS",
    "SANDBOX_EXTRA",
    "Behaviour",
    "RenderSpec",
    "SandboxHandle",
    "SandboxServer",
    "make_app",
    "render_mp4",
    "require_renderer",
    "start",
]
