"""Resume after a crash: a process killed with SIGKILL mid-run, then ``client.resume()``
(or ``videogen-nb resume``) finishes every request exactly once."""

from __future__ import annotations

import os
import pathlib
import random
import signal
import subprocess
import sys
import textwrap

import pytest

import videogen_nb as vg
from tests.support import FAST_POLL, decode_video, post_count, small, wait_for_sync
from videogen_nb.run import RowState

BATCH = 20

CHILD = textwrap.dedent(
    """
    import os, sys, warnings
    warnings.simplefilter("ignore")
    import videogen_nb as vg

    journal, output = sys.argv[1], sys.argv[2]
    client = vg.Client(
        journal=journal,
        output_dir=output,
        poll=vg.PollPolicy(min_delay=0.1, max_delay=0.5, fine_interval=0.1, fine_window=0.3),
    )
    requests = [
        vg.VideoRequest(model="kling-v1", prompt=f"batch {i}", size="160x90", duration=1)
        for i in range(int(sys.argv[3]))
    ]
    run = client.run(requests, concurrency=8)
    run.wait()
    print("finished", flush=True)
    """
)


def _journal_states(path: pathlib.Path) -> list[str]:
    if not path.exists():
        return []
    with vg.Journal(path) as journal:
        return [entry.state for entry in journal.entries()]


def _kill_mid_run(sandbox, tmp_path: pathlib.Path, seed: int) -> tuple[pathlib.Path, pathlib.Path]:
    journal = tmp_path / "journal.sqlite"
    output = tmp_path / "videos"
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    env = {
        **os.environ,
        "VIDEOGEN_BASE_URL": sandbox.base_url,
        "VIDEOGEN_API_KEY": sandbox.api_key,
        "PYTHONPATH": str(pathlib.Path(vg.__file__).resolve().parent.parent),
    }
    # Seeded, so a failure repeats: kill after k tasks were accepted (first wave of 8, or
    # well into the second, when downloads are under way).
    k = random.Random(seed).randint(3, 14)
    child = subprocess.Popen(
        [sys.executable, str(script), str(journal), str(output), str(BATCH)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        wait_for_sync(lambda: sandbox.tasks_created >= k or child.poll() is not None, timeout=60)
        assert child.poll() is None, child.stderr.read().decode()
        child.send_signal(signal.SIGKILL)
        child.wait(10)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(10)
    assert child.returncode == -signal.SIGKILL
    states = _journal_states(journal)
    assert len(states) == BATCH, "every request of the run is journalled before any is sent"
    assert states.count("downloaded") < BATCH and "created" in states, states
    print(f"killed after {k} accepted tasks; journal states: {sorted(states)}")
    return journal, output


def _assert_finished_exactly_once(sandbox, journal: pathlib.Path, output: pathlib.Path) -> None:
    with vg.Journal(journal) as j:
        entries = j.entries()
    assert [e.state for e in entries] == ["downloaded"] * BATCH
    assert len({e.task_id for e in entries}) == BATCH
    assert sandbox.tasks_created == BATCH, "a request was paid for twice (or lost)"
    files = sorted(output.iterdir())
    assert not [f for f in files if f.name.endswith(".part")], "half-written files left"
    videos = [f for f in files if f.suffix == ".mp4"]
    assert len(videos) == BATCH
    assert {str(v.resolve()) for v in videos} == {e.path for e in entries}
    for video in videos:
        assert decode_video(video)["frames"] > 0


@pytest.mark.slow
async def test_kill_9_then_client_resume(make_sandbox, tmp_path, client_options):
    sandbox = make_sandbox(task_seconds=2)
    journal, output = _kill_mid_run(sandbox, tmp_path, seed=19)

    client = vg.AsyncClient(
        sandbox.base_url,
        sandbox.api_key,
        **{**client_options, "journal": journal, "output_dir": output},
    )
    try:
        run = client.resume()
        await run
        if run.counts["submit_unknown"]:
            # killed while a POST was on the wire: reported, not resent, until asked
            assert all(
                isinstance(row.error, vg.SubmitOutcomeUnknownError)
                for row in run.rows
                if row.state is RowState.SUBMIT_UNKNOWN
            )
            run.retry_unknown()
            await run
        assert run.counts["done"] == len(run.rows)
    finally:
        await client.aclose()
    _assert_finished_exactly_once(sandbox, journal, output)


@pytest.mark.slow
def test_kill_9_then_command_line_resume(make_sandbox, tmp_path):
    sandbox = make_sandbox(task_seconds=2)
    journal, output = _kill_mid_run(sandbox, tmp_path, seed=11)
    env = {**os.environ, "VIDEOGEN_API_KEY": sandbox.api_key}
    env.pop("VIDEOGEN_BASE_URL", None)
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, warnings; warnings.simplefilter('ignore');"
            "from videogen_nb.cli import main; sys.exit(main())",
            "resume",
            "--base-url",
            sandbox.base_url + "/v1",
            "--journal",
            str(journal),
            "--output-dir",
            str(output),
            "--retry-unknown",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "resuming" in done.stdout
    assert sandbox.api_key not in done.stdout + done.stderr
    _assert_finished_exactly_once(sandbox, journal, output)


async def test_resume_sends_created_reports_sending_and_retries_with_same_key(
    make_sandbox, make_client, tmp_path
):
    sandbox = make_sandbox(drop_after_accept=1)
    first = make_client(sandbox)
    # a POST whose answer was lost: the gateway made the task, the journal never heard
    lost = small("answer lost")
    with pytest.raises(vg.SubmitOutcomeUnknownError):
        await first.submit(lost)
    # a request journalled but never sent (the crash came first)
    never_sent = first.journal.record_request(
        small("never sent"), gateway=first.gateway, dialect="unified"
    )
    assert sandbox.tasks_created == 1
    await first.aclose()

    second = make_client(sandbox)
    run = second.resume()
    await run
    by_prompt = {row.request.prompt: row for row in run.rows}
    assert by_prompt["never sent"].state is RowState.DONE
    unknown = by_prompt["answer lost"]
    assert unknown.state is RowState.SUBMIT_UNKNOWN
    assert "retry_unknown" in str(unknown.error)
    assert sandbox.tasks_created == 2 and post_count(sandbox) == 2  # nothing resent

    third = make_client(sandbox)
    run = third.resume(retry_unknown=True)
    await run
    assert [row.state for row in run.rows] == [RowState.DONE]
    stats = sandbox.stats(include_tasks=False)
    assert stats["tasks_created"] == 2 and stats["idempotent_replays"] == 1
    assert [e.state for e in third.journal.entries()] == ["downloaded", "downloaded"]
    assert third.journal.get(never_sent.id).state == "downloaded"
    # nothing left: a further resume is empty and sends nothing
    empty = third.resume()
    await empty
    assert empty.rows == [] and post_count(sandbox) == 3


async def test_resume_finishes_a_completed_but_undownloaded_task(sandbox, make_client):
    first = make_client(sandbox, poll=FAST_POLL)
    task = await first.submit(small("downloaded later"))
    await first.wait(task)
    assert first.journal.by_task_id(task.id).state == "completed"
    await first.aclose()
    second = make_client(sandbox)
    run = second.resume()
    await run
    assert run.rows[0].state is RowState.DONE and run.results[0].path.is_file()
    assert sandbox.tasks_created == 1
