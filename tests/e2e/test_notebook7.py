"""The quickstart in Notebook 7 (the ``notebook`` package), beside JupyterLab and Voila.

Notebook 7 is built from JupyterLab's pieces but is its own application: its own page per
notebook, its own set of Lab extensions (and its own ``@jupyter-notebook/*`` plugins), and
the same widget manager. This opens ``01_quickstart`` there, runs every cell with Notebook 7's
"Run All" command and checks what a user sees: the single result's video and the run's grid
load and play, every widget renders, and the page logs no error.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from harness import E2E, Notebook7Notebook, Server

pytestmark = pytest.mark.e2e

# Every <video> under a selector, as the page has it.
_JS_VIDEOS = """
(scope) => [...document.querySelectorAll(scope + ' video')].map((v) => ({
  readyState: v.readyState, width: v.videoWidth, height: v.videoHeight,
  paused: v.paused, time: v.currentTime, src: v.currentSrc, error: v.error && v.error.code,
}))
"""
# What a widget that failed to render leaves in the page (ipywidgets' and anywidget's words).
WIDGET_FAILURES = ("Error displaying widget", "model not found")

# Notebook 7's own start-up race (jupyter/notebook#7862: its shortcuts plugin reads
# ``registry.plugins[shortcuts.id].schema`` before that plugin's settings are loaded). It is
# thrown from Notebook 7's core bundle while the page loads, and tolerated only from there.
_UPSTREAM_MESSAGE = "Cannot read properties of undefined (reading 'schema')"
_UPSTREAM_BUNDLE = "/static/notebook/notebook_core."


def is_upstream_race(error: Any) -> bool:
    """True for Notebook 7's own start-up error, judged by its message and where it threw."""
    frames = [line for line in (error.stack or "").splitlines() if line.strip().startswith("at ")]
    return error.message == _UPSTREAM_MESSAGE and bool(frames) and _UPSTREAM_BUNDLE in frames[0]


@pytest.fixture
def open_in_notebook7(e2e: E2E, notebook7: Server) -> Iterator[Callable[[str], Notebook7Notebook]]:
    """``open_in_notebook7(name)``: that notebook open in Notebook 7; kernels end afterwards."""
    opened: list[Notebook7Notebook] = []
    e2e.servers.append(notebook7)

    def open_(name: str) -> Notebook7Notebook:
        notebook = Notebook7Notebook(e2e, notebook7, name).open()
        opened.append(notebook)
        return notebook

    yield open_
    if opened:
        opened[0].shutdown()


def wait_videos(page: Any, scope: str, count: int) -> list[dict[str, Any]]:
    """Wait until ``scope`` holds ``count`` videos, each with a decoded frame."""
    page.wait_for_function(
        f"([scope, n]) => {{ const vs = ({_JS_VIDEOS})(scope);"
        " return vs.length === n && vs.every((v) => v.readyState >= 2 && v.width > 0); }",
        arg=[scope, count],
        timeout=60_000,
    )
    shown: list[dict[str, Any]] = page.evaluate(_JS_VIDEOS, scope)
    return shown


def test_quickstart_runs_and_its_videos_play_in_notebook7(
    open_in_notebook7: Callable[[str], Notebook7Notebook], e2e: E2E
) -> None:
    """Run All on 01_quickstart in Notebook 7: the result's video and the run's grid load
    (readyState >= 2) and play (currentTime advances); the Studio renders; no widget failed
    and the console shows no error."""
    page = e2e.page
    thrown: list[Any] = []  # uncaught errors with their stacks (e2e.errors keeps the message)
    page.on("pageerror", lambda error: thrown.append(error))
    nb = open_in_notebook7("01_quickstart.ipynb")
    # Notebook 7's application, not JupyterLab's, is what runs the page.
    assert page.evaluate("() => window.jupyterapp.name") == "Jupyter Notebook"
    nb.run_all(timeout=120)
    e2e.step("ran-all")

    page.locator(".vg-studio").wait_for(state="visible")
    grid = wait_videos(page, ".vgg", 2)
    e2e.step("grid", focus=".vgg")
    assert all(v["error"] is None for v in grid), grid
    # the single result's video (vg.show) loads from the server too
    single = page.evaluate(_JS_VIDEOS, ".vg-result")
    assert single, "the quickstart's result shows no <video>"
    page.wait_for_function(
        f"() => ({_JS_VIDEOS})('.vg-result').every((v) => v.readyState >= 2 && v.width > 0)",
        timeout=30_000,
    )

    start = [v["time"] for v in grid]
    page.locator(".vgg .vgg-play").first.click()
    page.wait_for_function(
        f"(t0) => ({_JS_VIDEOS})('.vgg').every((v, i) => !v.paused && v.time > t0[i] + 0.3)",
        arg=start,
    )
    e2e.step("playing", focus=".vgg")

    text = page.locator("body").inner_text()
    failed = [words for words in WIDGET_FAILURES if words in text]
    assert not failed, f"a widget failed to render in Notebook 7: {failed}"
    logged = [line for line in e2e.errors if not line.startswith("page error: ")]
    uncaught = [f"{e.message}\n{e.stack}" for e in thrown if not is_upstream_race(e)]
    assert not logged and not uncaught, logged + uncaught
