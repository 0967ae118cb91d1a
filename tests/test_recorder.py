"""The one recorder of journal transitions (``tasks.recorder``), and its null twin."""

from __future__ import annotations

import inspect
import pathlib

import pytest

import videogen_nb as vg
from tests.support import small
from videogen_nb.core.errors import RateLimitError, ServerError
from videogen_nb.core.states import EntryState
from videogen_nb.store.journal import Journal
from videogen_nb.tasks.recorder import (
    DEFAULT,
    JournalRecorder,
    NullRecorder,
    Recorder,
    open_recorder,
    recorder_for,
)

GATEWAY = "http://127.0.0.1:1"


@pytest.fixture
def journal(tmp_path: pathlib.Path):
    with Journal(tmp_path / "journal.sqlite") as opened:
        yield opened


def _entry(recorder: JournalRecorder):
    (entry,) = recorder.requests([small()], gateway=GATEWAY, dialect="openai", run_id="r1")
    assert entry is not None and entry.state == EntryState.CREATED
    return entry


def _public(cls: type) -> dict[str, inspect.Signature]:
    return {
        name: inspect.signature(member)
        for name, member in vars(cls).items()
        if not name.startswith("_") and callable(member)
    }


def test_null_and_journal_recorders_take_the_same_calls():
    protocol = _public(Recorder)
    assert _public(NullRecorder) == protocol
    assert _public(JournalRecorder) == protocol


def test_a_task_from_request_to_download(journal, tmp_path):
    recorder = JournalRecorder(journal)
    entry = _entry(recorder)
    recorder.sending(entry.id)
    assert journal.get(entry.id).state == EntryState.SENDING
    recorder.submitted(
        entry.id, vg.Task(id="video_1", status=vg.TaskStatus.QUEUED), dialect="openai"
    )
    assert journal.get(entry.id).state == EntryState.SUBMITTED
    recorder.observed(
        entry.id, vg.Task(id="video_1", status=vg.TaskStatus.IN_PROGRESS, progress=40)
    )
    assert journal.get(entry.id).progress == 40
    recorder.observed(entry.id, vg.Task(id="video_1", status=vg.TaskStatus.COMPLETED))
    assert journal.get(entry.id).state == EntryState.COMPLETED
    video = tmp_path / "v.mp4"
    video.write_bytes(b"\0" * 10)
    recorder.downloaded(entry.id, video, checksum=None, size=10)
    done = journal.get(entry.id)
    assert done.state == EntryState.DOWNLOADED and done.task_id == "video_1"
    assert recorder.by_task_id("video_1", gateway=GATEWAY).id == entry.id


def test_refused_submits(journal):
    recorder = JournalRecorder(journal)
    limited, refused = _entry(recorder), _entry(recorder)
    for entry, error in (
        (limited, RateLimitError("slow down", status_code=429)),
        (refused, ServerError("no", status_code=500)),
    ):
        recorder.sending(entry.id)
        recorder.submit_refused(entry.id, error)
    # a 429 created nothing and will be sent again; anything else is final
    assert journal.get(limited.id).state == EntryState.CREATED
    assert journal.get(refused.id).state == EntryState.FAILED


def test_unknown_outcome_failure_and_timeout(journal):
    recorder = JournalRecorder(journal)
    lost, failed, cancelled, slow = (_entry(recorder) for _ in range(4))
    recorder.sending(lost.id)
    recorder.submit_unknown(lost.id, "connection reset after the POST")
    assert journal.get(lost.id).state == EntryState.SUBMIT_UNKNOWN
    for entry, status in ((failed, vg.TaskStatus.FAILED), (cancelled, vg.TaskStatus.CANCELLED)):
        task = vg.Task(id=f"t{entry.id}", status=status, error="upstream said no")
        recorder.submitted(
            entry.id, vg.Task(id=task.id, status=vg.TaskStatus.QUEUED), dialect="openai"
        )
        recorder.failed(entry.id, vg.TaskFailedError(task), task=task)
    assert journal.get(failed.id).state == EntryState.FAILED
    # a task the gateway cancelled stays "cancelled" (never moved on to "failed")
    assert journal.get(cancelled.id).state == EntryState.CANCELLED
    task = vg.Task(id="t-slow", status=vg.TaskStatus.IN_PROGRESS)
    recorder.submitted(slow.id, task, dialect="openai")
    recorder.timed_out(slow.id, vg.TaskTimeoutError(task, 1.0))
    assert journal.get(slow.id).state == EntryState.TIMED_OUT


def test_cancelled_unsent_only_touches_requests_that_never_left(journal):
    recorder = JournalRecorder(journal)
    unsent, sending = _entry(recorder), _entry(recorder)
    recorder.sending(sending.id)
    recorder.cancelled_unsent(unsent.id)
    recorder.cancelled_unsent(sending.id)
    assert journal.get(unsent.id).state == EntryState.CANCELLED
    assert journal.get(sending.id).state == EntryState.SENDING  # it may exist remotely


def test_no_entry_and_no_journal_record_nothing(journal):
    recorder = JournalRecorder(journal)
    task = vg.Task(id="x", status=vg.TaskStatus.COMPLETED)
    recorder.submitted(None, task, dialect="openai")
    recorder.observed(None, task)
    recorder.failed(None, RuntimeError("x"))
    assert journal.entries() == []
    null = recorder_for(None)
    assert isinstance(null, NullRecorder) and null.journal is None
    entries = null.requests([small(), small()], gateway=GATEWAY, dialect="openai", run_id=None)
    assert entries == [None, None]
    assert null.find_completed("f", gateway=GATEWAY, model="m") is None


def test_open_recorder_follows_the_journal_option(journal, tmp_path, monkeypatch):
    assert open_recorder(journal).journal is journal
    assert open_recorder(None).journal is None
    opened = open_recorder(tmp_path / "other.sqlite").journal
    assert opened is not None and opened.path == tmp_path / "other.sqlite"
    opened.close()
    monkeypatch.setattr(Journal, "default_path", staticmethod(lambda: tmp_path / "default.sqlite"))
    default = open_recorder(DEFAULT).journal
    assert default is not None and default.path == tmp_path / "default.sqlite"
    default.close()


async def test_a_client_without_journal_runs_through_the_null_recorder(sandbox, make_client):
    client = make_client(sandbox, journal=None)
    assert isinstance(client.recorder, NullRecorder)
    result = await client.generate(small())
    assert result.ok and result.journal_id is None


def test_a_late_poll_answer_after_a_local_cancel_is_dropped(journal: Journal) -> None:
    # The user cancelled while a poll was on the wire; its "still running" answer must
    # neither revive the entry nor fail the follow loop.
    recorder = JournalRecorder(journal)
    entry = _entry(recorder)
    recorder.sending(entry.id)
    recorder.submitted(entry.id, vg.Task(id="t1", status=vg.TaskStatus.QUEUED), dialect="openai")
    journal.record_error(entry.id, "user cancelled", state="cancelled")
    recorder.observed(entry.id, vg.Task(id="t1", status=vg.TaskStatus.IN_PROGRESS, progress=40))
    assert journal.get(entry.id).state is EntryState.CANCELLED
