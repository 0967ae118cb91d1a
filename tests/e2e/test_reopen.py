"""A notebook saved from JupyterLab and reopened once its kernel is gone (issue 15).

JupyterLab renders a widget output whose model is missing as "Error displaying widget:
model not found" and never falls back to the output's HTML; so every grid, run view and
Studio is shown as two outputs, the widget and a fallback of posters that a small style
shows only when the widget cannot (``display/static_grid.py``). These tests run a notebook
in Lab, save it from Lab (``docmanager:save``: Lab signs it, so it is trusted when
reopened), end its kernel, reopen it in a fresh page without running anything, and check
what a user sees: posters, the run's final table, and no "model not found" anywhere.
"""

from __future__ import annotations

import json
import pathlib
import shutil
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from harness import LabNotebook, Server

pytestmark = pytest.mark.e2e

WIDGETS_PLUGIN = "@jupyter-widgets/jupyterlab-manager:plugin"

# What the page shows of our outputs: each fallback (shown or not, its posters and their
# decoded size, its text), each widget output, and every element that says
# "model not found" with whether it is visible.
_JS_SHOWN = """
() => {
  const visible = (e) => e.getClientRects().length > 0;
  const fallbacks = [...document.querySelectorAll('.vg-fallback')].map((f) => ({
    visible: visible(f),
    text: f.innerText,
    posters: [...f.querySelectorAll('img')].map((i) => ({
      visible: visible(i), width: i.naturalWidth, complete: i.complete })),
  }));
  const errors = [...document.querySelectorAll('.jp-OutputArea-output')]
    .filter((e) => e.textContent.includes('model not found'))
    .map((e) => visible(e));
  const notes = [...document.querySelectorAll('.vgg-offline')].map((e) => visible(e));
  const players = [...document.querySelectorAll('.vgg video')].filter(visible).length;
  const loading = [...document.querySelectorAll('.jp-OutputArea-output')]
    .filter((e) => e.textContent.trim() === 'Loading widget...').length;
  return { fallbacks, errors, notes, players, loading };
}
"""


def _save(page: Any) -> None:
    """Save the notebook as a user does (Ctrl+S is ``docmanager:save``) and wait for it."""
    page.evaluate("async () => { await window.jupyterapp.commands.execute('docmanager:save'); }")


def _reopen(nb: LabNotebook, e2e: Any) -> Any:
    """End every kernel, then open the saved notebook in a fresh page (a new workspace),
    without running anything; returns what the page shows once its widgets settled."""
    nb.shutdown()
    page = e2e.page
    page.goto("about:blank")
    page.goto(nb.server.url(f"/lab/workspaces/reopen{id(nb) % 10_000}/tree/{nb.name}"))
    page.wait_for_selector(".vg-fallback", state="attached", timeout=60_000)
    # settled: Lab's widget manager restored what it could (nothing says "Loading widget...")
    page.wait_for_function(f"() => ({_JS_SHOWN})().loading === 0", timeout=30_000)
    e2e.step("reopened")
    return page.evaluate(_JS_SHOWN)


def _copy(e2e_root: pathlib.Path, name: str) -> str:
    """A copy of the server's notebook ``name`` for this test (saving it with outputs must
    not change what the other browser tests open)."""
    copy = f"reopen_{name}"
    shutil.copyfile(e2e_root / "lab" / name, e2e_root / "lab" / copy)
    return copy


def _file(server: Server, name: str) -> dict[str, Any]:
    with urllib.request.urlopen(server.url(f"/api/contents/{name}?content=1"), timeout=10) as r:
        return dict(json.loads(r.read())["content"])


@pytest.fixture
def save_widget_state(jupyter_lab: Server) -> Iterator[None]:
    """Lab's "Save Jupyter widget state in notebook" on (it is off by default), for one test."""

    def put(raw: dict[str, Any]) -> None:
        body = json.dumps({"raw": json.dumps(raw)}).encode()
        request = urllib.request.Request(
            jupyter_lab.url(f"/lab/api/settings/{WIDGETS_PLUGIN}"), data=body, method="PUT"
        )
        request.add_header("Content-Type", "application/json")
        urllib.request.urlopen(request, timeout=10).close()

    put({"saveState": True})
    try:
        yield
    finally:
        put({})


def test_reopened_quickstart_shows_posters_not_model_not_found(
    open_notebook: Any, e2e: Any, e2e_root: pathlib.Path
) -> None:
    """Default settings (no widget state in the file): the Studio's and the run's fallbacks
    show, the run's with its final table and its two posters; Lab's error line is hidden."""
    nb: LabNotebook = open_notebook(_copy(e2e_root, "01_quickstart.ipynb"))
    nb.run_all()
    live = e2e.page.evaluate(_JS_SHOWN)
    # alive, the widgets show and their fallbacks do not
    assert live["fallbacks"] and not any(f["visible"] for f in live["fallbacks"]), live
    _save(e2e.page)
    saved = _file(nb.server, nb.name)
    assert "widgets" not in saved["metadata"]  # Lab's default: no widget state saved

    shown = _reopen(nb, e2e)
    assert shown["errors"], "Lab did not even try the widgets: nothing was checked"
    assert not any(shown["errors"]), f"'model not found' is visible: {shown}"
    fallbacks = shown["fallbacks"]
    # the two generate() views, the Studio and the compare run: each shows its fallback
    assert len(fallbacks) == len(shown["errors"]) == 4, shown
    assert all(f["visible"] for f in fallbacks), shown
    assert "Studio" in fallbacks[2]["text"]
    run = fallbacks[3]
    assert "2/2 done" in run["text"], run["text"]  # the final table, not the first moment's
    posters = run["posters"]
    assert len(posters) == 2 and all(p["visible"] and p["width"] > 0 for p in posters), posters
    e2e.step("posters", focus=".vg-fallback img")


@pytest.mark.usefixtures("save_widget_state")
def test_reopened_with_saved_widget_state_shows_posters_not_empty_players(
    open_notebook: Any, e2e: Any, e2e_root: pathlib.Path
) -> None:
    """Widget state saved: Lab restores the grid's model from the file, with no kernel
    behind it; the grid says so in one line and its posters show instead of players."""
    nb: LabNotebook = open_notebook(_copy(e2e_root, "e2e_grid.ipynb"))
    nb.run_all()
    e2e.page.wait_for_selector(".vgg video")
    _save(e2e.page)
    assert "widgets" in _file(nb.server, nb.name)["metadata"]

    _reopen(nb, e2e)
    # the grid found no kernel behind its model: it marks itself (and its output is hidden)
    e2e.page.wait_for_selector(".vgg-offline", state="attached", timeout=30_000)
    shown = e2e.page.evaluate(_JS_SHOWN)
    assert not any(shown["errors"]) and shown["players"] == 0, shown
    assert shown["notes"] == [False], shown
    (fallback,) = shown["fallbacks"]
    assert fallback["visible"] and len(fallback["posters"]) == 3, shown
    assert all(p["width"] > 0 for p in fallback["posters"]), fallback
    e2e.step("posters", focus=".vg-fallback img")
