"""The journal's one state machine: entry states are ``core.states.EntryState``, every write
is checked against ``TRANSITIONS``, and the state buckets cover every state exactly once."""

from __future__ import annotations

import pathlib
import sqlite3
from collections.abc import Iterator

import pytest

from videogen_nb.core.errors import TaskIdConflictError
from videogen_nb.core.request import VideoRequest
from videogen_nb.core.states import (
    FAILED_STATES,
    FINISHED_STATES,
    PENDING_STATES,
    SUCCEEDED_STATES,
    TRANSITIONS,
    UNFINISHED_STATES,
    EntryState,
)
from videogen_nb.core.task import Task, TaskStatus
from videogen_nb.store import journal as journal_mod
from videogen_nb.store.changes import IllegalTransitionError
from videogen_nb.store.journal import Journal, JournalEntry

GATEWAY = "http://127.0.0.1:8123"


@pytest.fixture
def journal(tmp_path: pathlib.Path) -> Iterator[Journal]:
    with Journal(tmp_path / "journal.sqlite") as j:
        yield j


def _entry(journal: Journal, prompt: str = "a paper boat") -> JournalEntry:
    return journal.record_request(
        VideoRequest(model="kling-v1", prompt=prompt), gateway=GATEWAY, dialect="unified"
    )


def test_every_state_has_its_moves_and_one_bucket() -> None:
    assert set(TRANSITIONS) == set(EntryState)
    buckets = [SUCCEEDED_STATES, FAILED_STATES, PENDING_STATES, {EntryState.CANCELLED}]
    for state in EntryState:
        assert sum(state in bucket for bucket in buckets) == 1, state
    assert set(FINISHED_STATES) | set(UNFINISHED_STATES) == set(EntryState)
    assert not set(FINISHED_STATES) & set(UNFINISHED_STATES)


def test_entry_state_is_the_enum_and_compares_as_text(journal: Journal) -> None:
    entry = _entry(journal)
    assert entry.state is EntryState.CREATED and entry.state == "created"
    sent = journal.mark_sending(entry.id)
    assert sent.state is EntryState.SENDING
    assert journal.get(entry.id).state is EntryState.SENDING  # read back from the file too
    # the old names stay importable from the journal module, as the enum's members
    assert tuple(EntryState) == journal_mod.ENTRY_STATES
    assert journal_mod.UNFINISHED_STATES == UNFINISHED_STATES
    with pytest.raises(ValueError, match="exploded"):
        JournalEntry(**{**_fields(sent), "state": "exploded"})


def _fields(entry: JournalEntry) -> dict[str, object]:
    import attrs

    return attrs.asdict(entry, recurse=False)


def test_an_illegal_move_raises_and_writes_nothing(journal: Journal) -> None:
    entry = _entry(journal)
    journal.record_submit(entry.id, Task(id="t1", status=TaskStatus.QUEUED))
    with pytest.raises(IllegalTransitionError) as info:
        journal.record_error(entry.id, "resending", state="sending")
    message = str(info.value)
    assert f"journal entry {entry.id}" in message and "submitted -> sending" in message
    assert (info.value.old, info.value.new) == (EntryState.SUBMITTED, EntryState.SENDING)
    after = journal.get(entry.id)
    assert after.state is EntryState.SUBMITTED and after.error is None


def test_a_late_pending_snapshot_cannot_revive_a_cancelled_entry(journal: Journal) -> None:
    entry = _entry(journal)
    journal.record_submit(entry.id, Task(id="t1", status=TaskStatus.QUEUED))
    journal.record_error(entry.id, "user cancelled", state="cancelled")
    with pytest.raises(IllegalTransitionError, match="cancelled -> submitted"):
        journal.record_task(entry.id, Task(id="t1", status=TaskStatus.IN_PROGRESS))
    assert journal.get(entry.id).state is EntryState.CANCELLED


def test_a_resubmission_never_replaces_the_task_id(journal: Journal) -> None:
    # issue 12: whatever the state, a second task id is refused and nothing is written
    entry = _entry(journal)
    journal.record_submit(entry.id, Task(id="old", status=TaskStatus.FAILED))
    with pytest.raises(TaskIdConflictError):
        journal.record_submit(entry.id, Task(id="new", status=TaskStatus.QUEUED))
    submitted = _entry(journal)
    journal.record_submit(submitted.id, Task(id="first", status=TaskStatus.QUEUED))
    with pytest.raises(TaskIdConflictError):
        journal.record_submit(submitted.id, Task(id="second", status=TaskStatus.QUEUED))
    assert journal.get(entry.id).task_id == "old"
    assert journal.get(submitted.id).task_id == "first"


def test_the_stored_text_is_the_state_value(journal: Journal) -> None:
    entry = _entry(journal)
    journal.record_submit(entry.id, Task(id="t1", status=TaskStatus.COMPLETED))
    with sqlite3.connect(journal.path) as raw:
        (state,) = raw.execute("SELECT state FROM entries WHERE id = ?", (entry.id,)).fetchone()
    assert state == "completed" and type(state) is str
    assert [e.id for e in journal.entries(states=[EntryState.COMPLETED])] == [entry.id]
    assert [e.id for e in journal.entries(states="completed")] == [entry.id]
