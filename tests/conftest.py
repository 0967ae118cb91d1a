"""Shared fixtures: a real sandbox gateway on 127.0.0.1 and fast clients pointed at it."""

from __future__ import annotations

import asyncio
import pathlib
import time
import warnings
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

import videogen_nb as vg
from videogen_nb.catalog import CatalogWarning
from videogen_nb.retry import RetryPolicy

#: polls fast enough for sub-second sandbox tasks, still shaped by the real policy
FAST_POLL = vg.PollPolicy(min_delay=0.05, max_delay=0.5, fine_interval=0.05, fine_window=0.2)
#: retries fast enough for tests (the 429 tests use the server's own Retry-After)
FAST_RETRY = RetryPolicy(base_delay=0.02, max_delay=0.2, jitter=0.0)


@pytest.fixture(autouse=True)
def _quiet_catalog() -> Iterator[None]:
    # Tiny test videos (160x90, 1 s) are outside what real models accept: the catalog says
    # so on every request, which is right for users and noise here.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CatalogWarning)
        yield


def small(prompt: str = "a paper boat in the rain", model: str = "kling-v1", **fields: Any) -> vg.VideoRequest:
    """A request for a tiny, quick video."""
    fields.setdefault("size", "160x90")
    fields.setdefault("duration", 1)
    return vg.VideoRequest(model=model, prompt=prompt, **fields)


@pytest.fixture
def make_sandbox() -> Iterator[Callable[..., Any]]:
    """``make_sandbox(**behaviour)`` starts a sandbox (short tasks by default); all stop after."""
    handles: list[Any] = []

    def make(**behaviour: Any) -> Any:
        behaviour.setdefault("task_seconds", 0.3)
        handle = vg.sandbox.start(**behaviour)
        handles.append(handle)
        return handle

    yield make
    for handle in handles:
        handle.stop()


@pytest.fixture
def sandbox(make_sandbox: Callable[..., Any]) -> Any:
    """One default sandbox (0.3 s tasks)."""
    return make_sandbox()


@pytest.fixture
def client_options(tmp_path: pathlib.Path) -> dict[str, Any]:
    """Options for a test client: its own journal and output directory, fast policies."""
    return {
        "journal": tmp_path / "journal.sqlite",
        "output_dir": tmp_path / "videos",
        "poll": FAST_POLL,
        "retry": FAST_RETRY,
        "timeout": 10.0,
        "task_timeout": 30.0,
    }


@pytest.fixture
async def make_client(client_options: dict[str, Any]) -> AsyncIterator[Callable[..., vg.AsyncClient]]:
    """``make_client(sandbox, **options)``: an ``AsyncClient`` on the test's loop, closed after."""
    clients: list[vg.AsyncClient] = []

    def make(sb: Any, **options: Any) -> vg.AsyncClient:
        merged = {**client_options, **options}
        client = vg.AsyncClient(sb.base_url, merged.pop("api_key", sb.api_key), **merged)
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()


def decode_video(path: str | pathlib.Path) -> dict[str, Any]:
    """Decode every frame with PyAV: frame count, width, height."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = 0
        width = height = 0
        for frame in container.decode(stream):
            frames += 1
            width, height = frame.width, frame.height
    return {"frames": frames, "width": width, "height": height}


async def wait_for(predicate: Callable[[], bool], timeout: float = 10.0, interval: float = 0.02) -> None:
    """Wait (bounded) until ``predicate()`` is true."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(interval)


def wait_for_sync(predicate: Callable[[], bool], timeout: float = 10.0, interval: float = 0.02) -> None:
    """Blocking ``wait_for`` for code outside an event loop."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)


def post_count(sb: Any) -> int:
    """Submit POSTs the sandbox received (both routes)."""
    requests = sb.stats(include_tasks=False)["requests"]
    return sum(n for route, n in requests.items() if route.startswith("POST /v1/"))


def get_count(sb: Any, prefix: str = "GET /v1/") -> int:
    """GETs the sandbox received on routes starting with ``prefix``."""
    requests = sb.stats(include_tasks=False)["requests"]
    return sum(n for route, n in requests.items() if route.startswith(prefix))
