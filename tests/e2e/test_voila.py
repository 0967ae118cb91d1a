"""The comparison notebook served as an app by Voila: the grid is there and plays."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.e2e

# The videos of the first comparison grid on the page.
_JS_FIRST_GRID = """
() => {
  const grid = document.querySelector('.vgg');
  return grid ? [...grid.querySelectorAll('video')].map((v) => ({
    readyState: v.readyState, width: v.videoWidth, paused: v.paused, time: v.currentTime,
  })) : [];
}
"""


def test_voila_renders_the_comparison_and_the_grid_plays(voila_server: Any, e2e: Any) -> None:
    page = e2e.page
    server = voila_server("02_model_comparison.ipynb")
    e2e.servers.append(server)
    # Voila runs the whole notebook (six generations, the report) before it sends the page.
    page.goto(server.url("/"), timeout=180_000)
    page.wait_for_function(
        f"() => {{ const vs = ({_JS_FIRST_GRID})();"
        " return vs.length === 6 && vs.every((v) => v.readyState >= 2 && v.width > 0); }",
        timeout=120_000,
    )
    e2e.step("app", focus=".vgg")
    assert page.locator(".vgg").count() >= 2  # the run's own grid, and the blind one at least
    assert page.get_by_text("Traceback").count() == 0

    start = [v["time"] for v in page.evaluate(_JS_FIRST_GRID)]
    page.locator(".vgg .vgg-play").first.click()
    page.wait_for_function(
        f"(t0) => ({_JS_FIRST_GRID})().every((v, i) => !v.paused && v.time > t0[i] + 0.3)",
        arg=start,
    )
    e2e.step("playing", focus=".vgg")
    assert not e2e.errors, e2e.errors
