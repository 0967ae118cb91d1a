"""Doing the Studio's work on its client's event loop, whichever client it holds.

Both clients say which loop their work runs on (``client.loop``) and hand out the
``AsyncClient`` underneath (``client.aclient``), so the Studio never asks which kind it has.
A widget callback runs on the kernel's thread: that is the loop of an ``AsyncClient`` built
in a notebook (call it directly; never block it), and another thread for the blocking
``Client``'s background loop (hand the work over and wait for it).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeAlias, TypeVar

from ..client.async_client import AsyncClient
from ..client.sync_client import Client
from ..core.errors import ValidationError, VideoGenError
from ..core.loops import running_loop, running_on

__all__ = ["LAUNCH_TIMEOUT", "AnyClient", "call_on_loop", "list_models"]

T = TypeVar("T")

#: either client; the Studio uses only what both have (``loop``, ``aclient``, ``base_url``)
AnyClient: TypeAlias = Client | AsyncClient
#: how long a click waits for the client's loop to start a run (it returns at once)
LAUNCH_TIMEOUT = 60.0

#: what ``list_models`` reports: the gateway's model names (None when it listed none) and
#: a note for the user (None when all went well)
ModelsCallback: TypeAlias = Callable[[list[str] | None, str | None], None]


def client_loop(client: AnyClient) -> asyncio.AbstractEventLoop | None:
    """The loop ``client`` works on; an ``AsyncClient`` not yet tied to one takes the loop
    running here (the first loop to use it becomes its own)."""
    return client.loop or running_loop()


def call_on_loop(client: AnyClient, work: Callable[[AsyncClient], T]) -> T:
    """``work(client.aclient)`` done on the client's loop, from any thread; its result.

    Raises ``ValidationError`` (field ``general``) when that loop is not running, as with an
    ``AsyncClient`` used outside any event loop.
    """
    loop = client_loop(client)
    if running_on(loop):
        return work(client.aclient)
    if loop is not None and loop.is_running():

        async def call() -> T:
            return work(client.aclient)

        return asyncio.run_coroutine_threadsafe(call(), loop).result(LAUNCH_TIMEOUT)
    raise ValidationError(
        "general",
        "vg.AsyncClient needs its event loop running to start a run; in a notebook use "
        "vg.Client, or build the Studio inside a running loop",
    )


def list_models(client: AnyClient, report: ModelsCallback) -> asyncio.Task[None] | None:
    """Ask the gateway for its models and ``report`` them.

    On the client's own loop the listing is scheduled and its task returned (await it to
    wait for the report); from another thread it is done at once and None returned.
    """
    loop = client_loop(client)
    aclient = client.aclient
    if running_on(loop):
        assert loop is not None

        async def fetch_and_report() -> None:
            report(*await _fetch_models(aclient))

        return loop.create_task(fetch_and_report())
    if loop is None or not loop.is_running():
        report(None, "no running loop to ask the gateway for models")
        return None
    # Fetched there, reported here: the widgets are written from the caller's thread.
    report(*asyncio.run_coroutine_threadsafe(_fetch_models(aclient), loop).result())
    return None


async def _fetch_models(client: AsyncClient) -> tuple[list[str] | None, str | None]:
    try:
        return await client.models(), None
    except VideoGenError as exc:
        return None, f"the gateway lists no models: {exc}"
