"""The run layer: many requests at once against the sandbox (order, failures, guard,
cancel, poll economy, cache, spec check)."""

from __future__ import annotations

import itertools
import math
import time

import pytest

import videogen_nb as vg
from tests.support import get_count, small, wait_for
from videogen_nb.run import RowState

TASK_ROUTES = ("GET /v1/video/generations/", "GET /v1/videos/")


def _task_gets(sandbox) -> int:
    requests = sandbox.stats(include_tasks=False)["requests"]
    return sum(
        n
        for route, n in requests.items()
        if route.startswith(TASK_ROUTES) and "content" not in route
    )


def _total_requests(sandbox) -> int:
    return sum(sandbox.stats(include_tasks=False)["requests"].values())


async def test_results_keep_request_order_and_failures_stay_in_their_row(make_sandbox, make_client):
    sandbox = make_sandbox(failure_rate=0.5, seed=3)
    client = make_client(sandbox)
    requests = [small(f"prompt {i}", model=("kling-v1", "sora-2")[i % 2]) for i in range(8)]
    run = client.run(requests)
    await run

    assert run.done and len(run.results) == 8
    assert [r.request for r in run.results] == requests
    failed = [r for r in run.results if not r.ok]
    done = [r for r in run.results if r.ok]
    assert failed and done, "seed 3 at 50 % should give both outcomes"
    for result in failed:
        assert isinstance(result.error, vg.TaskFailedError)
        assert result.task.status is vg.TaskStatus.FAILED and result.path is None
        assert client.journal.get(result.journal_id).state == "failed"
    for result in done:
        assert result.path.is_file()
        assert client.journal.get(result.journal_id).state == "downloaded"
    counts = run.counts
    assert counts["done"] == len(done) and counts["failed"] == len(failed) and counts["total"] == 8
    assert sandbox.tasks_created == 8
    frame = run.to_dataframe()
    assert list(frame["prompt"]) == [r.prompt for r in requests]


async def test_spending_guard(sandbox, make_client):
    client = make_client(sandbox, max_tasks=3)
    with pytest.raises(vg.SpendingGuardError, match="max_tasks=3"):
        client.run([small(f"p{i}") for i in range(4)])
    with pytest.raises(vg.SpendingGuardError):
        client.compare(prompt=["a", "b"], models=["kling-v1", "sora-2"])
    default = make_client(sandbox, journal=None)
    with pytest.raises(vg.SpendingGuardError, match="max_tasks=50"):
        default.run([small(f"p{i}") for i in range(51)])
    assert _total_requests(sandbox) == 0
    assert client.journal.entries() == []
    # raising the guard explicitly lets it through
    run = client.run([small(f"p{i}") for i in range(4)], max_tasks=4)
    await run
    assert sandbox.tasks_created == 4


async def test_cancel_stops_rows_and_keeps_submitted_tasks_for_resume(make_sandbox, make_client):
    sandbox = make_sandbox(task_seconds=30)
    client = make_client(sandbox, concurrency=2)
    run = client.run([small(f"p{i}") for i in range(5)])
    await wait_for(lambda: sum(row.task is not None for row in run.rows) == 2)
    run.cancel()
    await run
    assert [row.state for row in run.rows] == [RowState.CANCELLED] * 5
    assert sandbox.tasks_created == 2
    states = [client.journal.get(r.journal_id).state for r in run.results]
    assert states == ["submitted", "submitted", "cancelled", "cancelled", "cancelled"]
    # only what was really sent is resumable
    assert [e.state for e in client.journal.unfinished()] == ["submitted", "submitted"]


async def test_cancel_remote_cancels_at_the_gateway(make_sandbox, make_client):
    sandbox = make_sandbox(task_seconds=30)
    client = make_client(sandbox, dialect="openai", concurrency=2)
    run = client.run([small(f"p{i}") for i in range(2)])
    await wait_for(lambda: all(row.task is not None for row in run.rows))
    run.cancel(remote=True)
    await run
    await wait_for(
        lambda: (
            sandbox.stats(include_tasks=False)["requests"].get("DELETE /v1/videos/{task_id}", 0)
            == 2
        )
    )
    outcomes = [t["outcome"] for t in sandbox.stats()["tasks"].values()]
    assert outcomes == ["cancelled", "cancelled"]


async def test_poll_count_per_task_stays_within_the_policy(make_sandbox, make_client):
    policy = vg.PollPolicy(min_delay=0.2, max_delay=2.0, fine_interval=0.2, fine_window=0.3)
    task_seconds = 0.8
    sandbox = make_sandbox(task_seconds=task_seconds)
    client = make_client(sandbox, poll=policy)
    n = 10
    run = client.run([small(f"p{i}") for i in range(n)])
    await run
    assert run.counts["done"] == n
    # The policy never waits less than min(min_delay, fine_interval) without a server hint,
    # so a task of T seconds costs at most T / that + 1 polls (+1 for the completed read).
    per_task = math.ceil(task_seconds / min(policy.min_delay, policy.fine_interval)) + 2
    gets = _task_gets(sandbox)
    assert n <= gets <= n * per_task, f"{gets} polls for {n} tasks (bound {n * per_task})"
    assert client.scheduler.polls_sent == gets


async def test_openai_poll_after_ms_is_honoured(make_sandbox, make_client):
    sandbox = make_sandbox(task_seconds=1.2, poll_after_ms=400)
    client = make_client(sandbox)  # FAST_POLL alone would poll every 0.05-0.5 s
    run = client.run([small("paced by the server")])
    seen: list[tuple[float, object]] = []

    def on_change(index: int | None) -> None:
        task = run.rows[0].task if index is not None else None
        if task is not None and (not seen or seen[-1][1] is not task):
            seen.append((time.monotonic(), task))

    run.add_listener(on_change)
    await run
    assert run.rows[0].state is RowState.DONE
    assert run.rows[0].task.poll_after == pytest.approx(0.4)
    gaps = [b[0] - a[0] for a, b in itertools.pairwise(seen[1:])]
    assert gaps and min(gaps) >= 0.38, gaps
    assert _task_gets(sandbox) <= math.ceil(1.2 / 0.4) + 2


async def test_cache_hit_makes_no_http_request_and_force_bypasses(sandbox, make_client):
    client = make_client(sandbox)
    request = small("cache me")
    first = await client.generate(request)
    assert not first.cached
    before = _total_requests(sandbox)

    again = await client.generate(request)
    run = client.run([request])
    await run
    assert again.cached and run.results[0].cached
    assert again.path == first.path == run.results[0].path
    assert _total_requests(sandbox) == before, "a cache hit talked to the gateway"

    forced = await client.generate(request, force=True)
    forced_run = client.run([request], force=True)
    await forced_run
    assert not forced.cached and not forced_run.results[0].cached
    assert sandbox.tasks_created == 3
    # a deleted file is not a cache hit
    forced.path.unlink()
    forced_run.results[0].path.unlink()
    first.path.unlink()
    assert not (await client.generate(request)).cached
    assert sandbox.tasks_created == 4


async def test_seed_and_n_variations_are_different_requests(sandbox, make_client):
    client = make_client(sandbox)
    requests = [
        small("same prompt"),
        small("same prompt", seed=1),
        small("same prompt", seed=2),
        small("same prompt", n=2),
    ]
    assert len({r.fingerprint() for r in requests}) == 4
    run = client.run(requests)
    await run
    assert not any(r.cached for r in run.results)
    assert sandbox.tasks_created == 4
    rerun = client.run(requests)
    await rerun
    assert all(r.cached for r in rerun.results)
    assert sandbox.tasks_created == 4


async def test_spec_check_lands_on_result_and_journal(make_sandbox, make_client):
    sandbox = make_sandbox(wrong_size="96x96")
    client = make_client(sandbox)
    run = client.run([small("measured")])
    await run
    result = run.results[0]
    assert result.ok and result.spec is not None
    assert (result.spec["measured"]["width"], result.spec["measured"]["height"]) == (96, 96)
    assert result.spec["findings"], "a wrong size must be a finding"
    stored = client.journal.get(result.journal_id).spec
    assert stored["findings"] == result.spec["findings"]
    # and a cache hit brings the stored spec back
    rerun = client.run([small("measured")])
    await rerun
    assert rerun.results[0].cached and rerun.results[0].spec["findings"] == result.spec["findings"]


async def test_spec_check_error_never_fails_a_row(sandbox, make_client, monkeypatch):
    import videogen_nb.insight as insight

    def broken(path, request):
        raise RuntimeError("decoder exploded")

    monkeypatch.setattr(insight, "check_video", broken)
    client = make_client(sandbox)
    run = client.run([small("still fine")])
    await run
    assert run.rows[0].state is RowState.DONE and run.results[0].spec is None
    monkeypatch.setattr(insight, "spec_check_available", lambda: False)
    run = client.run([small("no pyav")])
    await run
    assert run.rows[0].state is RowState.DONE and run.results[0].spec is None


async def test_compare_builds_grid_of_requests(sandbox, make_client):
    client = make_client(sandbox)
    run = client.compare(
        prompt=["a", "b"], models=["kling-v1", "sora-2"], seed=[1, 2], size="160x90", duration=1
    )
    await run
    assert [(r.request.prompt, r.request.seed, r.request.model) for r in run.results] == [
        (p, s, m) for p in "ab" for s in (1, 2) for m in ("kling-v1", "sora-2")
    ]
    assert run.counts["done"] == 8 and sandbox.tasks_created == 8
    assert get_count(sandbox, "GET /files/") == 8


async def test_listeners_and_wait_from_another_thread(sandbox, client_options):
    import asyncio

    client = vg.Client(sandbox.base_url, sandbox.api_key, **client_options)
    try:
        run = client.run([small(f"p{i}") for i in range(3)])
        calls: list[int | None] = []
        run.add_listener(calls.append)
        await asyncio.to_thread(run.wait, 20)
        assert run.done and calls and calls[-1] is None
        assert run.counts["done"] == 3
    finally:
        client.close()
