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
import functools
import os
import pathlib
import threading
import weakref
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from typing import Any, Concatenate, ParamSpec, TypeVar

from ..core.loops import running_on
from ..core.request import VideoRequest
from ..core.task import Result
from ..dialects import Dialect
from ..http.retry import RetryPolicy
from ..run.lanes import DEFAULT_GATEWAY_CONCURRENCY, LaneSet
from ..store.journal import Journal
from ..tasks.polling import PollPolicy
from ..tasks.recorder import DEFAULT
from .async_client import AsyncClient

__all__ = ["RUN_LAYER_HOOKS", "Client", "background_loop", "enable_nested_asyncio"]

T = TypeVar("T")
P = ParamSpec("P")

#: public ``AsyncClient`` methods with no blocking twin: the run layer hands journal entries
#: and follow state through them on the client's own loop; from another thread they mean
#: nothing (tests/test_client_twins.py checks every other public method has a twin)
RUN_LAYER_HOOKS = frozenset(
    {"submit_entry", "following", "track_entry", "record_request", "record_requests"}
)

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


def _twin(method: Callable[..., Any], twin: Callable[..., Any]) -> None:
    """Give ``twin`` the name, docstring and signature of ``method``.

    ``functools.wraps`` sets ``__wrapped__``, which ``inspect.signature`` (and so ``help()``
    and Jupyter's Shift-Tab) follows to the ``AsyncClient`` method's real parameters.
    """
    functools.update_wrapper(twin, method)
    twin.__qualname__ = f"Client.{method.__name__}"
    twin.__module__ = __name__


def _blocking(
    method: Callable[Concatenate[AsyncClient, P], Awaitable[T]],
) -> Callable[Concatenate[Client, P], T]:
    """The blocking twin of a coroutine method: run it on the background loop, return its value."""

    def twin(self: Client, /, *args: P.args, **kwargs: P.kwargs) -> T:
        async def call() -> T:
            return await method(self._async, *args, **kwargs)

        return self._call(call())

    _twin(method, twin)
    return twin


def _on_loop(
    method: Callable[Concatenate[AsyncClient, P], T],
) -> Callable[Concatenate[Client, P], T]:
    """The twin of a plain method that must run on the client's loop (``run`` starts tasks
    there and returns at once; the work goes on in the background)."""

    def twin(self: Client, /, *args: P.args, **kwargs: P.kwargs) -> T:
        async def call() -> T:
            return method(self._async, *args, **kwargs)

        return self._call(call())

    _twin(method, twin)
    return twin


class Client:
    """Blocking client: the same methods as ``AsyncClient``, callable from anywhere.

    >>> client = vg.Client()                                 # doctest: +SKIP
    >>> result = client.generate(vg.VideoRequest(model="kling-v1", prompt="a boat"))  # doctest: +SKIP
    >>> run = client.compare(prompt="a boat", models=["kling-v1", "sora-2"])  # doctest: +SKIP
    >>> run  # live in a notebook                            # doctest: +SKIP

    The parameters are those of ``AsyncClient`` (see ``help(vg.AsyncClient)``); each method
    is its ``AsyncClient`` namesake run on the background loop, returning the value itself.
    """

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        *,
        dialect: str | Dialect = "auto",
        journal: Journal | str | os.PathLike[str] | None = DEFAULT,
        output_dir: str | os.PathLike[str] | None = None,
        timeout: float = 60.0,
        task_timeout: float | None = 30 * 60.0,
        poll: PollPolicy | None = None,
        retry: RetryPolicy | None = None,
        max_download_bytes: int = 2 * 1024**3,
        verify_ssl: bool = True,
        allow_private_downloads: bool | None = None,
        concurrency: int = DEFAULT_GATEWAY_CONCURRENCY,
        model_concurrency: int | Mapping[str, int] | None = None,
        max_tasks: int | None = None,
        max_cost: float | None = None,
    ) -> None:
        # The same parameters as AsyncClient.__init__, written out for Shift-Tab and type
        # checkers; tests/test_client_twins.py checks the two agree.
        options: dict[str, Any] = {
            "dialect": dialect,
            "journal": journal,
            "output_dir": output_dir,
            "timeout": timeout,
            "task_timeout": task_timeout,
            "poll": poll,
            "retry": retry,
            "max_download_bytes": max_download_bytes,
            "verify_ssl": verify_ssl,
            "allow_private_downloads": allow_private_downloads,
            "concurrency": concurrency,
            "model_concurrency": model_concurrency,
            "max_tasks": max_tasks,
            "max_cost": max_cost,
        }
        self._loop = background_loop()

        async def build() -> AsyncClient:
            return AsyncClient(base_url, api_key, **options)

        self._async = self._call(build())
        _open_clients.add(self)

    def _call(self, coro: Coroutine[Any, Any, T]) -> T:
        if running_on(self._loop):
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
    def loop(self) -> asyncio.AbstractEventLoop:
        """The event loop this client works on: the toolkit's background loop."""
        return self._loop

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

    @property
    def max_cost(self) -> float | None:
        """What this client may spend in all (None: no limit); settable."""
        return self._async.max_cost

    @max_cost.setter
    def max_cost(self, value: float | None) -> None:
        self._async.max_cost = value

    @property
    def spent(self) -> float:
        """What this client has spent since it was made (see ``AsyncClient.spent``)."""
        return self._call(_read_spent(self._async))

    def __repr__(self) -> str:
        return repr(self._async).replace("AsyncClient", "Client", 1)

    # One task (coroutines on AsyncClient, run to their end here).
    submit = _blocking(AsyncClient.submit)
    retrieve = _blocking(AsyncClient.retrieve)
    wait = _blocking(AsyncClient.wait)
    download = _blocking(AsyncClient.download)
    _generate = _blocking(AsyncClient.generate)
    cancel = _blocking(AsyncClient.cancel)
    models = _blocking(AsyncClient.models)
    # Many tasks: start on the loop and return the live Run at once.
    run = _on_loop(AsyncClient.run)
    compare = _on_loop(AsyncClient.compare)
    resume = _on_loop(AsyncClient.resume)
    remix = _on_loop(AsyncClient.remix)
    plan = _on_loop(AsyncClient.plan)
    # What the journal knows (read on the loop's thread, where the journal is used).
    cached_result = _on_loop(AsyncClient.cached_result)
    typical_seconds = _on_loop(AsyncClient.typical_seconds)

    def generate(
        self,
        request: VideoRequest,
        *,
        force: bool = False,
        timeout: float | None = None,
        dest: str | os.PathLike[str] | None = None,
        max_cost: float | None = None,
    ) -> Result:
        """Submit, wait and download in one call (see ``AsyncClient.generate``).

        In a notebook the task shows as one live row of the run table while it works
        (minutes on a real gateway); a script stays silent. Raises what stopped it.
        ``max_cost`` refuses a request estimated above it before anything is sent.
        """
        if dest is not None or not _notebook_display():
            return self._generate(
                request, force=force, timeout=timeout, dest=dest, max_cost=max_cost
            )
        run = self.run([request], force=force, timeout=timeout, max_tasks=1, max_cost=max_cost)
        run.show(view="table")
        try:
            run.wait()
        except KeyboardInterrupt:
            run.cancel()
            raise
        row = run.rows[0]
        if row.error is not None:
            raise row.error
        return run.results[0]

    def close(self) -> None:
        """Close the HTTP session (and the journal, when the client opened it)."""
        _open_clients.discard(self)
        self._call(self._async.aclose())

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


async def _read_spent(client: AsyncClient) -> float:
    # on the loop's thread, where the journal is used
    return client.spent


def _notebook_display() -> bool:
    """True inside a Jupyter kernel (an IPython shell with a front end to draw on)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


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
