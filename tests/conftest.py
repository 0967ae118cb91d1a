"""Shared fixtures: a real sandbox gateway on 127.0.0.1 and fast clients pointed at it."""

from __future__ import annotations

import pathlib
import warnings
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

import videogen_nb as vg
from tests.support import FAST_POLL, FAST_RETRY
from videogen_nb.store.catalog import CatalogWarning


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the browser suite last. Playwright's sync API keeps an event loop running on the
    main thread while it is open, which no asyncio test may share; its fixtures are scoped
    to the e2e package, so ordering it last also lets it finish cleanly on its own."""
    items.sort(key=lambda item: item.get_closest_marker("e2e") is not None)


@pytest.fixture(autouse=True)
def _quiet_catalog() -> Iterator[None]:
    # Tiny test videos (160x90, 1 s) are outside what real models accept: the catalog says
    # so on every request, which is right for users and noise here.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CatalogWarning)
        yield


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
async def make_client(
    client_options: dict[str, Any],
) -> AsyncIterator[Callable[..., vg.AsyncClient]]:
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
