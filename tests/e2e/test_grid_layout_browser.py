"""A grid for any shape, measured in JupyterLab: 9:16 and 1:1 videos get cells of their own
shape (not a sliver in a 16:9 box), six models fit the output's width, and a one-model
seed sweep puts its seeds side by side."""

from __future__ import annotations

import contextlib
import pathlib
from typing import Any

import nbformat
import pytest
from harness import LabNotebook, check_contrast, set_theme

pytestmark = pytest.mark.e2e

TWO = ["kling-v3-std-silent", "veo_3_1-fast"]
SIX = ["kling-v1", "kling-v2-5-turbo", "kling-v3-std-silent", "veo_3_1-fast", "sora-2", "veo-3"]
NOTEBOOK = "e2e_grid_shapes.ipynb"
CELLS = [
    "import videogen_nb as vg\nfrom IPython.display import display\nclient = vg.Client()",
    "runs = {\n"
    f"    'portrait': client.compare(prompt='e2e: tall', models={TWO!r}, size='180x320', duration=2),\n"
    f"    'square': client.compare(prompt='e2e: square', models={TWO!r}, size='240x240', duration=2),\n"
    f"    'six': client.compare(prompt='e2e: six', models={SIX!r}, size='320x180', duration=2),\n"
    "    'six_by_two': client.compare(prompt=['e2e: six a', 'e2e: six b'],\n"
    f"                                 models={SIX!r}, size='320x180', duration=2),\n"
    "    'seeds': client.compare(prompt='e2e: seeds', models=['kling-v3-std-silent'],\n"
    "                            seed=[1, 2, 3], size='320x180', duration=2),\n"
    "}\n"
    "for run in runs.values():\n"
    "    run.wait(120)\n"
    "    assert all(r.ok for r in run.results), run.results",
    # as the run view makes them: the run's own rows and columns
    "for name, run in runs.items():\n"
    "    display(vg.ComparisonGrid(run.results, rows=run.grid_rows, cols=run.grid_cols,"
    " title=name))",
]

# Every grid by its title: its layout mode, the output area's box, its headings and the
# box of each of its videos.
_JS_MEASURE = """
() => Object.fromEntries([...document.querySelectorAll('.vgg')].map((root) => {
  const out = root.closest('.jp-OutputArea-output') || root.parentElement;
  const area = out.getBoundingClientRect();
  const shown = (e) => e.getClientRects().length > 0;
  return [root.querySelector('.vgg-title').textContent, {
    layout: root.dataset.layout,
    area: { left: area.left, right: area.right },
    height: root.getBoundingClientRect().height,
    cols: [...root.querySelectorAll('.vgg-colhead')].filter(shown).map((e) => e.textContent),
    rows: root.querySelectorAll('.vgg-rowhead').length,
    videos: [...root.querySelectorAll('.vgg-table video')].map((v) => {
      const b = v.getBoundingClientRect();
      return { left: b.left, right: b.right, top: b.top, w: b.width, h: b.height,
               vw: v.videoWidth, vh: v.videoHeight };
    }),
  }];
}))
"""


GRID_TEXT = (
    ".vgg .vgg-cap, .vgg .vgg-colhead, .vgg .vgg-rowlabel, .vgg .vgg-corner, .vgg .vgg-frame,"
    " .vgg .vgg-time, .vgg .vgg-bar button, .vgg .vgg-tools button"
)


def shoot(element: Any, path: pathlib.Path) -> None:
    """A screenshot of one element, for the eye; never why a test fails."""
    with contextlib.suppress(Exception):  # a picture is a convenience
        element.screenshot(path=str(path), timeout=10_000)


def _write(root: pathlib.Path) -> None:
    nb = nbformat.v4.new_notebook()
    nb.metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}
    }
    nb.cells = [nbformat.v4.new_code_cell(src) for src in CELLS]
    nbformat.write(nb, root / NOTEBOOK)


def test_grid_cells_take_the_videos_shape_and_fit_the_width(
    e2e_root: pathlib.Path, open_notebook: Any, e2e: Any
) -> None:
    _write(e2e_root / "lab")
    page = e2e.page
    nb: LabNotebook = open_notebook(NOTEBOOK)
    nb.run_all()
    total = 2 + 2 + 6 + 12 + 3
    page.wait_for_function(
        "(n) => { const vs = [...document.querySelectorAll('.vgg-table video')];"
        " return vs.length === n && vs.every((v) => v.readyState >= 2 && v.videoWidth > 0); }",
        arg=total,
        timeout=90_000,
    )
    # sizes follow the measured shape a frame after the metadata: let the layout settle
    page.wait_for_timeout(300)
    grids: dict[str, Any] = page.evaluate(_JS_MEASURE)
    for n, name in enumerate(grids):
        shoot(page.locator(".vgg").nth(n), e2e.shots / f"grid-{name}.png")

    portrait = grids["portrait"]["videos"]
    assert len(portrait) == 2
    for v in portrait:
        assert (v["vw"], v["vh"]) == (180, 320)
        assert v["w"] >= 150, f"a 9:16 video is a {v['w']:.0f} px sliver"
        assert v["h"] / v["w"] == pytest.approx(16 / 9, rel=0.03), v

    for v in grids["square"]["videos"]:
        assert v["w"] >= 150 and v["w"] / v["h"] == pytest.approx(1.0, rel=0.03), v

    six = grids["six"]
    assert len(six["videos"]) == 6
    for v in six["videos"]:
        # nothing cut: every video inside the output area, none shrunk to a stamp
        assert v["left"] >= six["area"]["left"] - 1 and v["right"] <= six["area"]["right"] + 1, (
            v,
            six["area"],
        )
        assert v["w"] >= 150 and v["w"] / v["h"] == pytest.approx(16 / 9, rel=0.03), v

    # the column heading names the model: the captions below it do not repeat it
    caption_models = page.evaluate(
        "() => [...document.querySelectorAll('.vgg')].map((r) =>"
        " r.querySelectorAll('.vgg-cap-model').length)"
    )
    assert caption_models == [0, 0, 0, 0, 3], caption_models  # seeds across: the model is not

    # six models on two prompts: the table scrolls sideways, the prompts stay in view
    assert grids["six_by_two"]["layout"] == "scroll"
    assert all(v["w"] >= 140 for v in grids["six_by_two"]["videos"])
    sideways = page.evaluate(
        """() => {
          const root = [...document.querySelectorAll('.vgg')]
            .find((r) => r.querySelector('.vgg-title').textContent === 'six_by_two');
          const box = root.querySelector('.vgg-scroll');
          box.scrollLeft = box.scrollWidth;
          const head = root.querySelector('.vgg-rowhead').getBoundingClientRect();
          const col = root.querySelector('.vgg-colhead').getBoundingClientRect();
          const cell = root.querySelector('.vgg-cell').getBoundingClientRect();
          const last = [...root.querySelectorAll('.vgg-table video')].at(-1).getBoundingClientRect();
          const frame = box.getBoundingClientRect();
          return { scrolls: box.scrollWidth > box.clientWidth, headLeft: head.left,
                   headingBottom: col.bottom, cellTop: cell.top,
                   left: frame.left, lastRight: last.right, right: frame.right };
        }"""
    )
    assert sideways["scrolls"], sideways
    assert abs(sideways["headLeft"] - sideways["left"]) <= 1, sideways  # held at the left
    assert sideways["lastRight"] <= sideways["right"] + 1, sideways  # the last column reached
    assert sideways["headingBottom"] <= sideways["cellTop"] + 1, sideways  # over, not on, row 1

    seeds = grids["seeds"]
    assert seeds["cols"] == ["1", "2", "3"] and seeds["rows"] == 1, seeds
    tops = {round(v["top"]) for v in seeds["videos"]}
    assert len(tops) == 1, f"the seeds are not side by side: {tops}"
    assert seeds["height"] < 700, f"a 3-seed sweep is {seeds['height']:.0f} px tall"

    # JupyterLab's dark theme: every grid text stays readable (WCAG AA, 4.5:1)
    set_theme(page, "JupyterLab Dark", light=False)
    try:
        shoot(page.locator(".vgg").nth(4), e2e.shots / "grid-seeds-dark.png")
        measured = check_contrast(page, {"grid text": GRID_TEXT}, "JupyterLab Dark")
        assert len(measured["grid text"]) > 20
    finally:
        set_theme(page, "JupyterLab Light", light=True)
