"""ComparisonGrid: layout, cell states, blind mode, votes and byte serving over a real comm."""

from __future__ import annotations

import json
import pathlib
import threading
from typing import Any

import comm
import pytest
from comm.base_comm import BaseComm

from tests.support import make_mp4
from videogen_nb.core.errors import ValidationError
from videogen_nb.core.request import VideoRequest
from videogen_nb.core.scoring import win_rates
from videogen_nb.core.task import Result, Task, TaskStatus
from videogen_nb.display.grid_assets import grid_css, grid_js
from videogen_nb.widgets import grid as grid_mod
from videogen_nb.widgets.grid import ComparisonGrid, build_layout, column_letter

HOSTILE = "<img src=x onerror=alert(1)>"


class RecordingComm(BaseComm):
    """A comm that keeps what the kernel would publish to the front end."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.published: list[tuple[str, Any, list[bytes]]] = []
        super().__init__(*args, **kwargs)

    def publish_msg(
        self,
        msg_type: str,
        data: Any = None,
        metadata: Any = None,
        buffers: Any = None,
        **keys: Any,
    ) -> None:
        self.published.append((msg_type, data, [bytes(b) for b in buffers or []]))

    def custom(self) -> list[tuple[dict[str, Any], list[bytes]]]:
        """The custom messages sent with ``widget.send``."""
        return [
            (d["content"], b)
            for t, d, b in self.published
            if t == "comm_msg" and d.get("method") == "custom"
        ]

    def updates(self) -> list[tuple[dict[str, Any], list[bytes]]]:
        """The state updates (traitlet changes)."""
        return [
            (d, b) for t, d, b in self.published if t == "comm_msg" and d.get("method") == "update"
        ]


@pytest.fixture
def recording(monkeypatch: pytest.MonkeyPatch) -> list[RecordingComm]:
    made: list[RecordingComm] = []

    def create_comm(*args: Any, **kwargs: Any) -> RecordingComm:
        c = RecordingComm(*args, **kwargs)
        made.append(c)
        return c

    monkeypatch.setattr(comm, "create_comm", create_comm)
    return made


@pytest.fixture
def videos(tmp_path: pathlib.Path) -> dict[str, pathlib.Path]:
    return {
        name: make_mp4(tmp_path / "videos" / f"{name}.mp4", shade=n * 60)
        for n, name in enumerate(["a", "b", "c", "d", "e", "f"])
    }


def done(
    model: str, prompt: str, path: pathlib.Path, *, seed: int | None = None, elapsed: float = 12.5
) -> Result:
    req = VideoRequest(model=model, prompt=prompt, seed=seed, duration=5)
    return Result(
        request=req,
        task=Task(id=f"t-{model}-{seed}", status=TaskStatus.COMPLETED),
        path=path,
        elapsed=elapsed,
    )


def pending(model: str, prompt: str, progress: int | None = 40) -> Result:
    req = VideoRequest(model=model, prompt=prompt, duration=5)
    return Result(
        request=req, task=Task(id=f"p-{model}", status=TaskStatus.IN_PROGRESS, progress=progress)
    )


def failed(model: str, prompt: str, message: str) -> Result:
    req = VideoRequest(model=model, prompt=prompt, duration=5)
    task = Task(id=f"f-{model}", status=TaskStatus.FAILED, error=message)
    return Result(request=req, task=task, error=RuntimeError(message))


@pytest.fixture
def two_by_three(videos: dict[str, pathlib.Path]) -> list[Result]:
    return [
        done("kling", "a dog", videos["a"]),
        done("veo", "a dog", videos["b"]),
        done("sora", "a dog", videos["c"]),
        done("kling", "a boat", videos["d"]),
        done("veo", "a boat", videos["e"]),
        done("sora", "a boat", videos["f"]),
    ]


# --- layout --------------------------------------------------------------------------------


def test_layout_rows_prompts_cols_models(two_by_three: list[Result]) -> None:
    layout = build_layout(two_by_three)
    assert [label for _, label in layout.rows] == ["a dog", "a boat"]
    assert [label for _, label in layout.cols] == ["kling", "veo", "sora"]
    assert layout.positions == ((0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2))


def test_layout_transposed_and_by_seed(videos: dict[str, pathlib.Path]) -> None:
    results = [done(m, "a dog", videos["a"], seed=s) for s in (7, 9) for m in ("kling", "veo")]
    by_seed = build_layout(results, rows="seed", cols="model")
    assert [label for _, label in by_seed.rows] == ["7", "9"]
    assert by_seed.positions == ((0, 0), (0, 1), (1, 0), (1, 1))
    flipped = build_layout(results, rows="model", cols="seed")
    assert [label for _, label in flipped.rows] == ["kling", "veo"]
    assert [label for _, label in flipped.cols] == ["7", "9"]
    assert flipped.positions == ((0, 0), (1, 0), (0, 1), (1, 1))


def test_layout_splits_rows_that_would_share_a_cell(videos: dict[str, pathlib.Path]) -> None:
    # Two seeds of the same prompt and model: rows=prompt alone would stack them.
    results = [done(m, "a dog", videos["a"], seed=s) for s in (1, 2) for m in ("kling", "veo")]
    layout = build_layout(results)
    assert layout.row_fields == ("prompt", "seed")
    assert [label for _, label in layout.rows] == ["a dog · seed=1", "a dog · seed=2"]
    assert len(set(layout.positions)) == 4


def test_layout_rejects_unknown_fields(two_by_three: list[Result]) -> None:
    with pytest.raises(ValidationError) as info:
        build_layout(two_by_three, rows="colour")
    assert "colour" in str(info.value) and "rows" in str(info.value)
    with pytest.raises(ValidationError):
        ComparisonGrid(two_by_three, cols="prompt", rows="prompt")


def test_single_row_when_rows_is_none(two_by_three: list[Result]) -> None:
    layout = build_layout(two_by_three[:3], rows=None)
    assert [label for _, label in layout.rows] == ["all"]


# --- cells ---------------------------------------------------------------------------------


def test_pending_and_failed_cells_say_so(
    recording: list[RecordingComm], videos: dict[str, pathlib.Path]
) -> None:
    results = [
        done("kling", "a dog", videos["a"]),
        pending("veo", "a dog", 40),
        failed("sora", "a dog", "content policy: " + HOSTILE),
    ]
    grid = ComparisonGrid(results)
    ready, running, bad = grid.cells
    assert ready["state"] == "ready" and ready["video"] == "stream" and ready["size"] > 0
    # (the cost line is the price display's, tested with it)
    assert {k: v for k, v in ready["caption"] if k != "cost"} == {
        "model": "kling",
        "duration": "5 s video",
        "time": "made in 12.5 s",
        "status": "completed",
    }
    assert running["state"] == "pending" and running["progress"] == 40
    assert running["video"] == "none" and "in_progress 40%" in dict(running["caption"])["status"]
    assert bad["state"] == "failed" and bad["error"] == "content policy: " + HOSTILE
    # The text goes to the front end verbatim; the grid's JS sets it with textContent.
    assert bad["status"] == "failed"


def test_widget_state_never_holds_video_bytes(
    recording: list[RecordingComm], two_by_three: list[Result]
) -> None:
    grid = ComparisonGrid(two_by_three)
    data = {k: v for k, v in grid.get_state().items() if k not in ("_esm", "_css")}
    state = json.dumps(data, default=str)
    raw = two_by_three[0].path.read_bytes()
    assert len(state) < 10_000
    assert "base64" not in state and raw[:40].hex() not in state
    opened = grid.comm.published[0]
    assert opened[0] == "comm_open" and opened[2] == []


def test_remote_only_result_uses_its_url(recording: list[RecordingComm]) -> None:
    req = VideoRequest(model="veo", prompt="a dog")
    ok = Result(
        request=req,
        task=Task(id="t1", status=TaskStatus.COMPLETED, video_url="https://cdn.example/v.mp4"),
    )
    evil = Result(
        request=req.replace(model="kling"),
        task=Task(id="t2", status=TaskStatus.COMPLETED, video_url="javascript:alert(1)"),
    )
    grid = ComparisonGrid([ok, evil])
    assert grid.cells[0]["video"] == "url" and grid.cells[0]["src"] == "https://cdn.example/v.mp4"
    assert grid.cells[1]["video"] == "none" and grid.cells[1]["src"] is None


def test_live_updates_from_another_thread(
    recording: list[RecordingComm], videos: dict[str, pathlib.Path]
) -> None:
    reqs = [VideoRequest(model=m, prompt="a dog", duration=5) for m in ("kling", "veo")]
    grid = ComparisonGrid(reqs)
    assert [c["state"] for c in grid.cells] == ["pending", "pending"]
    sent_before = len(grid.comm.updates())
    worker = threading.Thread(
        target=grid.update_result, args=(1, done("veo", "a dog", videos["b"]))
    )
    worker.start()
    worker.join(timeout=10)
    assert not worker.is_alive()
    assert [c["state"] for c in grid.cells] == ["pending", "ready"]
    updates = grid.comm.updates()[sent_before:]
    assert updates, "the change reached the front end"
    for data, buffers in updates:
        assert buffers == [] and len(json.dumps(data)) < 10_000
    grid.update_result(2, done("sora", "a dog", videos["c"]))
    assert len(grid.cells) == 3 and grid.axes["cols"][2]["label"] == "sora"
    with pytest.raises(IndexError):
        grid.update_result(9, reqs[0])


# --- bytes over the comm -------------------------------------------------------------------


def test_want_message_is_answered_with_the_file(
    recording: list[RecordingComm], two_by_three: list[Result]
) -> None:
    grid = ComparisonGrid(two_by_three)
    grid._handle_custom_msg({"type": "want", "cell": 4}, [])
    ((content, buffers),) = grid.comm.custom()
    assert content["type"] == "video" and content["cell"] == 4
    assert content["token"] == grid.cells[4]["token"] and content["mime"] == "video/mp4"
    assert (content["part"], content["parts"]) == (0, 1)
    assert buffers == [two_by_three[4].path.read_bytes()]


def test_large_files_go_in_chunks(
    recording: list[RecordingComm], two_by_three: list[Result], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(grid_mod, "CHUNK_BYTES", 500)
    grid = ComparisonGrid(two_by_three)
    grid._handle_custom_msg({"type": "want", "cell": 0}, [])
    msgs = grid.comm.custom()
    data = two_by_three[0].path.read_bytes()
    assert len(msgs) == -(-len(data) // 500) > 1
    assert [m["part"] for m, _ in msgs] == list(range(len(msgs)))
    assert b"".join(b[0] for _, b in msgs) == data


def test_files_over_the_limit_are_not_sent(
    recording: list[RecordingComm], two_by_three: list[Result]
) -> None:
    grid = ComparisonGrid(two_by_three, max_bytes=100)
    assert all(c["video"] == "too_large" and c["path"] for c in grid.cells)
    grid._handle_custom_msg({"type": "want", "cell": 0}, [])
    ((content, buffers),) = grid.comm.custom()
    assert content["type"] == "video_error" and "limit" in content["message"] and buffers == []


def test_missing_file_and_bad_messages(
    recording: list[RecordingComm], tmp_path: pathlib.Path, two_by_three: list[Result]
) -> None:
    gone = done("kling", "x", tmp_path / "nope.mp4")
    grid = ComparisonGrid([gone, *two_by_three[1:3]])
    assert grid.cells[0]["video"] == "missing"
    grid._handle_custom_msg({"type": "want", "cell": 0}, [])
    grid._handle_custom_msg({"type": "want", "cell": 99}, [])
    assert [m["type"] for m, _ in grid.comm.custom()] == ["video_error"]
    assert "99" in grid.message


# --- blind mode and votes ------------------------------------------------------------------


def test_column_letters() -> None:
    assert [column_letter(i) for i in (0, 1, 25, 26, 27, 701, 702)] == [
        "A",
        "B",
        "Z",
        "AA",
        "AB",
        "ZZ",
        "AAA",
    ]


def test_blind_grid_hides_models_and_shuffles_stably(
    recording: list[RecordingComm], two_by_three: list[Result]
) -> None:
    grid = ComparisonGrid(two_by_three, blind=True, blind_seed=3)
    assert [c["label"] for c in grid.axes["cols"]] == ["A", "B", "C"]
    state = json.dumps(grid.get_state(), default=str)
    for model in ("kling", "veo", "sora"):
        assert model not in state

    def orders(g: ComparisonGrid) -> dict[str, list[str]]:
        layout = g.grid_layout
        by_pos = sorted(range(6), key=lambda i: layout.positions[i])
        out: dict[str, list[str]] = {}
        for i in by_pos:
            out.setdefault(layout.rows[layout.positions[i][0]][1], []).append(
                g.results[i].request.model
            )
        return out

    # Same seed, other input order: each row keeps its order; it survives live updates.
    again = ComparisonGrid(list(reversed(two_by_three)), blind=True, blind_seed=3)
    assert orders(grid) == orders(again)
    grid.update_result(0, two_by_three[0])
    assert (
        grid.grid_layout.positions == build_layout(two_by_three, blind=True, blind_seed=3).positions
    )
    orders = {build_layout(two_by_three, blind=True, blind_seed=s).positions for s in range(20)}
    assert len(orders) > 1, "the seed changes the shuffle"
    # The same run gets the same letters when its grid is shown again.
    a = ComparisonGrid(two_by_three, blind=True, run_id="run-42")
    b = ComparisonGrid(two_by_three, blind=True, run_id="run-42")
    assert a.grid_layout.cols == b.grid_layout.cols


class ListJournal:
    """The journal's ``record_vote`` signature, kept in memory."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def record_vote(
        self,
        *,
        run_id: str | None,
        row_key: str,
        candidates: list[str],
        winner: str | None,
        loser: str | None = None,
        kind: str,
    ) -> int:
        self.calls.append(
            dict(
                run_id=run_id,
                row_key=row_key,
                candidates=list(candidates),
                winner=winner,
                loser=loser,
                kind=kind,
            )
        )
        return len(self.calls)


def _cell_of(grid: ComparisonGrid, model: str, row: int) -> int:
    return next(
        i
        for i, r in enumerate(grid.results)
        if r.request.model == model and grid.grid_layout.positions[i][0] == row
    )


def test_votes_from_the_front_end(
    recording: list[RecordingComm], two_by_three: list[Result]
) -> None:
    journal = ListJournal()
    seen: list[dict[str, Any]] = []
    grid = ComparisonGrid(two_by_three, blind=True, journal=journal, run_id="r1")
    grid.on_vote.append(seen.append)
    veo = _cell_of(grid, "veo", 0)
    grid._handle_custom_msg({"type": "vote", "row": 0, "kind": "best", "cell": veo}, [])
    grid._handle_custom_msg({"type": "vote", "row": 1, "kind": "tie"}, [])
    assert grid.votes == [
        {
            "row": "a dog",
            "winner": "veo",
            "kind": "best",
            "row_index": 0,
            "candidates": [
                grid.results[i].request.model
                for i in sorted(
                    (i for i in range(6) if grid.grid_layout.positions[i][0] == 0),
                    key=lambda i: grid.grid_layout.positions[i][1],
                )
            ],
        },
        {
            "row": "a boat",
            "winner": None,
            "kind": "tie",
            "row_index": 1,
            "candidates": grid.votes[1]["candidates"],
        },
    ]
    assert sorted(grid.votes[1]["candidates"]) == ["kling", "sora", "veo"]
    assert journal.calls[0] == {
        "run_id": "r1",
        "row_key": "a dog",
        "winner": "veo",
        "loser": None,
        "kind": "best",
        "candidates": grid.votes[0]["candidates"],
    }
    assert journal.calls[1]["kind"] == "tie" and journal.calls[1]["winner"] is None
    assert [v["winner"] for v in seen] == ["veo", None]
    assert grid.voted == {"0": {"kind": "best", "cell": veo}, "1": {"kind": "tie", "cell": None}}
    # A second vote on a row replaces the first in the grid.
    sora = _cell_of(grid, "sora", 0)
    grid._handle_custom_msg({"type": "vote", "row": 0, "kind": "best", "cell": sora}, [])
    assert [v["winner"] for v in grid.votes] == [None, "sora"]
    scores = grid.scores()
    assert scores["sora"] == {"wins": 1, "ties": 1, "losses": 0, "rows": 2, "win_rate": 0.75}
    assert scores["veo"]["win_rate"] == 0.25 and next(iter(scores)) == "sora"


def test_votes_saved_in_the_real_journal(
    recording: list[RecordingComm], two_by_three: list[Result], tmp_path: pathlib.Path
) -> None:
    journal_mod = pytest.importorskip("videogen_nb.store.journal")
    journal = journal_mod.Journal(tmp_path / "journal.db")
    grid = ComparisonGrid(two_by_three, blind=True, journal=journal, run_id="r2")
    grid._handle_custom_msg(
        {"type": "vote", "row": 1, "kind": "best", "cell": _cell_of(grid, "kling", 1)}, []
    )
    grid._handle_custom_msg({"type": "vote", "row": 0, "kind": "skip"}, [])
    saved = journal.votes(run_id="r2")
    assert {(v.row_key, v.kind, v.winner) for v in saved} == {
        ("a boat", "best", "kling"),
        ("a dog", "skip", None),
    }
    assert grid.message == ""
    assert win_rates(saved) == win_rates(grid.votes)


def test_bad_votes_are_refused(
    recording: list[RecordingComm], videos: dict[str, pathlib.Path]
) -> None:
    journal = ListJournal()
    results = [done("kling", "a dog", videos["a"]), failed("veo", "a dog", "boom")]
    grid = ComparisonGrid(results, blind=True, journal=journal)
    grid._handle_custom_msg({"type": "vote", "row": 0, "kind": "best", "cell": 1}, [])
    grid._handle_custom_msg({"type": "vote", "row": 0, "kind": "tie"}, [])
    grid._handle_custom_msg({"type": "vote", "row": 0, "kind": "maybe", "cell": 0}, [])
    grid._handle_custom_msg({"type": "vote", "row": 5, "kind": "skip"}, [])
    assert grid.votes == [] and journal.calls == [] and grid.message
    # A failed model is not a candidate: it was not there to be judged.
    grid._handle_custom_msg({"type": "vote", "row": 0, "kind": "best", "cell": 0}, [])
    assert grid.votes[0]["candidates"] == ["kling"]


def test_reveal_shows_model_names(
    recording: list[RecordingComm], two_by_three: list[Result]
) -> None:
    grid = ComparisonGrid(two_by_three, blind=True, blind_seed=1)
    grid._handle_custom_msg({"type": "reveal"}, [])
    assert grid.revealed
    # Each row orders the models its own way: the columns stay letters, the captions name
    # each cell's model.
    labels = [c["label"] for c in grid.axes["cols"]]
    assert labels == ["A", "B", "C"]
    assert all(dict(c["caption"]).get("model") for c in grid.cells)
    assert sorted(dict(c["caption"])["model"] for c in grid.cells if c["r"] == 0) == [
        "kling",
        "sora",
        "veo",
    ]


def test_journal_failure_keeps_the_vote(
    recording: list[RecordingComm], two_by_three: list[Result]
) -> None:
    class Broken:
        def record_vote(self, **_: Any) -> None:
            raise OSError("disk full")

    grid = ComparisonGrid(two_by_three, blind=True, journal=Broken())
    grid.vote(0, "skip")
    assert grid.votes[0]["kind"] == "skip" and "disk full" in grid.message


def test_win_rates_counts_ties_half_and_ignores_skips() -> None:
    votes = [
        {"kind": "best", "winner": "a", "candidates": ["a", "b", "c"]},
        {"kind": "best", "winner": "b", "candidates": ["a", "b"]},
        {"kind": "tie", "winner": None, "candidates": ["a", "c"]},
        {"kind": "skip", "winner": None, "candidates": ["a", "b", "c"]},
        {"kind": "pair", "winner": "c", "loser": "b", "candidates": ["b", "c"]},
    ]
    rates = win_rates(votes)
    assert rates["a"] == {"wins": 1, "ties": 1, "losses": 1, "rows": 3, "win_rate": 0.5}
    assert rates["b"] == {"wins": 1, "ties": 0, "losses": 2, "rows": 3, "win_rate": 1 / 3}
    assert rates["c"] == {"wins": 1, "ties": 1, "losses": 1, "rows": 3, "win_rate": 0.5}
    assert list(rates) == ["a", "c", "b"]
    assert win_rates([]) == {}


def test_fps_for_stepping(recording: list[RecordingComm], two_by_three: list[Result]) -> None:
    assert ComparisonGrid(two_by_three).fps == 8.0  # read from the first video
    assert ComparisonGrid(two_by_three, fps=24).fps == 24.0


def test_front_end_files_ship_with_the_grid_layout() -> None:
    js = grid_js()
    assert "export default" in js and "innerHTML" not in js
    assert "textContent" in js and "msg:custom" in js
    assert ComparisonGrid._esm == js and ComparisonGrid._css == grid_css()
