"""``start()``: run a sandbox on its own thread and event loop, and the handle to control it.

Its own loop means it works the same from a plain script, an async test and a notebook
cell (where a loop is already running and cannot be re-entered).
"""

from __future__ import annotations

import asyncio
import importlib
import threading
from typing import Any

from aiohttp import web

from .behaviour import Behaviour
from .server import SandboxServer

__all__ = ["SANDBOX_EXTRA", "SandboxHandle", "require_renderer", "start"]

#: what a plain ``pip install videogen-nb`` lacks to run the sandbox
SANDBOX_EXTRA = "pip install 'videogen-nb[sandbox]'"
#: the modules the renderer imports, and what each is called for people
_RENDERER_MODULES = (("av", "PyAV"), ("numpy", "NumPy"), ("PIL", "Pillow"))

_CALL_TIMEOUT = 30.0


class SandboxHandle:
    """A running sandbox: where it listens, its key, and its controls.

    >>> with start(task_seconds=0.2) as sb:          # doctest: +SKIP
    ...     client = Client(sb.base_url, sb.api_key)
    """

    def __init__(
        self,
        *,
        server: SandboxServer,
        loop: asyncio.AbstractEventLoop,
        thread: threading.Thread,
        runner: web.AppRunner,
        host: str,
        port: int,
    ) -> None:
        self._server = server
        self._loop = loop
        self._thread = thread
        self._runner = runner
        self._stopped = False
        self.host = host
        self.port = port

    @property
    def base_url(self) -> str:
        """Root URL of the sandbox, e.g. ``http://127.0.0.1:8123`` (clients add ``/v1``)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def api_key(self) -> str:
        """The bearer key the sandbox accepts."""
        return self._server.state.behaviour.api_key

    @property
    def running(self) -> bool:
        """Whether the server still listens."""
        return not self._stopped

    @property
    def tasks_created(self) -> int:
        """How many tasks the sandbox has accepted."""
        return int(self.stats(include_tasks=False)["tasks_created"])

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        if self._stopped:
            raise RuntimeError("the sandbox is stopped")

        async def run() -> Any:
            return fn(*args, **kwargs)

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(_CALL_TIMEOUT)

    def stats(self, *, include_tasks: bool = True) -> dict[str, Any]:
        """Counters: ``tasks_created``, ``requests`` per ``"METHOD /route/{template}"``,
        ``statuses`` per code (``"aborted"`` for cut connections), ``faults`` fired,
        ``bytes_served``, ``idempotent_replays``, ``renders``, ``render_cache_hits``,
        ``behaviour``, and per task (``tasks``) its server-side ``completed_at``."""
        return self._call(self._server.stats, include_tasks=include_tasks)

    def configure(self, **behaviour: Any) -> Behaviour:
        """Change behaviour knobs while running; returns the new ``Behaviour``.

        Fault counts given here re-arm (``configure(rate_limit=2)``: the next two requests).
        """
        return self._call(self._server.configure, behaviour)

    def stop(self) -> None:
        """Stop listening, free the port and end the server thread (idempotent)."""
        if self._stopped:
            return
        self._stopped = True
        fut = asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop)
        try:
            fut.result(_CALL_TIMEOUT)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(_CALL_TIMEOUT)
            self._server.close()

    def __enter__(self) -> SandboxHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<SandboxHandle {self.base_url} {state}>"


def require_renderer() -> None:
    """Raise ``ImportError`` naming the extra to install when the renderer cannot run.

    The renderer imports PyAV, NumPy and Pillow only when a video is first asked for: a
    sandbox without them would start fine and then answer 500 to every download. So
    ``start()`` checks first, and says what to install.
    """
    missing = []
    for module, name in _RENDERER_MODULES:
        try:
            importlib.import_module(module)
        except ImportError:
            missing.append(name)
    if missing:
        raise ImportError(
            f"the sandbox renders videos with {' and '.join(missing)}, which "
            f"{'is' if len(missing) == 1 else 'are'} not installed: {SANDBOX_EXTRA}"
        )


def start(port: int = 0, host: str = "127.0.0.1", **behaviour: Any) -> SandboxHandle:
    """Start a sandbox gateway on ``host:port`` (0: a free port) and return once it listens.

    ``behaviour`` takes the knobs of ``Behaviour``: ``task_seconds``, ``failure_rate``,
    ``seed``, ``api_key``, ``models``, and the fault modes.

    >>> sb = start(task_seconds=0.5, failure_rate=0.2)   # doctest: +SKIP
    >>> sb.base_url, sb.api_key                          # doctest: +SKIP
    ('http://127.0.0.1:53127', 'sk-sandbox-local')

    Raises ``ImportError`` at once when the renderer's packages are missing (a plain
    ``pip install videogen-nb``): ``pip install 'videogen-nb[sandbox]'``.
    """
    require_renderer()
    server = SandboxServer(Behaviour(**behaviour))
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    box: dict[str, Any] = {}

    async def setup() -> None:
        # A short grace period: stop() should free the port promptly, even mid-request.
        runner = web.AppRunner(
            server.app(), access_log=None, handle_signals=False, shutdown_timeout=1.0
        )
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        box["runner"] = runner
        box["port"] = runner.addresses[0][1]

    def run() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(setup())
        except BaseException as exc:
            box["error"] = exc
            ready.set()
            loop.close()
            return
        ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    thread = threading.Thread(target=run, name="videogen-sandbox", daemon=True)
    thread.start()
    ready.wait()
    if "error" in box:
        server.close()
        raise box["error"]
    return SandboxHandle(
        server=server,
        loop=loop,
        thread=thread,
        runner=box["runner"],
        host=host,
        port=box["port"],
    )
