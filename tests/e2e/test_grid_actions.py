"""The grid's own controls in JupyterLab: one unmuted cell at a time, a frame counter with
step buttons, a viewer that keeps the grid whole and stays in step, an A/B wipe, and the
cell menu's re-run, remix and favourite reaching Python (new runs on the sandbox)."""

from __future__ import annotations

import json
import math
import pathlib
import re
from typing import Any

import nbformat
import pytest
from harness import LabNotebook, wait_until

pytestmark = pytest.mark.e2e

NOTEBOOK = "e2e_grid_actions.ipynb"
#: models whose small sizes the openai dialect lets through (sora-2 takes only its own sizes)
GRID_MODELS = ["kling-v3-std-silent", "veo_3_1-fast", "kling-v1"]
PROMPT = "e2e: actions"
CELLS = [
    # the openai dialect has remix (POST /v1/videos/{id}/remix); the sandbox speaks it
    "import json, videogen_nb as vg\nclient = vg.Client(dialect='openai')",
    f"run = client.compare(prompt={PROMPT!r}, models={GRID_MODELS!r}, size='320x180', duration=2)\n"
    "run.wait(120)\n"
    "assert all(r.ok for r in run.results), run.results",
    "grid = vg.ComparisonGrid(run.results, client=client)\ngrid",
    "print(json.dumps({'fps': grid.fps, 'favourites': grid.favourites,\n"
    "                  'spawned': [[r.request.prompt, r.request.remix_of, r.ok]\n"
    "                              for s in grid.spawned for r in s.results],\n"
    "                  'origins': [r.task.id for r in run.results]}))",
]

_JS_GRID_VIDEOS = """
() => [...document.querySelectorAll('.vgg-table video')].map((v) => ({
  muted: v.muted, time: v.currentTime, seeking: v.seeking, ready: v.readyState,
  w: v.getBoundingClientRect().width,
}))
"""
_JS_ALL_SETTLED = """
() => [...document.querySelectorAll('.vgg video')].every((v) => !v.seeking && v.readyState >= 2)
"""


def _write(root: pathlib.Path) -> None:
    nb = nbformat.v4.new_notebook()
    nb.metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}
    }
    nb.cells = [nbformat.v4.new_code_cell(src) for src in CELLS]
    nbformat.write(nb, root / NOTEBOOK)


def _frame(page: Any, scope: str = ".vgg-bar") -> tuple[int, int]:
    text = page.locator(f"{scope} .vgg-frame").inner_text()
    match = re.fullmatch(r"frame (\d+) / (\d+)", text.strip())
    assert match, text
    return int(match[1]), int(match[2])


def _frames_shown(page: Any, fps: float) -> set[int]:
    """The frame index every video of the page (grid and viewer) is on."""
    page.wait_for_function(_JS_ALL_SETTLED)
    times = page.evaluate(
        "() => [...document.querySelectorAll('.vgg video')].map((v) => v.currentTime)"
    )
    return {math.floor(t * fps + 1e-3) for t in times}


def _menu(page: Any, cell: int, action: str) -> None:
    page.locator(f'.vgg-cell[data-i="{cell}"] .vgg-more').click()
    page.locator(f'.vgg-cell[data-i="{cell}"] .vgg-menu .{action}').click()


def _report(nb: LabNotebook) -> dict[str, Any]:
    _ms, text = nb.run_cell(3)
    return dict(json.loads(text.strip().splitlines()[-1]))


def test_grid_sound_frames_viewer_wipe_and_actions(
    e2e_root: pathlib.Path, open_notebook: Any, e2e: Any, e2e_sandbox: Any
) -> None:
    _write(e2e_root / "lab")
    page = e2e.page
    nb = open_notebook(NOTEBOOK)
    nb.run_all()
    n = len(GRID_MODELS)
    page.wait_for_function(
        "(n) => { const vs = [...document.querySelectorAll('.vgg-table video')];"
        " return vs.length === n && vs.every((v) => v.readyState >= 2); }",
        arg=n,
    )
    fps = float(_report(nb)["fps"])
    assert fps > 0
    e2e.step("grid", focus=".vgg")

    # --- sound: one cell at a time, from its speaker button
    sound = page.locator(".vgg-table .vgg-sound")
    assert [v["muted"] for v in page.evaluate(_JS_GRID_VIDEOS)] == [True] * n
    sound.nth(0).click()
    sound.nth(1).click()
    muted = [v["muted"] for v in page.evaluate(_JS_GRID_VIDEOS)]
    assert muted == [True, False, True], muted
    assert sound.nth(1).get_attribute("aria-pressed") == "true"
    sound.nth(1).click()
    assert all(v["muted"] for v in page.evaluate(_JS_GRID_VIDEOS))

    # --- frame counter and step buttons: one frame each, every video on the same one
    assert _frame(page)[0] == 1
    page.locator(".vgg-bar .vgg-step-fwd").click()
    page.wait_for_function(
        "() => document.querySelector('.vgg-bar .vgg-frame').textContent.startsWith('frame 2 ')"
    )
    assert _frames_shown(page, fps) == {1}
    page.locator(".vgg-bar .vgg-step-fwd").click()
    page.locator(".vgg-bar .vgg-step-back").click()
    page.wait_for_function(_JS_ALL_SETTLED)
    assert _frame(page)[0] == 2 and _frames_shown(page, fps) == {1}
    e2e.step("stepped", focus=".vgg")

    # --- the viewer: controls, the prompt, next/previous, in step, no hole in the grid
    page.locator('.vgg-cell[data-i="0"] .vgg-enlarge').click()
    viewer = page.locator(".vgg-overlay .vgg-viewer")
    viewer.wait_for(state="visible")
    page.wait_for_function("() => document.querySelector('.vgg-viewer video').readyState >= 2")
    assert viewer.locator(".vgg-viewer-prompt").inner_text() == PROMPT
    for control in (".vgg-play", ".vgg-step-fwd", ".vgg-step-back", ".vgg-seek", ".vgg-sound"):
        assert viewer.locator(control).count() == 1, control
    grid_videos = page.evaluate(_JS_GRID_VIDEOS)
    assert len(grid_videos) == n and all(v["w"] > 100 for v in grid_videos)  # no hole
    first_title = viewer.locator(".vgg-viewer-title").inner_text()
    assert GRID_MODELS[0] in first_title
    viewer.locator(".vgg-step-fwd").click()
    page.wait_for_function(_JS_ALL_SETTLED)
    assert _frame(page, ".vgg-viewer")[0] == 3 and _frames_shown(page, fps) == {2}
    e2e.step("viewer")
    viewer.locator(".vgg-next").click()
    page.wait_for_function(
        "(m) => document.querySelector('.vgg-viewer-title').textContent.includes(m)",
        arg=GRID_MODELS[1],
    )
    page.wait_for_function("() => document.querySelector('.vgg-viewer video').readyState >= 2")
    assert _frames_shown(page, fps) == {2}  # the next video opens on the same frame
    page.keyboard.press("Escape")
    viewer.wait_for(state="detached")

    # --- the cell menu: download and open the file, copy the prompt or the request;
    # the whole prompt is a tooltip wherever it is cut
    page.locator('.vgg-cell[data-i="0"] .vgg-more').click()
    menu = page.locator('.vgg-cell[data-i="0"] .vgg-menu')
    download = menu.locator(".vgg-act-download")
    assert (download.get_attribute("href") or "").startswith("blob:")
    assert (download.get_attribute("download") or "").endswith(".mp4")
    assert menu.locator(".vgg-act-open").get_attribute("target") == "_blank"
    request = json.loads(menu.locator(".vgg-act-copy-request").get_attribute("title") or "{}")
    assert request["model"] == GRID_MODELS[0] and request["prompt"] == PROMPT
    assert menu.locator(".vgg-act-copy-prompt").count() == 1
    assert menu.locator(".vgg-act-remix").count() == 1
    e2e.step("menu", focus=".vgg")
    page.keyboard.press("Escape")
    menu.wait_for(state="detached")
    assert page.locator(".vgg-rowlabel").first.get_attribute("title") == PROMPT
    assert page.locator(".vgg-table video").first.get_attribute("title") == PROMPT

    # --- A/B wipe of two cells
    _menu(page, 0, "vgg-act-wipe")
    _menu(page, 2, "vgg-act-wipe")
    wipe = page.locator(".vgg-overlay .vgg-wipe")
    wipe.wait_for(state="visible")
    assert wipe.locator("video").count() == 2
    page.wait_for_function(
        "() => [...document.querySelectorAll('.vgg-wipe video')].every((v) => v.readyState >= 2)"
    )
    wipe.locator(".vgg-wipe-pos").evaluate(
        "(e) => { e.value = '25'; e.dispatchEvent(new Event('input', {bubbles: true})); }"
    )
    clip = wipe.locator(".vgg-wipe-b").evaluate("(v) => v.style.clipPath")
    assert "25%" in clip, clip
    assert _frames_shown(page, fps) == {2}
    e2e.step("wipe")
    wipe.locator(".vgg-close").click()

    # --- favourite, re-run and remix reach Python
    page.locator('.vgg-cell[data-i="2"] .vgg-fav').click()
    page.wait_for_function(
        "() => document.querySelector('.vgg-cell[data-i=\"2\"] .vgg-fav').textContent === '★'"
    )
    before = e2e_sandbox.tasks_created
    _menu(page, 0, "vgg-act-rerun")
    wait_until(lambda: e2e_sandbox.tasks_created == before + 1, 30, "the re-run's task")
    page.wait_for_function(
        "(n) => [...document.querySelectorAll('.vgg-table video')]"
        ".filter((v) => v.readyState >= 2).length === n",
        arg=n + 1,
        timeout=60_000,
    )
    _menu(page, 1, "vgg-act-remix")
    page.locator('.vgg-cell[data-i="1"] .vgg-remix-prompt').fill("the same clocks, at night")
    page.locator('.vgg-cell[data-i="1"] .vgg-remix-go').click()
    wait_until(lambda: e2e_sandbox.tasks_created == before + 2, 30, "the remix's task")
    page.wait_for_function(
        "(n) => [...document.querySelectorAll('.vgg-table video')]"
        ".filter((v) => v.readyState >= 2).length === n",
        arg=n + 2,
        timeout=60_000,
    )
    e2e.step("actions", focus=".vgg")
    report = _report(nb)
    assert report["favourites"] == [2]
    origins = report["origins"]
    assert report["spawned"] == [
        [PROMPT, None, True],
        ["the same clocks, at night", origins[1], True],
    ]
    assert not e2e.errors, e2e.errors
