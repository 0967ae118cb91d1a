"""The quickstart as a static export: executed by nbclient, exported with
``nbconvert --to html`` and opened from disk (file://) in Chromium, with no kernel and no
server. What the "link" mode promises there: the run's final table with a poster per video,
and the small result video embedded, playing.
"""

from __future__ import annotations

import pathlib
import shutil
from typing import Any

import nbclient
import nbformat
import pytest
from harness import NOTEBOOKS

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def exported_quickstart(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    """01_quickstart executed offline (its sandbox branch) and exported to HTML beside it."""
    from nbconvert import HTMLExporter

    folder = tmp_path_factory.mktemp("static")
    source = folder / "01_quickstart.ipynb"
    shutil.copyfile(NOTEBOOKS / "01_quickstart.ipynb", source)
    nb = nbformat.read(source, as_version=4)
    client = nbclient.NotebookClient(
        nb,
        timeout=120,
        kernel_name="python3",
        # as JupyterLab saves by default: no widget state, so nbconvert shows each widget's
        # text/html (with state it would load the widget manager from a CDN)
        store_widget_state=False,
        resources={"metadata": {"path": str(folder)}},
    )
    with pytest.MonkeyPatch.context() as patch:
        # the notebook's offline branch: its own sandbox, not a gateway from the environment
        patch.delenv("VIDEOGEN_BASE_URL", raising=False)
        patch.delenv("VIDEOGEN_API_KEY", raising=False)
        client.execute()
    nbformat.write(nb, source)
    body, _resources = HTMLExporter().from_notebook_node(nb)
    page = folder / "01_quickstart.html"
    page.write_text(body, encoding="utf-8")
    return page


def test_static_export_shows_posters_and_plays_the_embedded_video(
    exported_quickstart: pathlib.Path, e2e: Any
) -> None:
    page = e2e.page
    page.goto(exported_quickstart.as_uri())
    e2e.step("opened")
    # the run's saved output is its final table with the grid's posters
    static = page.locator(".vg-run-static").last
    static.wait_for(state="visible", timeout=30_000)
    assert "2/2 done" in static.inner_text()
    posters = page.evaluate(
        "() => [...document.querySelectorAll('.vg-run-static .vg-static-grid img')]"
        ".map((i) => ({w: i.naturalWidth, ok: i.complete}))"
    )
    assert len(posters) >= 2 and all(p["ok"] and p["w"] > 0 for p in posters), posters
    # the single result's video is small: embedded, it plays from the file
    page.wait_for_function(
        "() => [...document.querySelectorAll('.vg-result video')]"
        ".some((v) => v.readyState >= 2 && v.videoWidth > 0)",
        timeout=30_000,
    )
    e2e.step("posters-and-video", focus=".vg-run-static")
    assert "model not found" not in page.content()
