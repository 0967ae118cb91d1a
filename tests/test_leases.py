"""Issue 12.1: entries have an owner. A run holds its entries by a lease in the journal
(run id, pid, host, heartbeat); ``resume()`` takes only entries whose run is gone and says
what it left alone. Real processes over one journal against one sandbox: every request is
POSTed once, every task is in exactly one entry, every file holds its own entry's video,
and no two processes write the same file."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import pathlib
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
import urllib.request
from typing import Any

import pytest

import videogen_nb as vg
from tests.support import post_count, small, wait_for, wait_for_sync
from videogen_nb.core.errors import LeaseLostError
from videogen_nb.dialects import get_dialect
from videogen_nb.run.lease import RunLease
from videogen_nb.store.journal import file_checksum

CHILD = textwrap.dedent(
    """
    import json, os, sys, warnings
    warnings.simplefilter("ignore")
    import videogen_nb as vg
    import videogen_nb.run.lease as lease

    lease.HEARTBEAT_SECONDS = 0.2
    mode, journal, output, arg = sys.argv[1:5]
    client = vg.Client(
        journal=journal,
        output_dir=output,
        poll=vg.PollPolicy(min_delay=0.05, max_delay=0.3, fine_interval=0.05, fine_window=0.2),
    )
    if mode == "run":
        requests = [
            vg.VideoRequest(model="kling-v1", prompt=f"lease {i}", size="160x90", duration=1)
            for i in range(int(arg))
        ]
        run = client.run(requests, concurrency=int(sys.argv[5]))
    else:
        run = client.resume(stale_after=float(arg))
    print("started", flush=True)
    run.wait()
    rows = [
        {
            "entry": row.entry_id,
            "state": row.state.value,
            "task": row.task.id if row.task else None,
            "path": str(row.snapshot().path) if row.snapshot().path else None,
            "error": str(row.error) if row.error else None,
        }
        for row in run.rows
    ]
    print(json.dumps({"rows": rows, "skipped": [str(s) for s in run.skipped]}), flush=True)
    client.close()
    """
)


class Kids:
    """Child processes on one journal and one output folder; all are ended after."""

    def __init__(self, sandbox: Any, tmp_path: pathlib.Path) -> None:
        self.journal = tmp_path / "journal.sqlite"
        self.output = tmp_path / "videos"
        self.script = tmp_path / "child.py"
        self.script.write_text(CHILD)
        self.env = {
            **os.environ,
            "VIDEOGEN_BASE_URL": sandbox.base_url,
            "VIDEOGEN_API_KEY": sandbox.api_key,
            "PYTHONPATH": str(pathlib.Path(vg.__file__).resolve().parent.parent),
        }
        self.procs: list[subprocess.Popen[str]] = []

    def start(self, *args: str) -> subprocess.Popen[str]:
        proc = subprocess.Popen(
            [
                sys.executable,
                str(self.script),
                args[0],
                str(self.journal),
                str(self.output),
                *args[1:],
            ],
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.procs.append(proc)
        return proc

    @staticmethod
    def report(proc: subprocess.Popen[str], timeout: float = 60) -> dict[str, Any]:
        out, err = proc.communicate(timeout=timeout)
        assert proc.returncode == 0, err
        return json.loads(out.strip().splitlines()[-1])

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGCONT)
                proc.kill()
                proc.wait(10)


@pytest.fixture
def kids(make_sandbox, tmp_path):
    made: list[Kids] = []

    def make(sandbox: Any) -> Kids:
        made.append(Kids(sandbox, tmp_path))
        return made[-1]

    yield make
    for k in made:
        k.close()


def _content_digest(sandbox: Any, task_id: str) -> str:
    """The sandbox's own bytes for ``task_id`` (its content route), as a sha256 digest."""
    url = sandbox.base_url + get_dialect("unified").content_path(task_id)
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {sandbox.api_key}"})
    with urllib.request.urlopen(request, timeout=30) as answer:
        return "sha256:" + hashlib.sha256(answer.read()).hexdigest()


def _assert_each_task_once(sandbox: Any, journal: pathlib.Path, output: pathlib.Path, n: int):
    with vg.Journal(journal) as j:
        entries = j.entries()
    assert len(entries) == n
    assert [e.state for e in entries] == ["downloaded"] * n, [str(e) for e in entries]
    stats = sandbox.stats()
    assert stats["tasks_created"] == n, "a request was paid for twice"
    assert post_count(sandbox) == n + stats["idempotent_replays"]
    # every task the gateway made is in exactly one entry
    assert sorted(e.task_id for e in entries) == sorted(stats["tasks"])
    for entry in entries:
        path = pathlib.Path(entry.path)
        # the name carries the entry, and the bytes are that entry's task's video
        assert path.name.startswith(f"{entry.id:06d}-")
        digest = file_checksum(path)
        assert digest == _content_digest(sandbox, entry.task_id)
        assert digest.removeprefix("sha256:") == entry.checksum.removeprefix("sha256:")
    leftovers = [p.name for p in output.iterdir() if p.name.startswith(".")]
    assert leftovers == [], "a process left its private download files behind"


def test_resume_leaves_a_live_runs_entries_alone(make_sandbox, kids):
    # the symptom: a run of 12 in one process, resume() in two more processes meanwhile
    # (used to be 20 POSTs for 12 entries, tasks in no entry, files holding other videos)
    sandbox = make_sandbox(task_seconds=0.5, never_finish=True)  # held until released
    k = kids(sandbox)
    owner = k.start("run", "12", "4")
    wait_for_sync(lambda: sandbox.tasks_created >= 4 or owner.poll() is not None, timeout=60)
    assert owner.poll() is None
    resumers = [k.start("resume", "30"), k.start("resume", "30")]
    reports = [k.report(p) for p in resumers]
    sandbox.configure(never_finish=False)
    for report in reports:
        assert report["rows"] == [], "a resume took entries a live run works on"
        assert len(report["skipped"]) == 12, "resume must say what it left alone"
        assert all("still working on it" in s for s in report["skipped"]), report["skipped"]
    owned = k.report(owner)
    assert [r["state"] for r in owned["rows"]] == ["done"] * 12
    assert len({r["path"] for r in owned["rows"]}) == 12
    _assert_each_task_once(sandbox, k.journal, k.output, 12)


@pytest.mark.slow
async def test_sigkill_then_two_racing_resumers_take_each_entry_once(
    make_sandbox, kids, make_client
):
    sandbox = make_sandbox(task_seconds=1.0)
    k = kids(sandbox)
    owner = k.start("run", "12", "4")
    wait_for_sync(lambda: sandbox.tasks_created >= 5 or owner.poll() is not None, timeout=60)
    owner.send_signal(signal.SIGKILL)
    owner.wait(10)
    # what the owner finished before it died needs no one (on a loaded machine: a few)
    with vg.Journal(k.journal) as journal:
        finished = {e.id for e in journal.entries() if e.state == "downloaded"}
    # the owner's process is gone on this host: taken at once, whatever the bound
    reports = [k.report(p) for p in [k.start("resume", "3600"), k.start("resume", "3600")]]
    taken = [{r["entry"] for r in report["rows"]} for report in reports]
    assert not taken[0] & taken[1], "two resumers took the same entry"
    # every unfinished entry was taken by one resumer; a POST the kill cut off (submit_unknown) is
    # claimed but not followed until retry_unknown is asked for, so it has no row
    with vg.Journal(k.journal) as journal:
        unknown = {e.id for e in journal.entries() if e.state == "submit_unknown"}
    assert taken[0] | taken[1] | unknown | finished == set(range(1, 13)), reports
    assert not (taken[0] | taken[1]) & finished, "a resumer took an entry already done"
    paths = [{r["path"] for r in report["rows"] if r["path"]} for report in reports]
    assert not paths[0] & paths[1], "two processes wrote the same file"
    # a POST the kill cut off is an unknown outcome: resent (same key) only when asked
    client = make_client(sandbox, journal=k.journal, output_dir=k.output)
    run = client.resume(retry_unknown=True)
    await run
    assert run.counts["done"] == len(run.rows)
    _assert_each_task_once(sandbox, k.journal, k.output, 12)


def _stop_outside_a_write(proc: subprocess.Popen[str], journal: pathlib.Path) -> None:
    """SIGSTOP ``proc`` at a moment it holds no write lock on the journal (a process frozen
    inside a transaction blocks every writer: sqlite's rule, not ours)."""
    for _ in range(50):
        proc.send_signal(signal.SIGSTOP)
        probe = sqlite3.connect(journal, timeout=0.2, isolation_level=None)
        try:
            probe.execute("BEGIN IMMEDIATE")
            probe.execute("ROLLBACK")
            return
        except sqlite3.OperationalError:
            proc.send_signal(signal.SIGCONT)
            time.sleep(0.05)
        finally:
            probe.close()
    raise AssertionError("the owner always held the journal's write lock")


@pytest.mark.slow
async def test_a_stopped_owner_is_taken_over_after_the_bound_and_sends_nothing_more(
    make_sandbox, kids, make_client
):
    sandbox = make_sandbox(task_seconds=0.5)
    k = kids(sandbox)
    owner = k.start("run", "6", "1")
    wait_for_sync(lambda: sandbox.tasks_created >= 1 or owner.poll() is not None, timeout=60)
    _stop_outside_a_write(owner, k.journal)  # alive, but its heartbeat (every 0.2 s) stops
    try:
        client = make_client(sandbox, journal=k.journal, output_dir=k.output)
        early = client.resume(stale_after=30.0)  # well inside the bound, however loaded
        await early
        assert early.rows == [] and len(early.skipped) >= 5
        assert all("still working on it" in str(s) for s in early.skipped)
        # the command line says the same
        cli = subprocess.run(
            [sys.executable, "-m", "videogen_nb.cli", "resume", "--journal", str(k.journal)],
            env={**k.env, "PYTHONWARNINGS": "ignore"},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert cli.returncode == 0, cli.stderr
        assert "left" in cli.stdout and "alone" in cli.stdout and "still working" in cli.stdout
        await asyncio.sleep(0.5)  # the bound below is 0.4 s: the owner's lease is stale
        late = client.resume(stale_after=0.4)
        assert len(late.rows) == len(early.skipped) and not late.skipped
        await late
    finally:
        owner.send_signal(signal.SIGCONT)
    # the owner wakes up: the entries it lost are refused to it, nothing is sent twice
    report = k.report(owner)
    lost = [r for r in report["rows"] if r["error"] and "held by run" in r["error"]]
    assert len(lost) >= 4, report
    finish = client.resume(retry_unknown=True)
    await finish
    _assert_each_task_once(sandbox, k.journal, k.output, 6)


async def test_same_process_resume_leaves_the_live_run_alone(sandbox, make_client):
    owner = make_client(sandbox)
    run = owner.run([small(f"same kernel {i}") for i in range(12)], concurrency=4)
    other = make_client(sandbox)  # a second client on the same journal, same kernel
    resumed = other.resume()
    assert resumed.rows == [] and len(resumed.skipped) == 12
    assert all("in this process" in str(s) for s in resumed.skipped)
    await run
    await resumed
    assert run.counts["done"] == 12
    assert post_count(sandbox) == sandbox.tasks_created == 12
    # once the run has ended its lease is released: nothing is left to take
    assert owner.journal.leases.get(run.run_id).released_at is not None
    assert other.resume().rows == []


def test_racing_claims_take_each_entry_exactly_once(tmp_path):
    path = tmp_path / "journal.sqlite"
    with vg.Journal(path) as journal:
        entries = journal.record_requests(
            [small(f"race {i}") for i in range(60)], gateway="http://gw", dialect="unified"
        )
    for round_ in range(3):
        barrier = threading.Barrier(2)
        taken: list[set[int]] = [set(), set()]

        def claim(
            slot: int,
            round_: int = round_,
            barrier: threading.Barrier = barrier,
            taken: list[set[int]] = taken,
        ) -> None:
            with vg.Journal(path) as journal:
                lease = RunLease(journal, f"r{round_}-{slot}")
                lease.open()
                barrier.wait()
                got, _ = lease.claim(journal.unfinished(), stale_after=60)
                taken[slot] = {e.id for e in got}
                lease.release()

        threads = [threading.Thread(target=claim, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert not taken[0] & taken[1]
        assert taken[0] | taken[1] == {e.id for e in entries}


def test_a_post_never_leaves_for_an_entry_another_run_holds(tmp_path):
    with vg.Journal(tmp_path / "j.sqlite") as journal:
        entry = journal.record_request(
            small("held"), gateway="http://gw", dialect="unified", owner="alive"
        )
        journal.leases.open("alive", now=time.time())
        lease = RunLease(journal, "thief")
        got, skipped = lease.claim([entry], stale_after=60)
        assert got == [] and "still working on it" in str(skipped[0])
        with pytest.raises(LeaseLostError, match="held by run 'alive'"):
            journal.mark_sending(entry.id, owner="thief")
        assert journal.get(entry.id).state == "created"
        assert journal.mark_sending(entry.id, owner="alive").state == "sending"


async def test_the_heartbeat_renews_and_the_end_releases(tmp_path):
    with vg.Journal(tmp_path / "j.sqlite") as journal:
        lease = RunLease(journal, "beat", interval=0.05)
        lease.open()
        first = journal.leases.get("beat").heartbeat_at
        lease.start_heartbeat(asyncio.get_running_loop())
        await wait_for(lambda: journal.leases.get("beat").heartbeat_at > first, timeout=5)
        lease.release()
        assert journal.leases.get("beat").released_at is not None


async def test_single_task_calls_hold_their_entry_too(sandbox, make_client):
    client = make_client(sandbox)
    task = await client.submit(small("one task"))
    (entry,) = client.journal.entries()
    assert entry.owner is not None and entry.owner.startswith("client-")
    lease = client.journal.leases.get(entry.owner)
    assert (lease.pid, lease.released_at) == (os.getpid(), None)
    # a resume in another kernel leaves it alone while this one is alive
    other = make_client(sandbox)
    resumed = other.resume()
    assert resumed.rows == [] and "still working on it" in str(resumed.skipped[0])
    await resumed
    await client.wait(task)
    await client.aclose()
    assert other.journal.leases.get(entry.owner).released_at is not None
