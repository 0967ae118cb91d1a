"""Issue 13, scale: the journal commits poll snapshots in batches (``store.write_behind``)
without weakening what it promises: a submit's task id is on disk when ``submit`` returns,
the process reads what it wrote, an entry's moves stay in order, and a killed process
loses only progress readings."""

from __future__ import annotations

import os
import pathlib
import signal
import sqlite3
import subprocess
import sys
import textwrap

import pytest

import videogen_nb as vg
from tests.support import small
from videogen_nb.core.states import EntryState
from videogen_nb.core.task import Task, TaskStatus
from videogen_nb.store.journal import Journal


def _entry(journal: Journal, task_id: str = "t1") -> int:
    entry = journal.record_request(
        vg.VideoRequest(model="kling-v1", prompt="a boat"), gateway="http://gw", dialect="unified"
    )
    journal.record_submit(entry.id, Task(id=task_id, status=TaskStatus.QUEUED))
    return entry.id


def _on_disk(path: pathlib.Path, entry_id: int) -> sqlite3.Row:
    """The entry as another process would read it now (a fresh connection)."""
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row
    try:
        return conn.execute("SELECT * FROM entries WHERE id = ?", (entry_id,)).fetchone()
    finally:
        conn.close()


def test_poll_snapshots_are_held_then_committed_together(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "j.sqlite"
    with Journal(path) as journal:
        ids = [_entry(journal, f"t{i}") for i in range(3)]
        for entry_id in ids:
            running = Task(id="x", status=TaskStatus.IN_PROGRESS, progress=40)
            journal.record_poll(entry_id, running)
        # held: another process does not see them yet ...
        assert all(_on_disk(path, i)["progress"] is None for i in ids)
        # ... this one reads what it wrote (a read commits what is held)
        assert journal.get(ids[0]).progress == 40
        assert [_on_disk(path, i)["progress"] for i in ids] == [40, 40, 40]


def test_close_commits_held_snapshots(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "j.sqlite"
    journal = Journal(path)
    entry_id = _entry(journal)
    journal.record_poll(
        entry_id, Task(id="t1", status=TaskStatus.COMPLETED, video_url="http://v/1")
    )
    assert _on_disk(path, entry_id)["state"] == "submitted"
    journal.close()
    row = _on_disk(path, entry_id)
    assert (row["state"], row["video_url"]) == ("completed", "http://v/1")


def test_an_entrys_held_snapshots_go_first_in_its_next_write(tmp_path: pathlib.Path) -> None:
    # a held "running" applied after the timeout would revive the entry: it must go first
    with Journal(tmp_path / "j.sqlite") as journal:
        entry_id = _entry(journal)
        journal.record_poll(entry_id, Task(id="t1", status=TaskStatus.IN_PROGRESS, progress=70))
        journal.record_error(entry_id, "waited too long", state="timed_out")
        journal.flush()
        entry = journal.get(entry_id)
        assert entry.state is EntryState.TIMED_OUT and entry.progress == 70


def test_a_held_snapshot_of_an_entry_that_ended_meanwhile_is_dropped(
    tmp_path: pathlib.Path,
) -> None:
    path = tmp_path / "j.sqlite"
    with Journal(path) as journal:
        entry_id = _entry(journal)
        journal.record_poll(entry_id, Task(id="t1", status=TaskStatus.IN_PROGRESS, progress=10))
        # another process (its own connection) cancels the entry while the snapshot is held
        conn = sqlite3.connect(path)
        conn.execute("UPDATE entries SET state = 'cancelled' WHERE id = ?", (entry_id,))
        conn.commit()
        conn.close()
        journal.flush()  # the stale snapshot is dropped, not an error
        assert journal.get(entry_id).state is EntryState.CANCELLED


def test_failed_snapshots_are_not_held(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "j.sqlite"
    with Journal(path) as journal:
        entry_id = _entry(journal)
        journal.record_poll(entry_id, Task(id="t1", status=TaskStatus.FAILED, error="boom"))
        assert _on_disk(path, entry_id)["state"] == "failed"


def test_held_snapshots_commit_after_max_age(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "j.sqlite"
    with Journal(path) as journal:
        journal._behind.max_age = 0.0  # due at once: the next snapshot commits them all
        entry_id = _entry(journal)
        journal.record_poll(entry_id, Task(id="t1", status=TaskStatus.IN_PROGRESS, progress=5))
        assert _on_disk(path, entry_id)["progress"] == 5


CHILD = textwrap.dedent(
    """
    import asyncio, os, signal, sys, warnings
    warnings.simplefilter("ignore")
    import videogen_nb as vg

    async def main():
        client = vg.AsyncClient(journal=sys.argv[1], output_dir=sys.argv[2])
        task = await client.submit(vg.VideoRequest(model="kling-v1", prompt="kill me",
                                                   size="160x90", duration=1))
        print(task.id, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)  # right after submit returned

    asyncio.run(main())
    """
)


#: eight submits at once (their journal writes grouped); killed when the first returns
GROUPED_CHILD = textwrap.dedent(
    """
    import asyncio, os, signal, sys, warnings
    warnings.simplefilter("ignore")
    import videogen_nb as vg

    async def main():
        client = vg.AsyncClient(journal=sys.argv[1], output_dir=sys.argv[2])
        submits = [client.submit(vg.VideoRequest(model="kling-v1", prompt=f"kill me {i}",
                                                 size="160x90", duration=1))
                   for i in range(8)]
        task = await next(asyncio.as_completed(submits))
        print(task.id, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)  # right after the first submit returned

    asyncio.run(main())
    """
)


@pytest.mark.parametrize("shape", ["alone", "polls_first", "grouped"])
def test_the_submit_id_is_on_disk_when_submit_returns(
    make_sandbox, tmp_path: pathlib.Path, shape: str
) -> None:
    sandbox = make_sandbox(task_seconds=30)
    journal_path = tmp_path / "journal.sqlite"
    if shape == "grouped":
        code = GROUPED_CHILD
    elif shape == "polls_first":
        # the same journal already holds another task's poll snapshots (a run in flight)
        code = CHILD.replace(
            "        task = await client.submit(",
            "        first = await client.submit(vg.VideoRequest(model='kling-v1', prompt='one',"
            " size='160x90', duration=1))\n"
            "        await client.retrieve(first)\n"
            "        task = await client.submit(",
        )
    else:
        code = CHILD
    script = tmp_path / "child.py"
    script.write_text(code)
    env = {
        **os.environ,
        "VIDEOGEN_BASE_URL": sandbox.base_url,
        "VIDEOGEN_API_KEY": sandbox.api_key,
        "PYTHONPATH": str(pathlib.Path(vg.__file__).resolve().parent.parent),
    }
    done = subprocess.run(
        [sys.executable, str(script), str(journal_path), str(tmp_path / "videos")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == -signal.SIGKILL, done.stderr
    task_id = done.stdout.split()[-1]
    with Journal(journal_path) as journal:
        entry = journal.by_task_id(task_id)
    assert entry is not None and entry.state is EntryState.SUBMITTED


async def test_a_run_journals_every_row_through_the_batched_snapshots(sandbox, make_client):
    client = make_client(sandbox)
    run = client.run([small(f"scale {i}") for i in range(6)], concurrency=6)
    await run
    assert [row.state.value for row in run.rows] == ["done"] * 6
    states = {entry.state for entry in client.journal.entries()}
    assert states == {EntryState.DOWNLOADED}
