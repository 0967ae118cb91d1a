"""The blocking ``Client`` is the typed twin of ``AsyncClient``: same methods, parameters and
docstrings (so Shift-Tab in Jupyter, ``help()`` and type checkers see real parameters)."""

from __future__ import annotations

import asyncio
import inspect
import pydoc
from typing import Any

import pytest

import videogen_nb as vg
from videogen_nb.client.sync_client import RUN_LAYER_HOOKS, background_loop
from videogen_nb.tasks.task_client import TaskClient

#: AsyncClient names whose blocking twin is spelled differently
RENAMED = {"aclose": "close"}


def _public_methods(cls: type) -> list[str]:
    return sorted(
        name
        for name, value in inspect.getmembers(cls)
        if not name.startswith("_") and callable(value) and not isinstance(value, type)
    )


def _parameters(function: Any) -> list[tuple[str, Any, Any, Any]]:
    """Each parameter as (name, kind, default, annotation): what must agree."""
    return [
        (p.name, p.kind, p.default, p.annotation)
        for p in inspect.signature(function).parameters.values()
    ]


def test_every_public_async_method_has_a_blocking_twin() -> None:
    missing = [
        name
        for name in _public_methods(vg.AsyncClient)
        if name not in RUN_LAYER_HOOKS and not hasattr(vg.Client, RENAMED.get(name, name))
    ]
    assert not missing, f"AsyncClient methods without a twin on Client: {missing}"
    # The hooks left out are real methods (a renamed or removed one must leave the list too).
    assert set(_public_methods(vg.AsyncClient)) >= RUN_LAYER_HOOKS


@pytest.mark.parametrize(
    "name", [n for n in _public_methods(vg.AsyncClient) if n not in RUN_LAYER_HOOKS]
)
def test_twin_has_the_same_parameters_and_a_docstring(name: str) -> None:
    async_method = getattr(vg.AsyncClient, name)
    twin = getattr(vg.Client, RENAMED.get(name, name))
    assert _parameters(twin) == _parameters(async_method)
    assert (
        inspect.signature(twin).return_annotation
        == inspect.signature(async_method).return_annotation
    )
    assert inspect.getdoc(twin), f"Client.{twin.__name__} has no docstring"
    # The twin blocks: it is a plain function, never a coroutine function.
    assert not inspect.iscoroutinefunction(twin)


def test_constructors_take_the_same_parameters() -> None:
    assert _parameters(vg.Client.__init__) == _parameters(vg.AsyncClient.__init__)
    # AsyncClient spells out TaskClient's options instead of hiding them in **options.
    async_params = {p[0]: p for p in _parameters(vg.AsyncClient.__init__)}
    for param in _parameters(TaskClient.__init__):
        assert async_params.get(param[0]) == param, f"AsyncClient.__init__ lost {param[0]}"
    kinds = {p[1] for p in async_params.values()}
    assert inspect.Parameter.VAR_KEYWORD not in kinds


def test_shift_tab_and_help_show_real_parameters() -> None:
    for method in (vg.Client.submit, vg.Client.run, vg.Client.generate, vg.Client.resume):
        params = inspect.signature(method).parameters.values()
        assert not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params), method
    compare = inspect.signature(vg.Client.compare).parameters
    assert {"prompt", "models", "seed", "timeout", "max_tasks"} <= set(compare)
    assert "retry_unknown" in inspect.signature(vg.Client.resume).parameters
    assert "force" in inspect.signature(vg.Client.generate).parameters
    text = pydoc.render_doc(vg.Client, renderer=pydoc.plaintext)
    assert "submit(self, request: 'VideoRequest', *, run_id: 'str | None' = None)" in text
    assert "max_tasks: 'int | None' = None" in text  # the constructor, not (**options)
    assert "(**options)" not in text


def test_twins_run_on_the_background_loop_and_return_plain_values(tmp_path: Any) -> None:
    # No gateway needed: these twins read the catalog and the journal only.
    with vg.Client("http://127.0.0.1:9", "k", journal=tmp_path / "j.sqlite") as client:
        assert client.loop is background_loop()
        assert client.aclient.loop is client.loop  # the AsyncClient was built on that loop
        request = vg.VideoRequest(model="kling-v1", prompt="a boat")
        assert client.cached_result(request) is None
        seconds = client.typical_seconds("kling-v1")
        assert seconds is None or seconds > 0
        assert client.typical_seconds(None) is None


async def test_async_client_learns_its_loop() -> None:
    client = vg.AsyncClient("http://127.0.0.1:9", "k", journal=None)
    try:
        assert client.loop is asyncio.get_running_loop()
        assert client.aclient is client
    finally:
        await client.aclose()


def test_async_client_built_outside_a_loop_has_none_until_used() -> None:
    client = vg.AsyncClient("http://127.0.0.1:9", "k", journal=None)
    assert client.loop is None
    asyncio.run(client.aclose())


def test_blocking_twin_refuses_its_own_loop() -> None:
    client = vg.Client("http://127.0.0.1:9", "k", journal=None)
    try:

        async def inside() -> None:
            client.models()

        future = asyncio.run_coroutine_threadsafe(inside(), client.loop)
        with pytest.raises(RuntimeError, match="own background loop"):
            future.result(10)
    finally:
        client.close()
