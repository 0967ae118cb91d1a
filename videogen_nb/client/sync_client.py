"""``Client``: the blocking twin of ``AsyncClient``, and the opt-in nested-asyncio helper.

``Client`` runs the very same ``AsyncClient`` code on a private background event loop (one
daemon thread for the whole process). That is what makes it work in a notebook cell, where
the kernel's own loop is already running and ``asyncio.run`` is refused, as well as in a
plain script; and it keeps the kernel free while a ``Run`` polls in the background.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import os
import pathlib
import threading
import weakref
from collections.abc import Coroutine, Iterable
from typing import Any, TypeVar

from ..core.request import VideoRequest
from ..core.task import Result, Task
from ..run.lanes import LaneSet
from ..run.run import Run
from ..store.journal import Journal
from .async_client import AsyncClient

__all__ = ["Client", "background_loop", "enable_nested_asyncio"]

T = TypeVar("T")

_loop_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None
#: clients still open, closed at interpreter exit so their HTTP sessions end cleanly
#: (a notebook user rarely calls close(); a kernel shutting down must not leak sockets)
_open_clients: weakref.WeakSet[Client] = weakref.WeakSet()
#: how long exit waits for one client's session to close
_EXIT_CLOSE_TIMEOUT = 5.0


def background_loop() -> asyncio.AbstractEventLoop:
    """The toolkit's private event loop, running on a daemon thread (started on first use)."""
    global _loop
    with _loop_lock:
        if _loop is None or _loop.is_closed():
            loop = asyncio.new_event_loop()
            ready = threading.Event()

            def serve() -> None:
                asyncio.set_event_loop(loop)
                loop.call_soon(ready.set)
                loop.run_forever()

            threading.Thread(target=serve, name="videogen-nb-loop", daemon=True).start()
            ready.wait()
            _loop = loop
        return _loop


def _on_thread_of(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False


class Client:
    """Blocking client: the same methods as ``AsyncClient``, callable from anywhere.

    >>> client = vg.Client()                                 # doctest: +SKIP
    >>> result = client.generate(vg.VideoRequest(model="kling-v1", prompt="a boat"))
    >>> run = client.compare(prompt="a boat", models=["kling-v1", "sora-2"])
    >>> run                                                  # live in a notebook
    """

    def __init__(self, base_url: str | None = None, api_key: str | None = None, **options: Any):
        self._loop = background_loop()

        async def build() -> AsyncClient:
            return AsyncClient(base_url, api_key, **options)

        self._async = self._call(build())
        _open_clients.add(self)

    def _call(self, coro: Coroutine[Any, Any, T]) -> T:
        if _on_thread_of(self._loop):
            coro.close()
            raise RuntimeError(
                "vg.Client was called from its own background loop; use vg.AsyncClient there"
            )
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        try:
            return future.result()
        except (KeyboardInterrupt, concurrent.futures.CancelledError):
            # An interrupted cell must not leave the coroutine running on the loop.
            future.cancel()
            raise

    @property
    def aclient(self) -> AsyncClient:
        """The ``AsyncClient`` underneath (lives on the background loop)."""
        return self._async

    @property
    def base_url(self) -> str:
        """The gateway's base URL."""
        return self._async.base_url

    @property
    def gateway(self) -> str:
        """The gateway's identity in the journal."""
        return self._async.gateway

    @property
    def dialect(self) -> str:
        """The wire format in use."""
        return self._async.dialect

    @property
    def journal(self) -> Journal | None:
        """The task journal, or None when disabled."""
        return self._async.journal

    @property
    def lanes(self) -> LaneSet:
        """The concurrency lanes of this client."""
        return self._async.lanes

    @property
    def output_dir(self) -> pathlib.Path:
        """Where downloaded videos go."""
        return self._async.output_dir

    def __repr__(self) -> str:
        return repr(self._async).replace("AsyncClient", "Client", 1)

    def submit(self, request: VideoRequest, **options: Any) -> Task:
        """Send a request; see ``AsyncClient.submit``."""
        return self._call(self._async.submit(request, **options))

    def retrieve(self, task: Task | str) -> Task:
        """Read a task's state; see ``AsyncClient.retrieve``."""
        return self._call(self._async.retrieve(task))

    def wait(self, task: Task | str, timeout: float | None = None) -> Task:
        """Poll until the task ends; see ``AsyncClient.wait``."""
        return self._call(self._async.wait(task, timeout))

    def download(self, task: Task | str, dest: str | os.PathLike[str] | None = None) -> pathlib.Path:
        """Fetch a completed task's video; see ``AsyncClient.download``."""
        return self._call(self._async.download(task, dest))

    def generate(self, request: VideoRequest, **options: Any) -> Result:
        """Submit, wait and download; see ``AsyncClient.generate``."""
        return self._call(self._async.generate(request, **options))

    def cancel(self, task: Task | str) -> Task | None:
        """Ask the gateway to cancel a task; see ``AsyncClient.cancel``."""
        return self._call(self._async.cancel(task))

    def models(self) -> list[str]:
        """The model ids the gateway lists."""
        return self._call(self._async.models())

    def run(self, requests: Iterable[VideoRequest], concurrency: int | None = None,
            **options: Any) -> Run:
        """Start many requests; returns a live ``Run`` at once (work goes on in the background)."""
        request_list = list(requests)

        async def start() -> Run:
            return self._async.run(request_list, concurrency, **options)

        return self._call(start())

    def compare(self, **options: Any) -> Run:
        """Every prompt x seed x model as a live grid; see ``AsyncClient.compare``."""

        async def start() -> Run:
            return self._async.compare(**options)

        return self._call(start())

    def resume(self, **options: Any) -> Run:
        """Finish what the journal has unfinished; see ``AsyncClient.resume``."""

        async def start() -> Run:
            return self._async.resume(**options)

        return self._call(start())

    def close(self) -> None:
        """Close the HTTP session (and the journal the client opened)."""
        _open_clients.discard(self)
        self._call(self._async.aclose())

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


@atexit.register
def _close_open_clients() -> None:
    loop = _loop
    if loop is None or loop.is_closed() or not loop.is_running():
        return
    for client in list(_open_clients):
        future = asyncio.run_coroutine_threadsafe(client.aclient.aclose(), loop)
        try:
            future.result(_EXIT_CLOSE_TIMEOUT)
        except Exception:  # exiting anyway; a stuck close must not hang the interpreter
            future.cancel()


def enable_nested_asyncio() -> None:
    """Let ``asyncio.run()`` work inside notebook cells (patches asyncio via nest-asyncio).

    Never done at import: patching asyncio changes it for every library in the kernel, so
    it is the user's explicit choice. ``vg.Client`` does not need it.
    """
    try:
        import nest_asyncio
    except ImportError as exc:
        raise ImportError(
            "enable_nested_asyncio() needs nest-asyncio: pip install 'videogen-nb[nested]'"
        ) from exc
    nest_asyncio.apply()
