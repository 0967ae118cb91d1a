"""The grid export (issue 16.8): one MP4 (or GIF) of every cell side by side, captioned,
decoded back with PyAV: its size, length and content."""

from __future__ import annotations

import pathlib
from typing import Any

import pytest

np = pytest.importorskip("numpy")
av = pytest.importorskip("av")
pytest.importorskip("PIL")

from videogen_nb.client.sync_client import Client  # noqa: E402
from videogen_nb.core.errors import ValidationError  # noqa: E402
from videogen_nb.core.request import VideoRequest  # noqa: E402
from videogen_nb.core.task import Result  # noqa: E402
from videogen_nb.display.grid_export import export_grid, plan_cells  # noqa: E402
from videogen_nb.widgets.grid import ComparisonGrid  # noqa: E402

# the sandbox renders any size and length; the catalog's notes on real gateways' limits are
# beside the point here
pytestmark = pytest.mark.filterwarnings("ignore::videogen_nb.store.catalog.CatalogWarning")

MODELS = ("kling-v2-5-turbo", "veo_3_1-fast")
PROMPTS = ("a hot air balloon over snowy mountains", "a paper boat on the sea at night")


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> list[Result]:
    """Two prompts x two models, rendered by a real sandbox and downloaded by the client."""
    import videogen_nb as vg
    from tests.support import FAST_POLL, FAST_RETRY

    tmp = tmp_path_factory.mktemp("export")
    sandbox = vg.sandbox.start(task_seconds=0.2)
    try:
        with Client(
            sandbox.base_url,
            sandbox.api_key,
            journal=tmp / "journal.sqlite",
            output_dir=tmp / "videos",
            poll=FAST_POLL,
            retry=FAST_RETRY,
            timeout=10.0,
            task_timeout=30.0,
        ) as client:
            out = []
            for prompt in PROMPTS:
                for model in MODELS:
                    req = VideoRequest(
                        model=model, prompt=prompt, size="160x96", duration=1, seed=2
                    )
                    result = client.generate(req)
                    assert result.ok, result
                    out.append(result)
            return out
    finally:
        sandbox.stop()


def decode(path: pathlib.Path) -> dict[str, Any]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = [f.to_ndarray(format="rgb24").astype(np.int16) for f in container.decode(stream)]
        duration = float(stream.duration * stream.time_base) if stream.duration else None
        return {
            "frames": frames,
            "width": stream.codec_context.width,
            "height": stream.codec_context.height,
            "duration": duration,
            "codec": stream.codec_context.name,
        }


def source_frames(result: Result) -> list[Any]:
    assert result.path is not None
    with av.open(str(result.path)) as container:
        return [f.to_ndarray(format="rgb24").astype(np.int16) for f in container.decode(video=0)]


def test_the_mp4_holds_every_cell_side_by_side(
    results: list[Result], tmp_path: pathlib.Path
) -> None:
    path = export_grid(results, tmp_path / "grid.mp4", cell_width=160)
    info = decode(path)
    assert info["codec"] == "h264"
    # two models across, two prompts down; each box 160x96 under a caption band
    assert info["width"] == 2 * 160
    caption = (info["height"] - 2 * 96) // 2
    assert caption > 0 and info["height"] == 2 * (caption + 96)
    # one second at the sources' 12 fps
    assert len(info["frames"]) == 12
    assert info["duration"] == pytest.approx(1.0, abs=0.1)
    cells = plan_cells(results)
    for k in (0, 6, 11):
        frame = info["frames"][k]
        for cell in cells:
            x, y = cell.col * 160, cell.row * (caption + 96) + caption
            box = frame[y : y + 96, x : x + 160]
            assert box.std() > 10, (k, cell.title)  # a picture, not a blank box
            # the very frame of that cell's own video, in its place (up to encoding loss)
            assert np.abs(box - source_frames(cell.result)[k]).mean() < 12, (k, cell.title)
        # the caption band carries text
        assert frame[:caption].max() > 150
    # the video moves
    assert np.abs(info["frames"][0] - info["frames"][-1]).mean() > 2


def test_columns_lay_the_cells_out_in_reading_order(
    results: list[Result], tmp_path: pathlib.Path
) -> None:
    info = decode(
        export_grid(results, tmp_path / "row.mp4", columns=4, cell_width=96, captions=False)
    )
    # no caption band: 4 cells of 96 px, each box 96 x 58 (the 160x96 ratio, even)
    assert (info["width"], info["height"]) == (4 * 96, 58)
    assert len(info["frames"]) == 12


def test_the_gif_decodes(results: list[Result], tmp_path: pathlib.Path) -> None:
    path = export_grid(results, tmp_path / "grid.gif", cell_width=120)
    assert path.read_bytes()[:6] in (b"GIF87a", b"GIF89a")
    info = decode(path)
    assert info["width"] == 2 * 120
    assert len(info["frames"]) == 12
    assert all(f.std() > 10 for f in info["frames"])


def test_a_failed_cell_is_a_box_that_says_so(results: list[Result], tmp_path: pathlib.Path) -> None:
    failed = Result(
        request=VideoRequest(model="sora-2", prompt=PROMPTS[0]), error=RuntimeError("x")
    )
    info = decode(export_grid([*results, failed], tmp_path / "failed.mp4", cell_width=128))
    assert info["width"] == 3 * 128 and len(info["frames"]) == 12


def test_a_blind_export_names_no_model(results: list[Result]) -> None:
    blind = plan_cells(results, blind=True, blind_seed=5)
    assert {c.title for c in blind} == {"A", "B"}
    assert not any(m in c.title + c.subtitle for c in blind for m in MODELS)
    revealed = plan_cells(results, blind=True, revealed=True, blind_seed=5)
    assert all(c.title[:4] in ("A · ", "B · ") and c.title[4:] in MODELS for c in revealed)


def test_the_grid_exports_itself(results: list[Result], tmp_path: pathlib.Path) -> None:
    grid = ComparisonGrid(results, blind=True, blind_seed=3)
    info = decode(grid.export(tmp_path / "from-grid.mp4", cell_width=96))
    assert info["width"] == 2 * 96 and len(info["frames"]) == 12


def test_bad_requests_name_what_to_change(results: list[Result], tmp_path: pathlib.Path) -> None:
    with pytest.raises(ValidationError, match="mp4"):
        export_grid(results, tmp_path / "grid.avi")
    with pytest.raises(ValidationError, match="columns"):
        export_grid(results, tmp_path / "grid.mp4", columns=0)
    with pytest.raises(ValidationError, match="nothing to export"):
        export_grid([], tmp_path / "grid.mp4")
