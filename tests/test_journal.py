"""The SQLite journal: states, cache lookup, resume set, votes, durability, privacy."""

from __future__ import annotations

import datetime as dt
import inspect
import json
import os
import pathlib
import selectors
import signal
import sqlite3
import stat
import subprocess
import sys
import textwrap
import threading
import time
import uuid

import pytest

import videogen_nb.store.journal as journal_mod
from videogen_nb.core.errors import (
    BadRequestError,
    TaskFailedError,
    TaskIdConflictError,
    ValidationError,
    VideoGenError,
)
from videogen_nb.core.request import VideoRequest
from videogen_nb.core.task import Task, TaskStatus
from videogen_nb.store.journal import (
    Journal,
    JournalEntry,
    file_checksum,
    normalize_gateway,
)
from videogen_nb.store.schema import SCHEMA_VERSION, migrate

GATEWAY = "http://127.0.0.1:8123"
REPO = pathlib.Path(__file__).resolve().parents[1]


def make_request(prompt: str = "a paper boat in the rain", model: str = "kling-v1", **kw):
    return VideoRequest(model=model, prompt=prompt, **kw)


def task(task_id: str, status: TaskStatus, **kw) -> Task:
    return Task(id=task_id, status=status, **kw)


@pytest.fixture
def journal(tmp_path: pathlib.Path):
    with Journal(tmp_path / "runs" / "journal.sqlite") as j:
        yield j


class FakeClock:
    """A settable clock for the journal, so timings are exact."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(journal_mod, "_now", fake)
    return fake


# -- recording and states ------------------------------------------------------------------


def test_record_request_stores_the_request_and_a_stable_key(journal: Journal) -> None:
    req = make_request(duration=5, seed=7, metadata={"note": "ünïcode ok"})
    entry = journal.record_request(req, gateway=GATEWAY + "/", dialect="unified", run_id="r1")

    assert entry.state == "created"
    assert entry.fingerprint == req.fingerprint()
    assert entry.request == req.to_dict()
    assert entry.request_obj() == req
    assert entry.gateway == GATEWAY
    assert entry.model == "kling-v1" and entry.dialect == "unified" and entry.run_id == "r1"
    assert uuid.UUID(entry.idempotency_key).version == 4
    assert not entry.is_finished
    assert entry.created_at == entry.updated_at
    # stable: re-reading and later updates keep the same key
    journal.record_submit(entry.id, task("t1", TaskStatus.QUEUED))
    assert journal.get(entry.id).idempotency_key == entry.idempotency_key
    other = journal.record_request(req, gateway=GATEWAY, dialect="unified")
    assert other.idempotency_key != entry.idempotency_key
    assert other.id > entry.id


def test_happy_path_transitions_and_timings(journal: Journal, clock: FakeClock) -> None:
    entry = journal.record_request(make_request(), gateway=GATEWAY, dialect="unified")
    assert entry.created_at == clock.now

    clock.now += 1
    e = journal.record_submit(entry.id, task("task_1", TaskStatus.QUEUED))
    assert (e.state, e.task_id, e.status, e.submitted_at) == (
        "submitted",
        "task_1",
        "queued",
        clock.now,
    )

    clock.now += 10
    e = journal.record_task(entry.id, task("task_1", TaskStatus.IN_PROGRESS, progress=40))
    assert (e.state, e.status, e.progress, e.completed_at) == ("submitted", "in_progress", 40, None)

    clock.now += 20
    e = journal.record_task(
        entry.id,
        task(
            "task_1",
            TaskStatus.COMPLETED,
            video_url="https://cdn.example/v.mp4",
            expires_at=clock.now + 3600,
        ),
    )
    assert e.state == "completed" and e.progress == 100
    assert e.video_url == "https://cdn.example/v.mp4"
    assert e.url_expires_at == clock.now + 3600
    assert e.completed_at == clock.now
    completed_at = clock.now

    clock.now += 3
    e = journal.record_download(entry.id, "video.mp4", checksum="sha256:00", size=123)
    assert e.state == "downloaded" and e.is_finished
    assert e.path == str(pathlib.Path("video.mp4").absolute())
    assert (e.checksum, e.size, e.downloaded_at) == ("sha256:00", 123, clock.now)
    assert e.completed_at == completed_at
    assert journal.get(entry.id) == e  # what was returned is what was committed


def test_downloaded_is_never_moved_backwards(journal: Journal) -> None:
    entry = journal.record_request(make_request(), gateway=GATEWAY, dialect="unified")
    journal.record_submit(entry.id, task("t", TaskStatus.COMPLETED, video_url="https://x/v"))
    done = journal.record_download(entry.id, "/tmp/v.mp4", checksum=None, size=1)

    assert journal.record_task(entry.id, task("t", TaskStatus.IN_PROGRESS, progress=5)) == done
    assert journal.record_task(entry.id, task("t", TaskStatus.FAILED, error="late")).state == (
        "downloaded"
    )
    assert journal.record_submit(entry.id, task("other", TaskStatus.QUEUED)).state == "downloaded"
    assert journal.record_submit_unknown(entry.id, "lost").state == "downloaded"
    after_error = journal.record_error(entry.id, RuntimeError("spec check crashed"))
    assert after_error.state == "downloaded"
    assert after_error.error == "RuntimeError: spec check crashed"
    assert journal.get(entry.id).task_id == "t"


def test_submit_of_an_already_finished_task(journal: Journal) -> None:
    a = journal.record_request(make_request("a"), gateway=GATEWAY, dialect="unified")
    e = journal.record_submit(a.id, task("ta", TaskStatus.COMPLETED, video_url="https://x/a"))
    assert e.state == "completed" and e.submitted_at is not None and e.completed_at is not None

    b = journal.record_request(make_request("b"), gateway=GATEWAY, dialect="unified")
    e = journal.record_submit(
        b.id, task("tb", TaskStatus.FAILED, error="内容违规", error_code="E1")
    )
    assert (e.state, e.error, e.error_code) == ("failed", "内容违规", "E1")
    assert e.is_finished


def test_failed_and_cancelled_follow_the_status(journal: Journal) -> None:
    a = journal.record_request(make_request("a"), gateway=GATEWAY, dialect="unified")
    journal.record_submit(a.id, task("ta", TaskStatus.IN_PROGRESS, progress=10))
    e = journal.record_task(a.id, task("ta", TaskStatus.FAILED, error="quota", error_code="q"))
    assert (e.state, e.status, e.error, e.error_code) == ("failed", "failed", "quota", "q")
    # a stale pending snapshot after a terminal one changes nothing
    assert journal.record_task(a.id, task("ta", TaskStatus.IN_PROGRESS, progress=90)) == e

    b = journal.record_request(make_request("b"), gateway=GATEWAY, dialect="unified")
    journal.record_submit(b.id, task("tb", TaskStatus.QUEUED))
    assert journal.record_task(b.id, task("tb", TaskStatus.CANCELLED)).state == "cancelled"

    c = journal.record_request(make_request("c"), gateway=GATEWAY, dialect="unified")
    journal.record_submit(c.id, task("tc", TaskStatus.COMPLETED))
    e = journal.record_task(c.id, task("tc", TaskStatus.QUEUED))
    assert e.state == "completed" and e.status == "completed"


def test_local_error_then_the_task_moves_on(journal: Journal) -> None:
    entry = journal.record_request(make_request(), gateway=GATEWAY, dialect="unified")
    journal.record_submit(entry.id, task("t", TaskStatus.IN_PROGRESS))
    e = journal.record_error(entry.id, "poll failed: connection reset")
    assert (e.state, e.error) == ("failed", "poll failed: connection reset")
    # the remote task never failed, so a later poll (resume) brings it back
    e = journal.record_task(entry.id, task("t", TaskStatus.IN_PROGRESS, progress=50))
    assert (e.state, e.progress) == ("submitted", 50)
    e = journal.record_error(entry.id, "deadline", state="timed_out")
    assert e.state == "timed_out" and not e.is_finished
    e = journal.record_task(entry.id, task("t", TaskStatus.COMPLETED, video_url="https://x/v"))
    assert (e.state, e.error, e.error_code) == ("completed", None, None)


def test_record_error_describes_exceptions(journal: Journal) -> None:
    entry = journal.record_request(make_request(), gateway=GATEWAY, dialect="unified")
    err = BadRequestError("模型不存在", status_code=400, code="model_not_found")
    e = journal.record_error(entry.id, err)
    assert e.error == "BadRequestError: HTTP 400 [model_not_found]: 模型不存在"
    assert e.error_code == "model_not_found"

    failed = TaskFailedError(task("t", TaskStatus.FAILED, error="nsfw", error_code="1301"))
    e = journal.record_error(entry.id, failed, state="cancelled")
    assert e.state == "cancelled"
    assert e.error == "TaskFailedError: task t failed: nsfw" and e.error_code == "1301"

    with pytest.raises(ValidationError):
        journal.record_error(entry.id, "x", state="downloaded")
    with pytest.raises(ValidationError):
        journal.record_error(entry.id, "x", state="exploded")


def test_submit_unknown_then_resolved(journal: Journal) -> None:
    entry = journal.record_request(make_request(), gateway=GATEWAY, dialect="unified")
    e = journal.record_submit_unknown(entry.id, "connection reset after the POST was sent")
    assert (e.state, e.error, e.task_id) == (
        "submit_unknown",
        "connection reset after the POST was sent",
        None,
    )
    e = journal.record_submit(entry.id, task("t9", TaskStatus.QUEUED))
    assert (e.state, e.task_id) == ("submitted", "t9")
    # once the task id is known, an unknown outcome cannot un-know it
    assert journal.record_submit_unknown(entry.id, "again").state == "submitted"


def test_a_second_task_id_never_replaces_the_first(journal: Journal, clock: FakeClock) -> None:
    # issue 12: the gateway made (and may bill) the first task; a second submit of the same
    # entry (two processes on one journal) must not make the journal forget it
    entry = journal.record_request(make_request(), gateway=GATEWAY, dialect="unified")
    journal.record_submit(entry.id, task("old", TaskStatus.FAILED, error="upstream 500"))
    clock.now += 100
    with pytest.raises(TaskIdConflictError, match=r"'old'.*'new'") as info:
        journal.record_submit(entry.id, task("new", TaskStatus.QUEUED))
    assert (info.value.kept, info.value.refused) == ("old", "new")
    e = journal.get(entry.id)
    assert (e.state, e.task_id, e.error) == ("failed", "old", "upstream 500")
    # the same id again is news about the same task, not a conflict
    assert journal.record_submit(entry.id, task("old", TaskStatus.FAILED)).task_id == "old"


def test_missing_entries(journal: Journal) -> None:
    assert journal.get(12345) is None
    with pytest.raises(KeyError):
        journal.record_task(12345, task("t", TaskStatus.QUEUED))


def test_by_task_id(journal: Journal) -> None:
    a = journal.record_request(make_request("a"), gateway=GATEWAY, dialect="unified")
    b = journal.record_request(make_request("b"), gateway="http://other:1", dialect="openai")
    journal.record_submit(a.id, task("same", TaskStatus.QUEUED))
    journal.record_submit(b.id, task("same", TaskStatus.QUEUED))
    assert journal.by_task_id("same").id == b.id
    assert journal.by_task_id("same", gateway=GATEWAY + "/").id == a.id
    assert journal.by_task_id("nope") is None


def test_record_spec(journal: Journal) -> None:
    entry = journal.record_request(make_request(), gateway=GATEWAY, dialect="unified")
    spec = {"width": 1280, "fps": 24.0, "findings": ["ok"], "path": pathlib.Path("/a/b")}
    e = journal.record_spec(entry.id, spec)
    assert e.spec == {"width": 1280, "fps": 24.0, "findings": ["ok"], "path": "/a/b"}
    assert journal.get(entry.id).spec == e.spec
    assert journal.record_spec(entry.id, None).spec is None


# -- cache lookup and resume ---------------------------------------------------------------


def downloaded(journal: Journal, tmp_path: pathlib.Path, req: VideoRequest, name: str, data: bytes):
    entry = journal.record_request(req, gateway=GATEWAY, dialect="unified")
    journal.record_submit(entry.id, task(name, TaskStatus.COMPLETED, video_url="https://x/v"))
    path = tmp_path / f"{name}.mp4"
    path.write_bytes(data)
    return journal.record_download(entry.id, path, checksum=file_checksum(path), size=len(data))


def test_find_completed(journal: Journal, tmp_path: pathlib.Path) -> None:
    req = make_request()
    fp = req.fingerprint()
    assert journal.find_completed(fp, gateway=GATEWAY, model=req.model) is None

    old = downloaded(journal, tmp_path, req, "old", b"old video")
    new = downloaded(journal, tmp_path, req, "new", b"new video bytes")
    pending = journal.record_request(req, gateway=GATEWAY, dialect="unified")
    journal.record_submit(pending.id, task("pending", TaskStatus.COMPLETED))

    found = journal.find_completed(fp, gateway=GATEWAY + "/", model=req.model)
    assert found is not None and found.id == new.id  # newest downloaded, not the newer pending
    assert journal.find_completed(fp, gateway="http://other:1", model=req.model) is None
    assert journal.find_completed(fp, gateway=GATEWAY, model="sora-2") is None
    other_fp = make_request("another prompt").fingerprint()
    assert journal.find_completed(other_fp, gateway=GATEWAY, model=req.model) is None

    # the newest file is gone: fall back to the older one that is still there
    pathlib.Path(new.path).unlink()
    assert journal.find_completed(fp, gateway=GATEWAY, model=req.model).id == old.id
    # same size, different bytes: only verify=True notices
    pathlib.Path(old.path).write_bytes(b"OLD VIDEO")
    assert journal.find_completed(fp, gateway=GATEWAY, model=req.model).id == old.id
    assert journal.find_completed(fp, gateway=GATEWAY, model=req.model, verify=True) is None
    # truncated: the size check alone refuses it
    pathlib.Path(old.path).write_bytes(b"old")
    assert journal.find_completed(fp, gateway=GATEWAY, model=req.model) is None


def test_unfinished(journal: Journal) -> None:
    def new(prompt: str, gateway: str = GATEWAY) -> JournalEntry:
        return journal.record_request(make_request(prompt), gateway=gateway, dialect="unified")

    created = new("created")
    unknown = new("unknown")
    journal.record_submit_unknown(unknown.id, "lost")
    submitted = new("submitted")
    journal.record_submit(submitted.id, task("t1", TaskStatus.IN_PROGRESS))
    completed = new("completed")
    journal.record_submit(completed.id, task("t2", TaskStatus.COMPLETED, video_url="https://x"))
    timed_out = new("timed out")
    journal.record_submit(timed_out.id, task("t3", TaskStatus.QUEUED))
    journal.record_error(timed_out.id, "deadline", state="timed_out")
    done = new("done")
    journal.record_download(done.id, "/tmp/x.mp4", checksum=None, size=None)
    failed = new("failed")
    journal.record_error(failed.id, "bad request")
    cancelled = new("cancelled")
    journal.record_submit(cancelled.id, task("t4", TaskStatus.CANCELLED))
    elsewhere = new("elsewhere", gateway="http://other:1")

    expected = [created.id, unknown.id, submitted.id, completed.id, timed_out.id]
    assert [e.id for e in journal.unfinished(gateway=GATEWAY)] == expected
    assert [e.id for e in journal.unfinished()] == [*expected, elsewhere.id]
    assert all(not e.is_finished for e in journal.unfinished())
    assert {journal.get(i).state for i in (done.id, failed.id, cancelled.id)} == {
        "downloaded",
        "failed",
        "cancelled",
    }


def test_entries_filters_by_time_model_run_gateway_state(
    journal: Journal, clock: FakeClock
) -> None:
    clock.now = dt.datetime(2025, 3, 1, 12, 0, tzinfo=dt.timezone.utc).timestamp()
    a = journal.record_request(make_request("a"), gateway=GATEWAY, dialect="unified", run_id="r1")
    clock.now += 86400  # 2025-03-02 12:00 UTC
    b = journal.record_request(
        make_request("b", model="sora-2"), gateway=GATEWAY, dialect="openai", run_id="r2"
    )
    clock.now += 3600
    c = journal.record_request(make_request("c"), gateway="http://other:1", dialect="unified")
    journal.record_submit(c.id, task("tc", TaskStatus.QUEUED))

    def ids(**kw) -> list[int]:
        return [e.id for e in journal.entries(**kw)]

    assert ids() == [a.id, b.id, c.id]
    boundary = dt.datetime(2025, 3, 2, 0, 0, tzinfo=dt.timezone.utc)
    assert ids(since=boundary) == [b.id, c.id]
    assert ids(since=boundary.timestamp()) == [b.id, c.id]
    assert ids(since=int(boundary.timestamp())) == [b.id, c.id]
    # naive datetimes and dates are local time
    local_boundary = dt.datetime.fromtimestamp(b.created_at)  # naive, local
    assert ids(since=local_boundary) == [b.id, c.id]
    assert ids(since=local_boundary.date()) == [
        e.id
        for e in (a, b, c)
        if e.created_at >= dt.datetime.combine(local_boundary.date(), dt.time()).timestamp()
    ]
    assert ids(since=dt.timedelta(minutes=30)) == [c.id]
    assert ids(since=dt.timedelta(hours=2)) == [b.id, c.id]
    assert ids(models="sora-2") == [b.id]
    assert ids(models=["kling-v1", "sora-2"]) == [a.id, b.id, c.id]
    assert ids(models=[]) == []
    assert ids(run_id="r1") == [a.id]
    assert ids(gateway="HTTP://OTHER:1/") == [c.id]
    assert ids(states="submitted") == [c.id]
    assert ids(states=["created"], models="kling-v1") == [a.id]
    with pytest.raises(ValidationError):
        journal.entries(since="yesterday")  # type: ignore[arg-type]


def test_typical_seconds(journal: Journal, clock: FakeClock) -> None:
    def finished(model: str, seconds: float, *, download: bool = False, gateway=GATEWAY) -> None:
        e = journal.record_request(make_request(model=model), gateway=gateway, dialect="unified")
        journal.record_submit(e.id, task(f"t{e.id}", TaskStatus.QUEUED))
        clock.now += seconds
        journal.record_task(e.id, task(f"t{e.id}", TaskStatus.COMPLETED))
        if download:
            journal.record_download(e.id, "/tmp/v.mp4", checksum=None, size=None)
        clock.now += 1

    assert journal.typical_seconds("kling-v1") is None
    finished("kling-v1", 30)
    finished("kling-v1", 90, download=True)
    assert journal.typical_seconds("kling-v1") is None  # fewer than 3
    # failed and still-running entries do not count
    f = journal.record_request(make_request(), gateway=GATEWAY, dialect="unified")
    journal.record_submit(f.id, task("tf", TaskStatus.QUEUED))
    clock.now += 5
    journal.record_task(f.id, task("tf", TaskStatus.FAILED))
    r = journal.record_request(make_request(), gateway=GATEWAY, dialect="unified")
    journal.record_submit(r.id, task("tr", TaskStatus.QUEUED))
    assert journal.typical_seconds("kling-v1") is None
    finished("kling-v1", 60)
    assert journal.typical_seconds("kling-v1") == 60
    finished("kling-v1", 40)
    assert journal.typical_seconds("kling-v1") == 50
    finished("sora-2", 500)
    assert journal.typical_seconds("kling-v1") == 50
    assert journal.typical_seconds("kling-v1", gateway="http://other:1") is None
    assert journal.typical_seconds("kling-v1", recent=3) == 60  # the latest 90, 60, 40


# -- votes ---------------------------------------------------------------------------------


def test_votes_replace_on_the_same_question(journal: Journal, clock: FakeClock) -> None:
    shown = ["kling-v1", "sora-2", "veo"]
    first = journal.record_vote(
        run_id="r1", row_key="prompt0/seed1", candidates=shown, winner="sora-2", kind="best"
    )
    clock.now += 1
    changed = journal.record_vote(
        run_id="r1", row_key="prompt0/seed1", candidates=shown, winner="veo", kind="best"
    )
    assert changed != first
    [vote] = journal.votes(run_id="r1")
    assert (vote.id, vote.winner, vote.kind, vote.candidates) == (
        changed,
        "veo",
        "best",
        tuple(shown),
    )
    assert vote.created_at == clock.now

    # another row, another run, and no run at all are separate questions
    journal.record_vote(run_id="r1", row_key="prompt1", candidates=shown, winner="veo", kind="best")
    journal.record_vote(
        run_id="r2", row_key="prompt0/seed1", candidates=shown, winner="veo", kind="best"
    )
    journal.record_vote(run_id=None, row_key="p", candidates=shown, winner="veo", kind="best")
    journal.record_vote(run_id=None, row_key="p", candidates=shown, winner=None, kind="skip")
    assert [(v.run_id, v.row_key, v.kind) for v in journal.votes()] == [
        ("r1", "prompt0/seed1", "best"),
        ("r1", "prompt1", "best"),
        ("r2", "prompt0/seed1", "best"),
        (None, "p", "skip"),  # the skip replaced the run-less best on that row
    ]

    # pairs: the same unordered pair is one question, whichever way round or tied
    pair = {"run_id": "r3", "row_key": "row", "candidates": shown}
    journal.record_vote(**pair, winner="kling-v1", loser="sora-2", kind="pair")
    journal.record_vote(**pair, winner="kling-v1", loser="veo", kind="pair")
    journal.record_vote(**pair, winner="sora-2", loser="kling-v1", kind="pair")
    assert {(v.winner, v.loser) for v in journal.votes(run_id="r3")} == {
        ("sora-2", "kling-v1"),
        ("kling-v1", "veo"),
    }
    journal.record_vote(
        run_id="r3", row_key="row", candidates=["kling-v1", "sora-2"], winner=None, kind="tie"
    )
    assert sorted((v.kind, v.winner or "") for v in journal.votes(run_id="r3")) == [
        ("pair", "kling-v1"),
        ("tie", ""),
    ]
    # a best vote on the row is a different question from its pairs
    journal.record_vote(**pair, winner="veo", kind="best")
    assert len(journal.votes(run_id="r3")) == 3


def test_votes_filters_and_validation(journal: Journal, clock: FakeClock) -> None:
    journal.record_vote(run_id="r", row_key="a", candidates=["m1", "m2"], winner="m1", kind="best")
    clock.now += 3600
    journal.record_vote(run_id="r", row_key="b", candidates=["m3", "m4"], winner="m4", kind="best")
    assert [v.row_key for v in journal.votes(models=["m2"])] == ["a"]
    assert [v.row_key for v in journal.votes(models="m4")] == ["b"]
    assert [v.row_key for v in journal.votes(since=dt.timedelta(minutes=10))] == ["b"]
    assert journal.votes(run_id="nope") == []

    bad = [
        {"winner": "m1", "kind": "best!"},
        {"winner": None, "kind": "best"},
        {"winner": "zz", "kind": "best"},
        {"winner": "m1", "loser": None, "kind": "pair"},
        {"winner": "m1", "loser": "m1", "kind": "pair"},
        {"winner": "m1", "kind": "skip"},
    ]
    for kw in bad:
        with pytest.raises(ValidationError):
            journal.record_vote(run_id="r", row_key="c", candidates=["m1", "m2"], **kw)
    with pytest.raises(ValidationError):
        journal.record_vote(run_id="r", row_key="c", candidates=["m1"], winner=None, kind="tie")
    with pytest.raises(ValidationError):
        journal.record_vote(run_id="r", row_key="c", candidates="m1m2", winner=None, kind="skip")
    assert len(journal.votes()) == 2


# -- the file: modes, WAL, schema ----------------------------------------------------------


def mode(path: pathlib.Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_file_modes_are_0600_whatever_the_umask(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "j.sqlite"
    old_umask = os.umask(0)
    try:
        with Journal(path) as j:
            j.record_request(make_request(), gateway=GATEWAY, dialect="unified")
            for suffix in ("", "-wal", "-shm"):
                companion = path.with_name(path.name + suffix)
                assert companion.exists(), suffix
                assert mode(companion) == 0o600, suffix
    finally:
        os.umask(old_umask)

    loose = tmp_path / "loose.sqlite"
    loose.touch()
    loose.chmod(0o644)
    Journal(loose).close()
    assert mode(loose) == 0o600


def test_wal_mode_and_default_path(journal: Journal, tmp_path: pathlib.Path, monkeypatch) -> None:
    raw = sqlite3.connect(journal.path)
    try:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    finally:
        raw.close()
    monkeypatch.chdir(tmp_path)
    assert Journal.default_path() == tmp_path / "videogen-runs" / "journal.sqlite"


def test_migration_from_an_older_schema(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "old.sqlite"
    raw = sqlite3.connect(path, isolation_level=None)
    raw.execute("BEGIN IMMEDIATE")
    migrate(raw, target=1)
    raw.execute("COMMIT")
    assert raw.execute("PRAGMA user_version").fetchone()[0] == 1
    req = make_request()
    raw.execute(
        "INSERT INTO entries (fingerprint, request, gateway, dialect, model, idempotency_key,"
        " state, task_id, created_at, updated_at) VALUES (?, ?, ?, 'unified', ?, 'k1',"
        " 'submitted', 'legacy', 1.0, 1.0)",
        (req.fingerprint(), json.dumps(req.to_dict()), GATEWAY, req.model),
    )
    raw.close()

    with Journal(path) as j:
        [entry] = j.unfinished()
        assert (entry.task_id, entry.spec, entry.request_obj()) == ("legacy", None, req)
        assert j.record_spec(entry.id, {"fps": 24}).spec == {"fps": 24}
        j.record_vote(run_id=None, row_key="r", candidates=["a", "b"], winner="a", kind="best")
        assert len(j.votes()) == 1
    raw = sqlite3.connect(path)
    assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    # a file from a newer videogen-nb is refused, not damaged
    raw.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    raw.close()
    with pytest.raises(VideoGenError, match="newer"):
        Journal(path)


def test_closed_journal_refuses_use(tmp_path: pathlib.Path) -> None:
    j = Journal(tmp_path / "j.sqlite")
    assert "j.sqlite" in repr(j)
    j.close()
    j.close()
    with pytest.raises(VideoGenError, match="closed"):
        j.entries()


def test_normalize_gateway() -> None:
    # one rule with the client's base URL (core.urls.gateway_root): "/v1" is not part of it
    assert normalize_gateway("http://user:pass@Host:8080/v1/") == "http://host:8080"
    assert normalize_gateway("http://host:8080/api/v1") == "http://host:8080/api"
    assert normalize_gateway("https://api.example.com?key=abc#frag") == "https://api.example.com"
    assert normalize_gateway("http://[::1]:9000/") == "http://[::1]:9000"
    assert normalize_gateway("user:secret@host:1/x") == "host:1/x"


# -- privacy -------------------------------------------------------------------------------


def test_the_api_key_never_reaches_the_file(tmp_path: pathlib.Path) -> None:
    sentinel = "sk-SENTINEL-" + uuid.uuid4().hex
    path = tmp_path / "j.sqlite"
    j = Journal(path)
    try:
        # nothing in the journal's API takes a key
        for name, member in inspect.getmembers(Journal, inspect.isfunction):
            params = set(inspect.signature(member).parameters)
            assert not params & {"api_key", "key", "authorization", "headers", "token"}, name
        # the key used the way a careless user might: inside the gateway URL
        entry = j.record_request(
            make_request(metadata={"purpose": "demo"}),
            gateway=f"http://apiuser:{sentinel}@127.0.0.1:9/v1?api_key={sentinel}",
            dialect="unified",
            run_id="r",
        )
        assert sentinel not in repr(entry) and "apiuser" not in entry.gateway
        j.record_submit(entry.id, task("t", TaskStatus.IN_PROGRESS, progress=3))
        j.record_task(entry.id, task("t", TaskStatus.COMPLETED, video_url="https://cdn/v.mp4"))
        j.record_error(entry.id, BadRequestError("bad", status_code=400, code="c"))
        j.record_download(entry.id, tmp_path / "v.mp4", checksum="sha256:ab", size=2)
        j.record_spec(entry.id, {"w": 1})
        j.record_vote(run_id="r", row_key="k", candidates=["a", "b"], winner="a", kind="best")
        blob = b"".join(
            p.read_bytes() for p in (path, path.with_name(path.name + "-wal")) if p.exists()
        )
        assert b"apiuser" not in blob
        assert b"http://127.0.0.1:9" in blob  # the scan does see what was written
    finally:
        j.close()
    for p in tmp_path.iterdir():
        assert sentinel.encode() not in p.read_bytes(), p


# -- concurrency and durability ------------------------------------------------------------


def test_threads_share_a_journal(journal: Journal) -> None:
    errors: list[BaseException] = []
    seen_connections: set[int] = set()

    def worker(n: int) -> None:
        try:
            seen_connections.add(id(journal._conn()))
            for i in range(40):
                e = journal.record_request(make_request(f"{n}-{i}"), gateway=GATEWAY, dialect="u")
                journal.record_submit(e.id, task(f"t{n}-{i}", TaskStatus.QUEUED))
                journal.entries(states="created")
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors
    assert len(seen_connections) == 4
    assert {e.task_id for e in journal.entries()} == {
        f"t{n}-{i}" for n in range(4) for i in range(40)
    }
    assert all(e.state == "submitted" for e in journal.entries())


WRITER = textwrap.dedent(
    """
    import sys
    from videogen_nb.store.journal import Journal
    from videogen_nb.core.request import VideoRequest
    from videogen_nb.core.task import Task, TaskStatus

    path, name, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    journal = Journal(path)
    for i in range(count):
        entry = journal.record_request(
            VideoRequest(model="kling-v1", prompt=f"{name} {i}"),
            gateway="http://127.0.0.1:8123", dialect="unified", run_id=name)
        journal.record_submit(entry.id, Task(id=f"{name}-{i}", status=TaskStatus.QUEUED))
        print(f"{name}-{i}", flush=True)
    journal.close()
    """
)


def writer(path: pathlib.Path, name: str, count: int) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path), name, str(count)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def test_two_processes_write_the_same_file(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "shared.sqlite"  # both processes create it: a race on a new file too
    procs = [writer(path, name, 200) for name in ("k1", "k2")]
    outputs = [p.communicate(timeout=120) for p in procs]
    for proc, (_, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
        assert "locked" not in err
    with Journal(path) as j:
        for name in ("k1", "k2"):
            entries = j.entries(run_id=name)
            assert [e.task_id for e in entries] == [f"{name}-{i}" for i in range(200)]
            assert all(e.state == "submitted" for e in entries)
        assert len({e.idempotency_key for e in j.entries()}) == 400


def test_kill_9_loses_nothing_committed(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "killed.sqlite"
    proc = writer(path, "w", 100_000)
    committed: list[str] = []
    selector = selectors.DefaultSelector()
    selector.register(proc.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + 60
    try:
        while len(committed) < 50 and time.monotonic() < deadline:
            if selector.select(timeout=1):
                line = proc.stdout.readline()
                if not line:
                    break
                committed.append(line.strip())
        assert len(committed) >= 50, proc.stderr.read() if proc.poll() is not None else ""
        proc.send_signal(signal.SIGKILL)  # mid-loop: it is writing as fast as it can
        proc.wait(timeout=30)
    finally:
        selector.close()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
    # lines already printed before the kill were each committed before being printed
    committed += [line.strip() for line in proc.stdout.read().splitlines() if line.strip()]
    proc.stdout.close()
    proc.stderr.close()

    raw = sqlite3.connect(path)
    assert raw.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    raw.close()
    with Journal(path) as j:
        recorded = {e.task_id for e in j.entries(run_id="w")}
        assert set(committed) <= recorded
        assert len(recorded) >= len(committed)
        # the journal is fully usable after the crash
        entry = j.record_request(make_request(), gateway=GATEWAY, dialect="unified")
        assert j.get(entry.id).state == "created"


def test_record_requests_journals_a_batch_in_one_transaction(journal: Journal) -> None:
    requests = [make_request(prompt=f"shot {i}") for i in range(200)]
    commits = []
    conn = journal._conn()
    conn.set_trace_callback(lambda sql: commits.append(sql) if sql == "COMMIT" else None)
    entries = journal.record_requests(requests, gateway=GATEWAY, dialect="unified", run_id="r1")
    conn.set_trace_callback(None)
    assert len(commits) == 1
    assert [e.request["prompt"] for e in entries] == [f"shot {i}" for i in range(200)]
    assert len({e.idempotency_key for e in entries}) == 200
    assert {e.state for e in entries} == {"created"}
    assert len(journal.entries(run_id="r1")) == 200
