"""Issue 13, scale: the durable journal writes of concurrent submits share one transaction
(``tasks.group_commit``), and each caller still returns only once its own write is on disk,
gets its own error, and a caller cancelled before its turn writes nothing."""

from __future__ import annotations

import asyncio
import pathlib
import sqlite3

import pytest

import videogen_nb as vg
from videogen_nb.core.errors import LeaseLostError
from videogen_nb.core.states import EntryState
from videogen_nb.store.journal import Journal
from videogen_nb.tasks.recorder import JournalRecorder


def _entries(journal: Journal, n: int, owner: str | None = None) -> list[int]:
    requests = [vg.VideoRequest(model="kling-v1", prompt=f"p{i}") for i in range(n)]
    entries = journal.record_requests(requests, gateway="http://gw", dialect="unified", owner=owner)
    return [entry.id for entry in entries]


def _states_on_disk(path: pathlib.Path) -> dict[int, str]:
    """What another process reads now (its own connection)."""
    conn = sqlite3.connect(path)
    try:
        return dict(conn.execute("SELECT id, state FROM entries").fetchall())
    finally:
        conn.close()


def _statements(journal: Journal) -> list[str]:
    statements: list[str] = []
    journal._db.connection().set_trace_callback(statements.append)
    return statements


async def test_concurrent_writes_share_one_commit_and_are_on_disk_when_they_return(
    tmp_path: pathlib.Path,
) -> None:
    path = tmp_path / "j.sqlite"
    with Journal(path) as journal:
        recorder = JournalRecorder(journal)
        ids = _entries(journal, 10)
        statements = _statements(journal)

        async def send(entry_id: int) -> str:
            await recorder.grouped(lambda: recorder.sending(entry_id))
            return _states_on_disk(path)[entry_id]  # the moment it returns

        seen = await asyncio.gather(*(send(i) for i in ids))
        assert seen == ["sending"] * 10
        assert [s for s in statements if s == "COMMIT"] == ["COMMIT"]
        assert sum(s.startswith("BEGIN") for s in statements) == 1


async def test_a_failing_write_fails_alone(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "j.sqlite"
    with Journal(path) as journal:
        recorder = JournalRecorder(journal)
        mine = _entries(journal, 3, owner="run-a")
        theirs = _entries(journal, 1, owner="run-b")[0]
        results = await asyncio.gather(
            *(recorder.grouped(lambda i=i: recorder.sending(i, owner="run-a")) for i in mine),
            recorder.grouped(lambda: recorder.sending(theirs, owner="run-a")),
            return_exceptions=True,
        )
        assert results[:3] == [None, None, None]
        assert isinstance(results[3], LeaseLostError)
        on_disk = _states_on_disk(path)
        assert [on_disk[i] for i in mine] == ["sending"] * 3
        assert on_disk[theirs] == "created"


async def test_a_caller_cancelled_before_its_turn_writes_nothing(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "j.sqlite"
    with Journal(path) as journal:
        recorder = JournalRecorder(journal)
        first, second = _entries(journal, 2)
        kept = asyncio.ensure_future(recorder.grouped(lambda: recorder.sending(first)))
        dropped = asyncio.ensure_future(recorder.grouped(lambda: recorder.sending(second)))
        await asyncio.sleep(0)  # both are waiting for the group's turn
        dropped.cancel()
        await kept
        with pytest.raises(asyncio.CancelledError):
            await dropped
        assert journal.get(first).state is EntryState.SENDING
        assert journal.get(second).state is EntryState.CREATED


async def test_a_run_groups_its_submit_writes(sandbox, make_client) -> None:
    client = make_client(sandbox)
    statements = _statements(client.journal)
    run = client.run([vg.VideoRequest(model="kling-v1", prompt=f"g{i}") for i in range(12)])
    await run
    assert [row.state.value for row in run.rows] == ["done"] * 12
    # the writes of one group commit are the savepoints of one transaction
    groups: list[int] = []
    current = 0
    for statement in statements:
        if statement.startswith("SAVEPOINT"):
            current += 1
        elif statement == "COMMIT":
            groups.append(current)
            current = 0
    assert max(groups) >= 2, groups
