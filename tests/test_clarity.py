"""What is running, how long it will take, and what went wrong, in readable words.

``client.generate()`` shows its live row in a notebook (and nothing in a script); the run
line reads like tqdm; every column is named; an estimate says what it rests on; a long
error does not squeeze the table; the grid says why a cell failed without "made in"; the
catalog's warnings sit on their row instead of printing as raw Python warnings.
"""

from __future__ import annotations

import re
import time
import warnings
from collections.abc import Iterator
from typing import Any

import pytest

from tests.test_studio import choose_file, png_bytes
from videogen_nb.client import sync_client
from videogen_nb.client.sync_client import Client
from videogen_nb.core.errors import TaskFailedError
from videogen_nb.core.request import VideoRequest
from videogen_nb.core.task import Result, Task, TaskStatus
from videogen_nb.display.layout import build_layout, cell_states
from videogen_nb.display.table import (
    COLUMNS,
    MESSAGE_LINE_CHARS,
    TABLE_CSS,
    estimate_text,
    summary_text,
    table_html,
)
from videogen_nb.run.rows import RowState
from videogen_nb.run.run import Run
from videogen_nb.store.catalog import CatalogWarning
from videogen_nb.widgets.studio import Studio


@pytest.fixture
def client(make_sandbox: Any, client_options: dict[str, Any]) -> Iterator[Client]:
    sb = make_sandbox(task_seconds=0.2)
    c = Client(sb.base_url, sb.api_key, **client_options)
    c.sandbox = sb  # type: ignore[attr-defined]
    yield c
    c.close()


@pytest.fixture
def shown(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """What ``IPython.display.display`` was handed, as in a notebook kernel."""
    import IPython.display

    seen: list[Any] = []
    monkeypatch.setattr(IPython.display, "display", lambda obj, *a, **k: seen.append(obj))
    return seen


def test_generate_shows_its_live_row_in_a_notebook(
    client: Client, shown: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    req = VideoRequest(model="kling-v1", prompt="a boat", duration=5)
    # A script: silent.
    result = client.generate(req, force=True)
    assert result.ok and shown == []
    # A notebook kernel: the single task's live row, then the same kind of result.
    monkeypatch.setattr(sync_client, "_notebook_display", lambda: True)
    result = client.generate(req.replace(seed=2))
    assert result.ok and result.path is not None and result.path.is_file()
    # The run view shows itself as two raw bundles, the widget, then its fallback with a
    # display id (so the run's end can update what a saved notebook keeps): the table, one
    # row, no grid.
    assert len(shown) == 2 and all(isinstance(one, dict) for one in shown)
    bundle = shown[1]
    assert bundle["text/plain"].startswith("1 task: ")
    assert "vg-run-static" in bundle["text/html"] and "vg-static-grid" not in bundle["text/html"]
    # A failure still raises, after showing its row.
    client.sandbox.configure(failure_rate=1.0)  # type: ignore[attr-defined]
    with pytest.raises(TaskFailedError):
        client.generate(req.replace(seed=3))
    assert len(shown) == 4


def _run_by_hand(client: Client, n: int) -> Run:
    requests = [VideoRequest(model="kling-v1", prompt=f"p{i}", duration=5) for i in range(n)]
    return Run.from_requests(
        client.aclient, requests, lanes=client.lanes, scheduler=client.aclient.scheduler
    )


def test_summary_is_a_progress_line_and_every_column_is_named(client: Client) -> None:
    run = _run_by_hand(client, 6)
    now = time.time()
    for row in run.rows[:3]:
        row.state = RowState.DONE
    for row, progress in zip(run.rows[3:5], (40, 50), strict=True):
        row.state = RowState.IN_PROGRESS
        row.task = Task(id=f"t{row.index}", status=TaskStatus.IN_PROGRESS, progress=progress)
        row.submitted_at = now - 20
    run.rows[5].state = RowState.QUEUED
    run.rows[5].task = Task(id="t5", status=TaskStatus.QUEUED)
    run.rows[5].submitted_at = now - 5
    line = summary_text(run)
    assert line.startswith("6 tasks: 3/6 done · 1 queued · 2 running")
    assert "in_progress" not in line
    # One task has no estimate yet: the line says the run takes at least that long.
    assert "≥ ~30 s left" in line, line
    html = table_html(run)
    heads = re.findall(r"<th>(.*?)</th>", html)
    assert heads == list(COLUMNS) and all(heads)


def test_estimates_are_rounded_and_say_what_they_rest_on(client: Client) -> None:
    run = _run_by_hand(client, 3)
    row = run.rows[0]
    row.state = RowState.IN_PROGRESS
    row.task = Task(id="t", status=TaskStatus.IN_PROGRESS, progress=13)
    row.submitted_at = time.time() - 12.3
    text, basis = estimate_text(row)
    assert text == "~1-2 min" and basis == "from the progress rate: 13% in 12.3 s"
    row.task = Task(id="t", status=TaskStatus.IN_PROGRESS, progress=None)
    assert estimate_text(row)[0] == "2-6 min"  # a range from the catalog's typical time
    row.request = VideoRequest(model="acme-unknown", prompt="p")
    assert estimate_text(row) == ("?", "the gateway reports no progress for this task yet")
    assert estimate_text(run.rows[1]) == ("", "not sent yet")


def test_a_long_error_does_not_squeeze_the_table(client: Client) -> None:
    run = _run_by_hand(client, 1)
    row = run.rows[0]
    long = "The upstream provider rejected this request: " + "word " * 200
    row.state = RowState.FAILED
    row.task = Task(id="t-long", status=TaskStatus.FAILED, error=long)
    row.error = TaskFailedError(row.task)
    html = table_html(run)
    summary = re.search(r'<div class="m"><details><summary>(.*?)</summary>', html)
    assert summary is not None and len(summary.group(1)) <= MESSAGE_LINE_CHARS
    assert "word word" in html.split("</summary>", 1)[1]  # the whole text, one click away
    # Model names, bars and times never wrap; the message line is cut with an ellipsis.
    assert '<td class="md">kling-v1</td>' in html
    for rule in (
        "td.md,.vg-rt td.st,.vg-rt td.pg,.vg-rt td.tm,.vg-rt td.se{white-space:nowrap}",
        ".vg-rt td.pg{min-width:130px}",
        "text-overflow:ellipsis",
    ):
        assert rule in TABLE_CSS


def test_grid_failure_reads_as_words_without_made_in() -> None:
    req = VideoRequest(model="kling-v1", prompt="a dog")
    task = Task(id="task-123abc", status=TaskStatus.FAILED, error="content policy: no dogs")
    result = Result(request=req, task=task, error=TaskFailedError(task), elapsed=25.9)
    (cell,) = cell_states([result], build_layout([result]))
    assert cell["state"] == "failed"
    assert not any("made in" in text for _k, text in cell["caption"])
    assert cell["reason"] == "Content policy: no dogs"  # no task id up front
    assert "task-123abc" in cell["error"]  # the whole text, in the details


def test_catalog_warnings_sit_on_their_row_not_in_a_raw_warning(client: Client) -> None:
    studio = Studio(client)
    studio.models.value = ("kling-v1",)
    studio.prompt.value = "a fox"
    # A last frame without a first one: allowed, but the catalog has a word about it.
    choose_file(studio.last_frame.button, png_bytes(), "last.png")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run = studio.generate()
        assert run is not None, studio.error("general")
        run.wait(30)
    assert not [w for w in caught if issubclass(w.category, CatalogWarning)]
    view = studio.run_view
    assert view is not None and view.table is not None
    view.table.refresh()
    assert "ⓘ last_image is set without a first frame" in view.table.html
    # A script (no display) still gets the Python warning.
    with pytest.warns(CatalogWarning, match="without a first frame"):
        client.run([run.requests[0].replace(seed=9)]).wait(30)


def test_no_progress_gives_a_range_from_the_models_typical_time(client: Client) -> None:
    run = _run_by_hand(client, 1)
    row = run.rows[0]  # kling-v1: typical 240 s in the catalog
    row.state = RowState.QUEUED
    row.task = Task(id="t", status=TaskStatus.QUEUED)
    row.submitted_at = time.time() - 10
    text, basis = estimate_text(row)
    assert text == "2-6 min" and "typical for this model: ~4 min" in basis
    assert f'title="{basis}"' in table_html(run)
