"""The live run display against a real sandbox: rows, throttling, threads, escaping, report."""

from __future__ import annotations

import asyncio
import json
import pathlib
import threading
import time
from collections.abc import Iterator
from typing import Any

import comm
import pytest
from comm.base_comm import BaseComm

from tests.support import wait_for_sync as wait_for
from videogen_nb import sandbox
from videogen_nb.client.sync_client import Client, background_loop
from videogen_nb.core.errors import APIError
from videogen_nb.core.request import VideoRequest
from videogen_nb.core.task import Task, TaskStatus
from videogen_nb.display.html import escape
from videogen_nb.display.table import format_seconds, table_html, table_text
from videogen_nb.run.presenter import get_presenter, set_presenter
from videogen_nb.run.run import RowState, Run
from videogen_nb.tasks.polling import PollPolicy
from videogen_nb.widgets import run_view as presenter_mod
from videogen_nb.widgets.live_table import Coalescer, LiveTable
from videogen_nb.widgets.run_view import NotebookPresenter, RunView, install, show_run

HOSTILE = "<img src=x onerror=alert(1)>"
FAST_POLL = PollPolicy(min_delay=0.05, max_delay=0.2, fine_interval=0.05, floor=0.02)


class RecordingComm(BaseComm):
    """A comm that keeps what the kernel would send to the front end, and from which thread."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.published: list[tuple[str, Any, int]] = []
        super().__init__(*args, **kwargs)

    def publish_msg(
        self,
        msg_type: str,
        data: Any = None,
        metadata: Any = None,
        buffers: Any = None,
        **keys: Any,
    ) -> None:
        self.published.append((msg_type, data, threading.get_ident()))

    def updates(self) -> list[tuple[dict[str, Any], int]]:
        return [
            (d, tid)
            for t, d, tid in self.published
            if t == "comm_msg" and d.get("method") == "update"
        ]


@pytest.fixture
def comms(monkeypatch: pytest.MonkeyPatch) -> dict[str, RecordingComm]:
    made: dict[str, RecordingComm] = {}

    def create_comm(*args: Any, **kwargs: Any) -> RecordingComm:
        c = RecordingComm(*args, **kwargs)
        made[c.comm_id] = c
        return c

    monkeypatch.setattr(comm, "create_comm", create_comm)
    return made


@pytest.fixture(scope="module")
def sb() -> Iterator[sandbox.SandboxHandle]:
    handle = sandbox.start(task_seconds=0.3)
    yield handle
    handle.stop()


@pytest.fixture
def client(sb: sandbox.SandboxHandle, tmp_path: pathlib.Path) -> Iterator[Client]:
    c = Client(
        sb.base_url,
        sb.api_key,
        journal=tmp_path / "journal.db",
        output_dir=tmp_path / "videos",
        poll=FAST_POLL,
    )
    yield c
    c.close()


def requests(n: int, prompt: str = "a paper boat", model: str = "kling-v1") -> list[VideoRequest]:
    return [VideoRequest(model=model, prompt=f"{prompt} {i}", duration=5, seed=i) for i in range(n)]


def row_states(html: str) -> list[str]:
    return [part.split('"', 1)[0] for part in html.split('<tr class="s-')[1:]]


def test_table_follows_a_run_to_the_end_and_grid_appears(
    client: Client, sb: sandbox.SandboxHandle
) -> None:
    before = sb.tasks_created
    run = client.run(requests(4), rows="prompt", cols="model")
    view = show_run(run, interval=0.05)
    assert view.table is not None
    run.wait(30)
    wait_for(lambda: row_states(view.table.html) == ["done"] * 4, what="four done rows")
    assert sb.tasks_created - before == 4
    html = view.table.html
    assert "4 tasks: 4/4 done" in html and "finished" in html
    assert html.count('<progress max="100" value="100">') == 4
    for i in range(4):
        assert f"a paper boat {i}" in html
    # Finished without failures: folded into its summary line.
    assert '<details class="vg-run">' in html
    wait_for(lambda: view.grid is not None, what="the grid")
    assert view.grid is not None
    wait_for(lambda: all(r.ok for r in view.grid.results), what="grid results")
    assert [r.path for r in view.grid.results] == [r.path for r in run.results]
    assert view.grid.run_id == run.run_id
    # The grid sits in the Output, put there with append_display_data.
    outputs = view.grid_out.outputs
    assert len(outputs) == 1
    assert (
        outputs[0]["data"]["application/vnd.jupyter.widget-view+json"]["model_id"]
        == view.grid.model_id
    )


def test_text_fallback_in_mimebundle(client: Client) -> None:
    run = client.run(requests(2, prompt="a dog"))
    view = show_run(run, interval=0.05)
    run.wait(30)
    bundle = view._repr_mimebundle_()
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == view.widget.model_id
    text = bundle["text/plain"]
    lines = text.splitlines()
    assert lines[0].startswith("2 tasks: 2/2 done")
    assert lines[1].split() == [
        "#",
        "model",
        "prompt",
        "status",
        "progress",
        "elapsed",
        "ETA",
        "cost",
        "message",
    ]
    assert [line.split()[1] for line in lines[2:]] == ["kling-v1", "kling-v1"]
    assert all(" done " in line for line in lines[2:])
    assert "<" not in text
    table = LiveTable(run)
    assert table._repr_mimebundle_()["text/plain"] == table_text(run)
    assert repr(run) == "Run(2 tasks: 2 done)"


def test_failures_show_the_gateway_message_escaped(
    client: Client, sb: sandbox.SandboxHandle
) -> None:
    sb.configure(failure_rate=1.0)
    try:
        run = client.run(requests(3, prompt=HOSTILE))
        view = show_run(run, interval=0.05)
        run.wait(30)
    finally:
        sb.configure(failure_rate=0.0)
    wait_for(lambda: row_states(view.table.html) == ["failed"] * 3, what="three failed rows")
    html = view.table.html
    assert HOSTILE not in html and "<img" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    for row in run.rows:
        assert row.task is not None and row.task.error
        # The gateway's own words (any language) are in the row, inside the message cell.
        assert escape(row.task.error) in html
    assert html.count('<div class="m">') == 3
    assert '<details class="vg-run" open>' in html  # failures keep the table open
    assert "failed" in table_text(run)
    assert view.grid is None  # nothing to compare


def test_hostile_gateway_message_and_unicode_escaped(client: Client) -> None:
    # A run built but not started: rows set by hand as the run layer would.
    run = Run.from_requests(
        client.aclient, requests(2), lanes=client.lanes, scheduler=client.aclient.scheduler
    )
    bad = '</td></tr><script>alert("x")</script>'
    run.rows[0].state = RowState.FAILED
    run.rows[0].error = APIError(bad, status_code=400)
    run.rows[1].state = RowState.IN_PROGRESS
    run.rows[1].task = Task(
        id="t1", status=TaskStatus.IN_PROGRESS, progress=40, error=None, model="kling-v1"
    )
    run.rows[1].submitted_at = time.time() - 10
    html = table_html(run)
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert '<progress max="100" value="40"></progress> 40%' in html
    # ETA from the reported progress: 10 s for 40 % -> about 15 s left (no false digits),
    # with its basis in the tooltip.
    assert ">~15 s<" in html and "from the progress rate: 40% in 10.0 s" in html
    assert '<details class="vg-run" open>' in html


def test_updates_are_throttled_and_come_from_the_loop_thread(
    comms: dict[str, RecordingComm], client: Client
) -> None:
    notices: list[int | None] = []
    run = client.run(requests(24, prompt="a cat"))
    run.add_listener(notices.append)
    started = time.monotonic()
    view = show_run(run, interval=0.25, view="table")
    assert view.table is not None
    run.wait(60)
    took = time.monotonic() - started
    wait_for(lambda: "24 done" in view.table.html, what="final redraw")
    table_comm = comms[view.table.widget.comm.comm_id]
    updates = table_comm.updates()
    loop_thread = background_loop()._thread_id  # type: ignore[attr-defined]
    assert updates, "the table never updated"
    assert {tid for _d, tid in updates} == {loop_thread}
    # Many row changes, few redraws: at most one per interval (plus the final one).
    assert len(notices) > len(updates)
    assert len(updates) <= took / 0.25 + 3
    # Each update carries only the table's HTML value.
    assert all(set(d["state"]) == {"value"} for d, _tid in updates)
    assert max(len(json.dumps(d)) for d, _tid in updates) < 24 * 800


def test_coalescer_merges_pokes() -> None:
    loop = asyncio.new_event_loop()
    flushed: list[set[int]] = []
    try:
        coalescer = Coalescer(loop, flushed.append, interval=0.05)

        async def burst() -> None:
            for i in range(500):
                coalescer.poke(i % 50)
            await asyncio.sleep(0.15)
            coalescer.poke(7)
            await asyncio.sleep(0.15)

        loop.run_until_complete(burst())
    finally:
        loop.close()
    assert flushed == [set(range(50)), {7}]
    assert coalescer.flushes == 2


def test_views_table_grid(client: Client) -> None:
    run = client.run(requests(2, prompt="a fox"))
    table_only = show_run(run, view="table", interval=0.05)
    grid_only = show_run(run, view="grid", interval=0.05)
    # A grid view has its grid at once, with pending cells.
    assert grid_only.grid is not None and grid_only.table is None
    run.wait(30)
    wait_for(
        lambda: grid_only.grid is not None and all(r.ok for r in grid_only.grid.results),
        what="grid results",
    )
    wait_for(lambda: "2 done" in grid_only.summary.value, what="summary")
    wait_for(lambda: "2 done" in table_only.table.html, what="table")
    assert table_only.grid is None and table_only.grid_out not in table_only.widget.children
    with pytest.raises(ValueError, match="view must be one of"):
        RunView(run, view="cards")


def test_presenter_displays_and_writes_the_report(client: Client, tmp_path: pathlib.Path) -> None:
    previous = get_presenter()
    presenter = install(NotebookPresenter(interval=0.05))
    try:
        assert get_presenter() is presenter
        run = client.run(requests(2, prompt="a paper boat in the rain"))
        run._ipython_display_()  # what IPython calls for the last expression of a cell
        view = presenter.last_view
        assert isinstance(view, RunView) and view.run is run
        run.wait(30)
        out = run.to_html(tmp_path / "report.html", embed=False)
        page = out.read_text(encoding="utf-8")
        assert "a paper boat in the rain 0" in page and "kling-v1" in page
        # Not embedded: linked relative to the report's folder.
        assert "data:video/mp4;base64" not in page
        assert "videos/" in page
        embedded = presenter.write_html(
            run, tmp_path / "embedded.html", embed=True, title="<b>my</b> title"
        )
        text = embedded.read_text(encoding="utf-8")
        assert "data:video/mp4;base64" in text
        assert "<title>&lt;b&gt;my&lt;/b&gt; title</title>" in text
    finally:
        set_presenter(previous)


def test_display_of_a_finished_run_without_loop(client: Client) -> None:
    run = Run.from_requests(
        client.aclient, requests(1), lanes=client.lanes, scheduler=client.aclient.scheduler
    )
    view = RunView(run, view="both").start()  # never started: drawn once, no loop needed
    assert row_states(view.table.html) == ["waiting"]
    assert presenter_mod._run_loop(run) is None


def test_format_seconds() -> None:
    assert format_seconds(None) == ""
    assert format_seconds(4.26) == "4.3 s"
    assert format_seconds(75.2) == "1:15"
    assert format_seconds(3725) == "1:02:05"


def test_run_show_picks_the_view_through_the_presenter(monkeypatch):
    from videogen_nb.run.presenter import get_presenter

    seen = {}
    presenter = get_presenter()
    monkeypatch.setattr(presenter, "display", lambda run, **options: seen.update(options))

    class _Run:
        show = __import__("videogen_nb").Run.show

    _Run().show(view="table")
    assert seen == {"view": "table"}


def test_the_final_flush_shows_every_row_as_it_ended(
    client: Client, sb: sandbox.SandboxHandle
) -> None:
    run = client.run(requests(2), rows="prompt", cols="model")
    view = show_run(run, interval=0.05)
    run.wait(30)
    wait_for(lambda: view.grid is not None, what="the grid")
    assert view.grid is not None
    # a grid drawn while one row was still downloading, its end already counted as seen
    # (two tasks that end within one throttle interval)
    stale = [run.rows[0].result_now(), run.results[1]]
    view.grid.set_results(stale)
    assert view.grid.results[0].path is None
    view._flush_here(set())  # the run's last flush, with nothing marked dirty
    assert [r.path for r in view.grid.results] == [r.path for r in run.results]
    assert all(r.path is not None for r in view.grid.results)
