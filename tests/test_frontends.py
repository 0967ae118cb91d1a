"""Front-end aware display: VS Code and Colab (from their documented markers), vg.config,
and the static fallbacks (posters) that grids and run views carry for saved notebooks."""

from __future__ import annotations

import base64
import pathlib
import sys
import types
from collections.abc import Iterator
from typing import Any

import pytest
from test_display import Elements, make_mp4

from videogen_nb.core.request import VideoRequest
from videogen_nb.core.task import Result, Task, TaskStatus
from videogen_nb.display import frontend
from videogen_nb.display.static_grid import (
    FALLBACK_CSS,
    fallback_bundle,
    results_fallback_html,
    widget_bundle,
)
from videogen_nb.display.video import EMBED_LIMIT, show
from videogen_nb.widgets.grid import ComparisonGrid

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
MARKERS = ("VSCODE_PID", "VSCODE_CWD", "COLAB_RELEASE_TAG", "JPY_SESSION_NAME", "VOILA_KERNEL_ID")


@pytest.fixture(autouse=True)
def clean_frontend(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No front-end marker of the machine running the tests, and settings restored."""
    for name in MARKERS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    before = frontend.config()
    yield
    frontend.config(display=before.display, embed_limit=before.embed_limit)


@pytest.fixture
def in_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(frontend, "_in_kernel", lambda: True)


@pytest.fixture
def workdir(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> pathlib.Path:
    nb = tmp_path / "notebooks"
    nb.mkdir()
    monkeypatch.chdir(nb)
    return nb


def _big(workdir: pathlib.Path) -> pathlib.Path:
    return make_mp4(workdir / "out" / "big.mp4", pad=EMBED_LIMIT)


def _result(path: pathlib.Path, model: str = "kling-v1", prompt: str = "a boat") -> Result:
    task = Task(id=f"t-{model}", status=TaskStatus.COMPLETED)
    return Result(request=VideoRequest(model=model, prompt=prompt), task=task, path=path)


@pytest.mark.usefixtures("in_kernel")
@pytest.mark.parametrize("marker", ["VSCODE_PID", "VSCODE_CWD"])
def test_vscode_embeds_what_a_relative_link_cannot_reach(
    workdir: pathlib.Path, monkeypatch: pytest.MonkeyPatch, marker: str
) -> None:
    path = _big(workdir)
    linked = Elements(show(path)._repr_html_()).first("video")
    assert linked["src"] == "out/big.mp4"  # no marker: the Jupyter server's relative link
    monkeypatch.setenv(marker, "4242")
    assert frontend.detect_frontend() == "vscode" and frontend.display_mode() == "embed"
    src = Elements(show(path)._repr_html_()).first("video")["src"] or ""
    assert base64.b64decode(src.split(",", 1)[1]) == path.read_bytes()


def test_vscode_marker_outside_a_kernel_is_not_vscode(monkeypatch: pytest.MonkeyPatch) -> None:
    # a test or a script started from VS Code's terminal has VSCODE_PID too
    monkeypatch.setenv("VSCODE_PID", "4242")
    assert frontend.detect_frontend() == "unknown"


@pytest.mark.parametrize("how", ["module", "env"])
def test_colab_is_detected_from_its_markers(
    workdir: pathlib.Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    if how == "module":
        monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    else:
        monkeypatch.setenv("COLAB_RELEASE_TAG", "release-colab_20261201-060000_RC00")
    assert frontend.detect_frontend() == "colab" and frontend.display_mode() == "embed"
    page = show(_result(_big(workdir)))._repr_html_()
    assert (Elements(page).first("video")["src"] or "").startswith("data:video/mp4;base64,")


@pytest.mark.usefixtures("in_kernel")
def test_jupyter_server_links(workdir: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JPY_SESSION_NAME", str(workdir / "a.ipynb"))
    assert frontend.detect_frontend() == "jupyter" and frontend.display_mode() == "link"
    page = show(_big(workdir))._repr_html_()
    assert "data:video" not in page
    # if the page cannot load the link, a line (hidden until the player fails) says how
    note = Elements(page)
    assert "vg.config(display=&#x27;embed&#x27;)" in page or "display='embed'" in "".join(note.text)


def test_over_the_embed_limit_shows_a_poster_and_says_why(
    workdir: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLAB_RELEASE_TAG", "x")
    frontend.config(embed_limit=1000)
    path = _big(workdir)
    page = show(path)._repr_html_()
    parsed = Elements(page)
    assert "video" not in parsed.names(), "no empty player"
    assert (parsed.first("img")["src"] or "").startswith("data:image/jpeg;base64,")
    text = "".join(parsed.text)
    assert "embed limit" in text and "vg.config(embed_limit=" in text and str(path) in text


def test_config_forces_a_mode_and_checks_its_input(workdir: pathlib.Path) -> None:
    path = _big(workdir)
    frontend.config(display="embed")
    assert (Elements(show(path)._repr_html_()).first("video")["src"] or "").startswith("data:")
    frontend.config(display="link")
    assert Elements(show(path)._repr_html_()).first("video")["src"] == "out/big.mp4"
    with pytest.raises(ValueError, match="display must be one of"):
        frontend.config(display="iframe")
    with pytest.raises(ValueError, match="embed_limit"):
        frontend.config(embed_limit=-1)


def test_widget_mode_shows_a_result_as_a_streaming_widget_with_html_beside(
    workdir: pathlib.Path,
) -> None:
    import videogen_nb  # noqa: F401 - installs the widget maker

    frontend.config(display="widget")
    bundle = show(_result(_big(workdir)))._repr_mimebundle_()
    assert WIDGET_MIME in bundle and "<video" in bundle["text/html"]


def test_grid_carries_a_static_table_of_posters(workdir: pathlib.Path) -> None:
    results = [
        _result(make_mp4(workdir / "v" / f"{m}.mp4"), model=m, prompt="a <b>boat</b>")
        for m in ("kling-v1", "sora-2")
    ]
    failed = Result(
        request=VideoRequest(model="veo-3", prompt="a <b>boat</b>"),
        task=Task(id="t3", status=TaskStatus.FAILED, error="quota <exceeded>"),
    )
    grid = ComparisonGrid([*results, failed])
    data, _meta = grid._repr_mimebundle_()
    html = data["text/html"]
    assert WIDGET_MIME in data
    parsed = Elements(html)
    imgs = [a for t, a in parsed.tags if t == "img"]
    assert len(imgs) == 2 and all((a["src"] or "").startswith("data:image/jpeg") for a in imgs)
    links = [a["href"] for t, a in parsed.tags if t == "a"]
    assert links == ["v/kling-v1.mp4", "v/sora-2.mp4"]
    assert "uota &lt;exceeded&gt;" in html and "<b>boat" not in html
    assert len(html) < 40_000


def test_blind_grid_static_table_names_no_model(workdir: pathlib.Path) -> None:
    results = [
        _result(make_mp4(workdir / "v" / f"{m}.mp4"), model=m) for m in ("kling-v1", "sora-2")
    ]
    data, _meta = ComparisonGrid(results, blind=True)._repr_mimebundle_()
    html = data["text/html"]
    assert "kling-v1" not in html and "sora-2" not in html and "<a " not in html


def test_results_fallback_empty_and_placed(workdir: pathlib.Path) -> None:
    assert results_fallback_html([]) == ""
    html = results_fallback_html([_result(make_mp4(workdir / "one.mp4"))], title="T")
    assert "T" in html and "<img" in html


def test_saved_notebook_holds_the_runs_final_table_and_posters(tmp_path: pathlib.Path) -> None:
    """Executed and saved by nbclient, a run shown before it ended keeps its final table and
    posters in the output (text/plain and text/html), and its widget state is final too."""
    import json

    import nbclient
    import nbconvert
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata = {
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
    }
    nb.cells = [
        nbformat.v4.new_code_cell(source)
        for source in (
            "import videogen_nb as vg\nsb = vg.sandbox.start(task_seconds=0.5)\n"
            "client = vg.Client(sb.base_url, sb.api_key)",
            "run = client.compare(prompt='saved', models=['kling-v2-5-turbo', 'sora-2'])\nrun",
            "run.wait()",
        )
    ]
    nbclient.NotebookClient(
        nb,
        timeout=60,
        kernel_name="python3",
        store_widget_state=True,
        resources={"metadata": {"path": str(tmp_path)}},
    ).execute()
    # two outputs: the widget (no copy of the table or posters), then its fallback
    widget, fallback = nb.cells[1].outputs
    assert WIDGET_MIME in widget.data and "text/html" not in widget.data
    assert "done" not in widget.data["text/plain"]
    assert "2/2 done" in fallback.data["text/plain"], fallback.data["text/plain"]
    html = fallback.data["text/html"]
    assert html.count("<img") == 2 and "2/2 done" in html
    assert FALLBACK_CSS in html and 'class="vg-fallback ' in html
    state = json.dumps(nb.metadata["widgets"])
    assert "2/2 done" in state
    # an export shows the posters once (nbconvert skips the view: no state saved for it)
    del nb.metadata["widgets"]
    nb.cells = nb.cells[:2]
    page, _ = nbconvert.HTMLExporter().from_notebook_node(nb)
    assert page.count("<img") == 2, page.count("<img")


def _published(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """What ``IPython.display.display`` is asked to show, in order."""
    import IPython.display

    shown: list[dict[str, Any]] = []

    def record(*objs: Any, **kwargs: Any) -> Any:
        shown.extend({"data": obj, **kwargs} for obj in objs)
        return types.SimpleNamespace(update=lambda *a, **k: shown.append({"update": a}))

    monkeypatch.setattr(IPython.display, "display", record)
    return shown


def test_grid_shows_as_the_widget_then_its_posters(
    workdir: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two outputs, so JupyterLab can show the posters where it would say "model not
    found": the first only the view (and a label), the second the posters and their style."""
    shown = _published(monkeypatch)
    results = [
        _result(make_mp4(workdir / "v" / f"{m}.mp4"), model=m) for m in ("kling-v1", "sora-2")
    ]
    grid = ComparisonGrid(results)
    grid._ipython_display_()
    first, second = shown
    assert set(first["data"]) == {WIDGET_MIME, "text/plain"}
    assert first["data"][WIDGET_MIME]["model_id"] == grid.model_id and first["raw"]
    assert second["display_id"] is True and set(second["data"]) == {"text/html", "text/plain"}
    html = second["data"]["text/html"]
    assert html.startswith('<div class="vg-fallback ') and html.count("<img") == 2
    # the style hides Lab's error line and the posters each in its own case
    assert ":has(+ .jp-OutputArea-child .vg-fallback)" in FALLBACK_CSS
    assert ".vgg-offline" in FALLBACK_CSS
    assert len(html) < 40_000


def test_fallback_bundle_shapes() -> None:
    data, meta = widget_bundle(({WIDGET_MIME: {"model_id": "m1"}, "text/html": "x"}, {"a": 1}))
    assert data == {WIDGET_MIME: {"model_id": "m1"}, "text/plain": ""} and meta == {"a": 1}
    data, meta = widget_bundle({WIDGET_MIME: {"model_id": "m2"}, "text/plain": "VBox(...)"}, "L")
    assert data == {WIDGET_MIME: {"model_id": "m2"}, "text/plain": "L"} and meta == {}
    bundle = fallback_bundle("<b>posters</b>", "table")
    assert bundle == {
        "text/html": '<div class="vg-fallback tex2jax_ignore mathjax_ignore">'
        f"<style>{FALLBACK_CSS}</style><b>posters</b></div>",
        "text/plain": "table",
    }
