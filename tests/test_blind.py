"""Blind comparison that stays blind: per-row orders, no model-revealing captions, voting
closed after reveal, and sandbox videos without model marks."""

from __future__ import annotations

import json
import pathlib
from typing import Any

import pytest

from tests.support import make_mp4
from tests.test_grid import RecordingComm, done, failed, pending, recording  # noqa: F401
from videogen_nb.core.task import Result
from videogen_nb.display.grid_assets import grid_js
from videogen_nb.display.layout import build_layout
from videogen_nb.widgets.grid import BLIND_ERROR, ComparisonGrid

MODELS = ("kling-v1", "veo_3_1", "sora-2", "gen-3-alpha")
PROMPTS = tuple(f"prompt {n}" for n in range(6))


@pytest.fixture
def wide(tmp_path: pathlib.Path) -> list[Result]:
    out = []
    for p, prompt in enumerate(PROMPTS):
        for m, model in enumerate(MODELS):
            path = make_mp4(tmp_path / f"{model}-{p}.mp4", shade=m * 50)
            out.append(done(model, prompt, path, elapsed=3.0 + 10 * m))
    return out


def _row_orders(grid: ComparisonGrid) -> dict[str, tuple[str, ...]]:
    """Each row's models, left to right, by the row's label."""
    layout = grid.grid_layout
    orders = {}
    for r, (_key, label) in enumerate(layout.rows):
        in_row = sorted(
            (i for i, (row, _c) in enumerate(layout.positions) if row == r),
            key=lambda i: layout.positions[i][1],
        )
        orders[label] = tuple(grid.results[i].request.model for i in in_row)
    return orders


def test_each_row_has_its_own_order_and_votes_map_to_models(
    recording: list[RecordingComm],  # noqa: F811
    wide: list[Result],
) -> None:
    grid = ComparisonGrid(wide, blind=True, blind_seed=11)
    orders = _row_orders(grid)
    assert all(sorted(o) == sorted(MODELS) for o in orders.values())
    assert len(set(orders.values())) > 1, "one recognised row must not unblind the others"
    # Stable: the same grid, rebuilt or fed in another order, keeps every row's order.
    again = ComparisonGrid(list(reversed(wide)), blind=True, blind_seed=11)
    assert _row_orders(again) == orders
    grid.update_result(0, wide[0])
    assert _row_orders(grid) == orders
    # A vote for the cell shown in slot B of row 3 goes to the model that sits there.
    layout = grid.grid_layout
    cell = next(i for i, pos in enumerate(layout.positions) if pos == (3, 1))
    record = grid.vote(3, "best", cell=cell)
    row_label = layout.rows[3][1]
    assert record["winner"] == orders[row_label][1] == grid.results[cell].request.model


def test_no_caption_gives_the_model_away(
    recording: list[RecordingComm],  # noqa: F811
    tmp_path: pathlib.Path,
) -> None:
    results = [
        done("kling-v1", "a dog", make_mp4(tmp_path / "kling-v1_dog.mp4"), elapsed=4.9),
        pending("veo_3_1", "a dog", progress=77),
        failed("sora-2", "a dog", "sora-2 rejected the prompt (task t-sora-2-77)"),
    ]
    grid = ComparisonGrid(results, blind=True)
    state = json.dumps({"cells": grid.cells, "axes": grid.axes})
    for word in ("kling", "veo", "sora", "made in", "4.9", "t-sora"):
        assert word not in state, word
    # Progress tells speed: none is sent (a token may hold "77" by chance, so look closer).
    assert all(c["progress"] is None and c["size"] is None for c in grid.cells)
    assert not any("%" in text for c in grid.cells for _k, text in c["caption"])
    assert any(c["error"] == BLIND_ERROR for c in grid.cells)
    grid.reveal()
    revealed = json.dumps(grid.cells)
    assert "kling-v1" in revealed and "made in 4.9 s" in revealed and "sora-2 rejected" in revealed


def test_voting_is_closed_after_reveal(
    recording: list[RecordingComm],  # noqa: F811
    wide: list[Result],
) -> None:
    grid = ComparisonGrid(wide, blind=True)
    grid.vote(0, "tie")
    grid._handle_custom_msg({"type": "reveal"}, [])
    with pytest.raises(ValueError, match="voting is closed"):
        grid.vote(
            1, "best", cell=next(i for i, p in enumerate(grid.grid_layout.positions) if p[0] == 1)
        )
    grid._handle_custom_msg({"type": "vote", "row": 2, "kind": "skip"}, [])
    assert [v["row_index"] for v in grid.votes] == [0]
    assert "voting is closed" in grid.message
    # The same rule in the front end: Best/Tie/Skip are disabled once revealed.
    js = grid_js()
    assert 'cell.state !== "ready" || revealed' in js and "b.disabled = revealed" in js


def test_layout_positions_cover_every_slot_once(wide: list[Result]) -> None:
    layout = build_layout(wide, blind=True, blind_seed=5)
    assert [label for _k, label in layout.cols] == ["A", "B", "C", "D"]
    assert len(set(layout.positions)) == len(wide)


def _first_frame(data: bytes) -> Any:
    av = pytest.importorskip("av")
    import io

    with av.open(io.BytesIO(data)) as container:
        frame = next(container.decode(video=0))
        return frame.to_ndarray(format="rgb24")


def test_blind_sandbox_frames_carry_no_model_marks() -> None:
    np = pytest.importorskip("numpy")
    from videogen_nb.sandbox.render import RenderSpec, render_mp4

    def frame(model: str, *, marks: bool) -> Any:
        spec = RenderSpec(
            prompt="a dog", model=model, seed=3, width=160, height=96, duration=0.5, marks=marks
        )
        return _first_frame(render_mp4(spec))

    # Open renders differ by model (colour and caption); blind ones are the same picture.
    assert not np.array_equal(frame("kling-v1", marks=True), frame("veo_3_1", marks=True))
    assert np.array_equal(frame("kling-v1", marks=False), frame("veo_3_1", marks=False))


def test_a_blind_request_to_the_sandbox_renders_without_model_marks(
    sandbox: Any, client_options: dict[str, Any]
) -> None:
    np = pytest.importorskip("numpy")
    from videogen_nb.client.sync_client import Client
    from videogen_nb.core.request import VideoRequest

    def first_frame(model: str, metadata: dict[str, Any] | None) -> Any:
        req = VideoRequest(
            model=model, prompt="a dog", seed=4, size="320x180", duration=1, metadata=metadata
        )
        result = client.generate(req)
        assert result.ok and result.path is not None, result
        return _first_frame(result.path.read_bytes())

    with Client(sandbox.base_url, sandbox.api_key, **client_options) as client:
        blind = {"sandbox_blind": True}
        assert np.array_equal(first_frame("kling-v1", blind), first_frame("veo_3_1", blind))
        assert not np.array_equal(first_frame("kling-v1", None), first_frame("veo_3_1", None))
