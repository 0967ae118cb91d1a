"""The grid for any shape, and its cell actions in the kernel (issue 16, items 6-8; issue 11's
remix in the cell menu).

Layout: the columns come from what varies (a one-model seed sweep puts its seeds across),
each cell carries its video's shape; captions leave out what the column heading says.
Actions: re-run and remix start new runs against the sandbox through the front end's
messages, and their videos join the grid; favourites go to the journal (test_grid_favourites).
"""

from __future__ import annotations

import base64
import pathlib
from typing import Any

import comm
import pytest

import videogen_nb as vg
from tests.support import make_mp4, small
from tests.test_grid import RecordingComm
from videogen_nb.core.errors import ValidationError
from videogen_nb.core.request import VideoRequest
from videogen_nb.core.task import Result, Task, TaskStatus
from videogen_nb.display.layout import build_layout, cell_aspect, choose_axes
from videogen_nb.widgets.grid import ComparisonGrid


@pytest.fixture(autouse=True)
def _recording(monkeypatch: pytest.MonkeyPatch) -> None:
    # A comm that keeps what would go to the front end, so widgets work without a kernel.
    monkeypatch.setattr(comm, "create_comm", RecordingComm)


def made(model: str, prompt: str, path: pathlib.Path, **fields: Any) -> Result:
    request = VideoRequest(model=model, prompt=prompt, duration=5, **fields)
    task = Task(id=f"t-{model}-{fields.get('seed')}-{prompt}", status=TaskStatus.COMPLETED)
    return Result(request=request, task=task, path=path, elapsed=3.0)


@pytest.fixture
def clip(tmp_path: pathlib.Path) -> pathlib.Path:
    return make_mp4(tmp_path / "clip.mp4")


# --- rows and columns from what varies ------------------------------------------------------


def test_one_model_seed_sweep_puts_seeds_across(clip: pathlib.Path) -> None:
    """compare(prompt=p, models=[m], seed=[1, 2, 3]) asks for rows (prompt, seed) and
    columns model: that would stack three full-width rows; the seeds go across instead."""
    sweep = [made("kling", "a fox", clip, seed=s) for s in (1, 2, 3)]
    grid = ComparisonGrid(sweep, rows=("prompt", "seed"), cols="model")
    layout = grid.grid_layout
    assert (layout.row_fields, layout.col_fields) == (("prompt",), ("seed",))
    assert len(layout.rows) == 1 and [label for _k, label in layout.cols] == ["1", "2", "3"]
    # the same sweep over two prompts: prompts down, seeds across
    two = sweep + [made("kling", "a hen", clip, seed=s) for s in (1, 2, 3)]
    layout = ComparisonGrid(two, rows=("prompt", "seed"), cols="model").grid_layout
    assert (len(layout.rows), len(layout.cols)) == (2, 3)
    assert sorted({pos for pos in layout.positions}) == [(r, c) for r in (0, 1) for c in (0, 1, 2)]


def test_default_axes_find_the_seeds_too(clip: pathlib.Path) -> None:
    sweep = [made("kling", "a fox", clip, seed=s) for s in (7, 8)]
    assert choose_axes(sweep) == (("prompt",), ("seed",))
    # build_layout alone keeps the old rule: the seeds split the rows
    assert len(build_layout(sweep).rows) == 2


def test_axes_that_vary_are_kept(clip: pathlib.Path) -> None:
    models = [made(m, "a fox", clip, seed=s) for m in ("kling", "veo") for s in (1, 2)]
    assert choose_axes(models, ("prompt", "seed"), "model") == (("prompt", "seed"), ("model",))
    six = [made(f"m{n}", "a fox", clip) for n in range(6)]
    layout = ComparisonGrid(six).grid_layout
    assert (len(layout.rows), len(layout.cols)) == (1, 6)


def test_as_given_and_blind_grids_are_not_rearranged(clip: pathlib.Path) -> None:
    sweep = [made("kling", "a fox", clip, seed=s) for s in (1, 2, 3)]
    fixed = ComparisonGrid(sweep, rows=("prompt", "seed"), cols="model", arrange="as given")
    assert len(fixed.grid_layout.rows) == 3 and len(fixed.grid_layout.cols) == 1
    blind = ComparisonGrid(sweep, blind=True, blind_seed=1)
    assert blind.grid_layout.col_fields == ("model",)
    with pytest.raises(ValueError, match="arrange"):
        ComparisonGrid(sweep, arrange="sideways")


def test_nothing_varies_means_one_cell_and_no_error(clip: pathlib.Path) -> None:
    assert choose_axes([made("kling", "a fox", clip)]) == (("prompt",), ("model",))
    twins = [made("kling", "a fox", clip), made("kling", "a fox", clip)]
    layout = ComparisonGrid(twins).grid_layout
    assert len(layout.rows) == 2  # identical requests get numbered rows, as before


def test_a_rerun_twin_gets_a_numbered_row_not_a_list_of_fields(clip: pathlib.Path) -> None:
    """A re-run is the same request: it gets "#2", and a remix beside it (no duration,
    a remix_of) does not turn every row label into "prompt · duration · size · remix_of"."""
    first, twin = made("kling", "a fox", clip), made("kling", "a fox", clip)
    remix = Result(request=VideoRequest(model="kling", prompt="at night", remix_of="t-1"))
    layout = build_layout([first, twin, remix])
    assert layout.row_fields == ("prompt",)
    assert [label for _k, label in layout.rows] == ["a fox", "a fox #2", "at night"]


# --- the shape of each cell, and captions ----------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "aspect"),
    [
        ({"aspect_ratio": "9:16"}, 9 / 16),
        ({"aspect_ratio": "1:1"}, 1.0),
        ({"size": "1280x720"}, 16 / 9),
        ({"size": "720x1280"}, 9 / 16),
        ({"width": 640, "height": 640}, 1.0),
        ({}, None),
    ],
)
def test_cells_carry_the_requested_shape(
    clip: pathlib.Path, fields: dict[str, Any], aspect: float | None
) -> None:
    result = made("kling", "a fox", clip, **fields)
    assert cell_aspect(result) == (pytest.approx(aspect) if aspect else None)
    (cell,) = ComparisonGrid([result]).cells
    assert cell["aspect"] == (pytest.approx(aspect) if aspect else None)


def test_cells_carry_the_full_prompt_and_request(clip: pathlib.Path) -> None:
    prompt = "a fox " * 200  # longer than any label shows
    png = b"\x89PNG\r\n\x1a\n" + bytes(4000)
    image = "data:image/png;base64," + base64.b64encode(png).decode()
    (cell,) = ComparisonGrid([made("kling", prompt.strip(), clip, image=image)]).cells
    assert cell["prompt"] == prompt.strip()
    assert cell["request"]["model"] == "kling" and cell["request"]["duration"] == 5
    assert len(cell["request"]["image"]) <= 400  # copyable, not a megabyte
    assert cell["task_id"] == "t-kling-None-" + prompt.strip()


def test_captions_do_not_repeat_the_column_heading(clip: pathlib.Path) -> None:
    grid = ComparisonGrid([made("kling", "a fox", clip), made("veo", "a fox", clip)])
    assert grid.axes["col_fields"] == ["model"]  # the front end leaves these out
    blind = ComparisonGrid([made("kling", "a fox", clip), made("veo", "a fox", clip)], blind=True)
    assert blind.axes["col_fields"] == []  # slots: after reveal captions name the model
    for cell in blind.cells:
        assert cell["request"] is None and cell["task_id"] is None  # both name the model


# --- actions through the kernel -------------------------------------------------------------


def _wait_ready(grid: ComparisonGrid, index: int, run: Any) -> None:
    run.wait(30)
    assert grid.results[index].ok, grid.results[index]


def test_rerun_from_the_cell_menu_makes_a_new_run(
    sandbox: Any, client_options: dict[str, Any]
) -> None:
    with vg.Client(sandbox.base_url, sandbox.api_key, **client_options) as client:
        origin = client.generate(small(prompt="a kite"))
        grid = ComparisonGrid([origin])
        grid.enable_actions(client)
        assert grid.actions_enabled
        before = sandbox.tasks_created
        # what the menu's "Re-run this request" sends
        grid._on_custom_msg(grid, {"type": "rerun", "cell": 0}, [])
        (run,) = grid.spawned
        _wait_ready(grid, 1, run)
        assert sandbox.tasks_created == before + 1
        assert len(grid.cells) == 2 and grid.cells[1]["state"] == "ready"
        assert grid.results[1].request == origin.request
        assert grid.results[1].task.id != origin.task.id
        # a later set_results (the run view refreshing) keeps the new cell
        grid.set_results([origin])
        assert len(grid.results) == 2


def test_remix_from_the_cell_menu(sandbox: Any, client_options: dict[str, Any]) -> None:
    with vg.Client(sandbox.base_url, sandbox.api_key, dialect="openai", **client_options) as c:
        origin = c.generate(small(prompt="a paper boat"))
        grid = ComparisonGrid([origin], client=c)
        assert grid.remix_supported and grid.remix_note == ""
        grid._on_custom_msg(grid, {"type": "remix", "cell": 0, "prompt": "at night"}, [])
        (run,) = grid.spawned
        _wait_ready(grid, 1, run)
        remixed = grid.results[1]
        assert remixed.request.remix_of == origin.task.id
        assert remixed.request.prompt == "at night"
        assert (
            sandbox.stats(include_tasks=False)["requests"]["POST /v1/videos/{task_id}/remix"] == 1
        )
        # an empty prompt is refused in words, nothing sent
        grid._on_custom_msg(grid, {"type": "remix", "cell": 0, "prompt": "  "}, [])
        assert "write what the remix should change" in grid.message
        assert len(grid.spawned) == 1


def test_remix_where_the_dialect_has_none_says_so(
    sandbox: Any, client_options: dict[str, Any]
) -> None:
    with vg.Client(sandbox.base_url, sandbox.api_key, dialect="kling", **client_options) as c:
        origin = c.generate(small())
        grid = ComparisonGrid([origin], client=c)
        assert not grid.remix_supported
        assert "kling dialect" in grid.remix_note and "/remix" in grid.remix_note
        posts = sandbox.tasks_created
        grid._on_custom_msg(grid, {"type": "remix", "cell": 0, "prompt": "at night"}, [])
        assert "remix" in grid.message and "dialect" in grid.message
        assert sandbox.tasks_created == posts and grid.spawned == []


def test_actions_need_a_client_and_stay_off_in_a_blind_grid(clip: pathlib.Path) -> None:
    grid = ComparisonGrid([made("kling", "a fox", clip)])
    assert not grid.actions_enabled
    with pytest.raises(ValidationError, match="enable_actions"):
        grid.rerun(0)
    blind = ComparisonGrid(
        [made("kling", "a fox", clip), made("veo", "a fox", clip)], blind=True, client=object()
    )
    with pytest.raises(ValidationError, match="blind"):
        blind.rerun(0)
    blind._on_custom_msg(blind, {"type": "bogus", "cell": 0}, [])
    assert "ignored bogus message" in blind.message


def test_favourites_from_the_front_end(clip: pathlib.Path) -> None:
    results = [made(m, "a fox", clip) for m in ("kling", "veo", "sora")]
    grid = ComparisonGrid(results)
    grid._on_custom_msg(grid, {"type": "favourite", "cell": 2, "on": True}, [])
    grid._on_custom_msg(grid, {"type": "favourite", "cell": 0, "on": True}, [])
    assert grid.favourites == [0, 2]
    assert [r.request.model for r in grid.favourite_results] == ["kling", "sora"]
    grid._on_custom_msg(grid, {"type": "favourite", "cell": 2, "on": False}, [])
    assert grid.favourites == [0]
    grid._on_custom_msg(grid, {"type": "favourite", "cell": 9, "on": True}, [])
    assert grid.favourites == [0] and "no cell 9" in grid.message


def test_export_writes_the_grid_as_shown(clip: pathlib.Path, tmp_path: pathlib.Path) -> None:
    """A one-model seed sweep shows its seeds across: so does its exported video."""
    import av

    grid = ComparisonGrid([made("kling", "a fox", clip, seed=s) for s in (1, 2)])
    out = grid.export(tmp_path / "grid.mp4", cell_width=64)
    with av.open(str(out)) as video:
        frame = next(video.decode(video=0))
    assert frame.width == 2 * 64, (frame.width, frame.height)
    with pytest.raises(ValidationError, match=r"\.mp4 or \.gif"):
        grid.export(tmp_path / "grid.txt")


async def test_rerun_through_an_async_client_on_this_loop(sandbox: Any, make_client: Any) -> None:
    """With an ``AsyncClient`` the front end's message arrives on the client's own loop:
    the run starts right there (no hop to another loop)."""
    client = make_client(sandbox)
    origin = await client.generate(small(prompt="a lantern"))
    grid = ComparisonGrid([origin], client=client)
    # under dialect="auto" remix waits for the origin's dialect: offered, the kernel decides
    assert grid.remix_supported
    run = grid.rerun(0)
    await run
    assert grid.results[1].ok and grid.results[1].task.id != origin.task.id
    assert grid.spawned == [run]
