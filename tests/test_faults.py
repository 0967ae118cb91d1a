"""Issue 3: runs against a sandbox that misbehaves the way real gateways do.

Every test checks both that the run ends as it should and that the sandbox created exactly
as many tasks as were requested (nothing paid for twice).
"""

from __future__ import annotations

import time

import pytest

import videogen_nb as vg
from tests.support import decode_video, small
from videogen_nb.run import RowState


def _requests(n: int, prefix: str = "row") -> list[vg.VideoRequest]:
    return [small(f"{prefix} {i}") for i in range(n)]


def _assert_all_done(run: vg.Run) -> None:
    states = [row.state for row in run.rows]
    assert states == [RowState.DONE] * len(run.rows), [
        (row.state.value, str(row.error)) for row in run.rows
    ]
    for result in run.results:
        assert result.ok and result.path is not None and result.path.stat().st_size > 0


@pytest.mark.parametrize("as_date", [False, True], ids=["seconds", "http-date"])
async def test_429_on_submit_pauses_whole_lane_and_narrows_it(make_sandbox, make_client, as_date):
    sandbox = make_sandbox(
        task_seconds=0.3,
        rate_limit=1,
        rate_limit_on="post",
        retry_after=1,
        retry_after_date=as_date,
    )
    client = make_client(sandbox, concurrency=4)
    lane = client.lanes.gateway
    limits: list[int] = []
    rate_limited_at: list[float] = []

    run = client.run(_requests(8))

    def watch(index: int | None) -> None:
        limits.append(lane.limit)
        if index is not None and (run.rows[index].note or "").startswith("rate limited"):
            rate_limited_at.append(time.time())

    run.add_listener(watch)
    await run

    _assert_all_done(run)
    stats = sandbox.stats()
    assert stats["tasks_created"] == 8
    assert stats["statuses"]["429"] == 1
    assert lane.rate_limited_count == 1
    assert min(limits) == 2, "the lane was not halved by the 429"
    # The whole lane paused: no row submitted between the 429 and the end of its pause
    # (Retry-After: 1, or an HTTP date at least one second ahead). POSTs already on the
    # wire when the 429 came back may land just after it; 0.25 s is far beyond loopback
    # latency, so anything later was sent during the pause.
    (hit,) = rate_limited_at[:1]
    created = sorted(task["created_at"] for task in stats["tasks"].values())
    during_pause = [t for t in created if hit + 0.25 < t < hit + 0.9]
    assert during_pause == [], f"{len(during_pause)} rows submitted during the pause"
    assert sum(t > hit for t in created) >= 5  # the rest went after it


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_5xx_bursts_on_polls_are_ridden_out(make_sandbox, make_client, status):
    sandbox = make_sandbox(server_error=4, server_error_on="get", server_error_status=status)
    client = make_client(sandbox)
    run = client.run(_requests(3))
    await run
    _assert_all_done(run)
    stats = sandbox.stats(include_tasks=False)
    assert stats["tasks_created"] == 3
    assert stats["faults"]["server_error"] == 4
    assert stats["statuses"][str(status)] == 4


async def test_503_on_submit_is_retried_without_paying_twice(make_sandbox, make_client):
    sandbox = make_sandbox(server_error=2, server_error_on="post", server_error_status=503)
    client = make_client(sandbox)
    run = client.run(_requests(2))
    await run
    _assert_all_done(run)
    assert sandbox.tasks_created == 2
    assert post_statuses(sandbox)["503"] == 2


def post_statuses(sandbox) -> dict[str, int]:
    return sandbox.stats(include_tasks=False)["statuses"]


async def test_502_on_submit_is_an_unknown_outcome_for_that_row_only(make_sandbox, make_client):
    # A proxy's 502 to a POST says nothing about whether the gateway behind it made the
    # task: the row is reported, never resent on its own, and the other rows go on.
    sandbox = make_sandbox(server_error=1, server_error_on="post", server_error_status=502)
    client = make_client(sandbox, concurrency=1)
    run = client.run(_requests(3))
    await run
    assert [row.state for row in run.rows] == [
        RowState.SUBMIT_UNKNOWN,
        RowState.DONE,
        RowState.DONE,
    ]
    assert "502 Bad Gateway" in str(run.results[0].error)
    assert sandbox.tasks_created == 2
    assert client.journal.get(run.results[0].journal_id).state == "submit_unknown"
    # here the proxy answered before the gateway saw it, so the resend makes the task
    assert run.retry_unknown() == 1
    await run
    _assert_all_done(run)
    assert sandbox.tasks_created == 3


async def test_connection_resets_on_polls(make_sandbox, make_client):
    sandbox = make_sandbox(reset=5)
    client = make_client(sandbox)
    run = client.run(_requests(3))
    await run
    _assert_all_done(run)
    stats = sandbox.stats(include_tasks=False)
    assert stats["tasks_created"] == 3
    assert stats["faults"]["reset"] == 5 and stats["statuses"]["aborted"] == 5


async def test_reset_after_accept_is_reported_then_retried_with_same_key(make_sandbox, make_client):
    sandbox = make_sandbox(drop_after_accept=1)
    client = make_client(sandbox, concurrency=1)
    run = client.run(_requests(3))
    await run

    states = [row.state for row in run.rows]
    assert states == [RowState.SUBMIT_UNKNOWN, RowState.DONE, RowState.DONE]
    error = run.results[0].error
    assert isinstance(error, vg.SubmitOutcomeUnknownError)
    text = str(error)
    assert "may have created" in text and "NOT resubmitted" in text
    entry = client.journal.get(run.results[0].journal_id)
    assert entry.state == "submit_unknown" and entry.task_id is None
    # the dropped request did create a task; nothing was sent again on its own
    assert sandbox.tasks_created == 3
    assert sandbox.stats(include_tasks=False)["requests"]["POST /v1/video/generations"] == 3

    assert run.retry_unknown() == 1
    assert not run.done
    await run
    _assert_all_done(run)
    stats = sandbox.stats(include_tasks=False)
    assert stats["tasks_created"] == 3, "retry_unknown paid twice"
    assert stats["idempotent_replays"] == 1
    entry = client.journal.get(run.results[0].journal_id)
    assert entry.state == "downloaded" and entry.idempotency_key
    assert run.retry_unknown() == 0


@pytest.mark.parametrize("scope", ["get", "post"])
async def test_malformed_json(make_sandbox, make_client, scope):
    sandbox = make_sandbox(malformed=1, malformed_on=scope)
    client = make_client(sandbox, concurrency=1)
    run = client.run(_requests(2))
    await run
    if scope == "get":
        _assert_all_done(run)  # a cut-off poll answer is simply read again
    else:
        # a 2xx submit answer that is not JSON: the task may exist, its id is unknown
        assert [row.state for row in run.rows] == [RowState.SUBMIT_UNKNOWN, RowState.DONE]
        assert run.retry_unknown() == 1
        await run
        _assert_all_done(run)
    stats = sandbox.stats(include_tasks=False)
    assert stats["tasks_created"] == 2
    assert stats["faults"]["malformed"] == 1


async def test_truncated_download_resumes_with_range(make_sandbox, make_client):
    sandbox = make_sandbox(truncate_after=1500)
    client = make_client(sandbox)
    result = await client.generate(small("cut short"))
    assert decode_video(result.path)["frames"] > 0
    stats = sandbox.stats()
    (task,) = stats["tasks"].values()
    assert task["download_attempts"] == 2
    assert stats["faults"]["truncate"] == 1
    assert stats["tasks_created"] == 1
    assert not list(result.path.parent.glob(".*.part"))


async def test_expired_url_gets_a_fresh_one(make_sandbox, make_client):
    sandbox = make_sandbox(url_ttl=0.3)
    client = make_client(sandbox)
    task = await client.wait(await client.submit(small()), timeout=10)
    issued = time.monotonic()
    while time.monotonic() - issued < 0.4:  # let the URL age past its 0.3 s lifetime
        await _tick()
    path = await client.download(task)
    assert decode_video(path)["frames"] > 0
    stats = sandbox.stats(include_tasks=False)
    assert stats["faults"]["url_expired"] == 1
    assert stats["requests"].get("GET /v1/videos/{task_id}/content", 0) == 0
    assert stats["tasks_created"] == 1


async def test_always_expired_url_falls_back_to_content_route(make_sandbox, make_client):
    sandbox = make_sandbox(url_ttl=0)
    client = make_client(sandbox)
    result = await client.generate(small())
    assert decode_video(result.path)["frames"] > 0
    stats = sandbox.stats(include_tasks=False)
    assert stats["requests"]["GET /v1/videos/{task_id}/content"] == 1
    assert stats["faults"]["url_expired"] >= 1
    assert stats["tasks_created"] == 1


async def _tick() -> None:
    import asyncio

    await asyncio.sleep(0.05)


async def test_status_flapping_back_to_queued(make_sandbox, make_client):
    sandbox = make_sandbox(flap=True, task_seconds=0.6)
    client = make_client(sandbox)
    seen: list[list[str]] = [[], []]
    run = client.run(_requests(2))
    run.add_listener(lambda i: seen[i].append(run.rows[i].state.value) if i is not None else None)
    await run
    _assert_all_done(run)
    assert sandbox.stats(include_tasks=False)["faults"]["flap"] >= 1
    # the live table followed the gateway back to queued, and on to the end
    assert any("in_progress" in s and "queued" in s[s.index("in_progress") :] for s in seen)
    assert sandbox.tasks_created == 2


async def test_unknown_status_strings(make_sandbox, make_client):
    # long enough that a poll lands in the running phase (where the odd words are shown)
    # even on a loaded machine
    sandbox = make_sandbox(odd_status=True, task_seconds=2.0)
    client = make_client(sandbox)
    run = client.run(_requests(2))
    await run
    _assert_all_done(run)
    assert sandbox.stats(include_tasks=False)["faults"]["odd_status"] >= 1
    assert sandbox.tasks_created == 2


@pytest.mark.parametrize("dialect", ["openai", "unified"])
async def test_never_finishing_task_times_out(make_sandbox, make_client, dialect):
    sandbox = make_sandbox(never_finish=True)
    client = make_client(sandbox, dialect=dialect)
    run = client.run(_requests(2), timeout=0.8, cancel_on_timeout=True)
    await run
    assert [row.state for row in run.rows] == [RowState.TIMED_OUT] * 2
    for result in run.results:
        assert isinstance(result.error, vg.TaskTimeoutError)
        assert client.journal.get(result.journal_id).state == "timed_out"
    stats = sandbox.stats()
    assert stats["tasks_created"] == 2
    outcomes = sorted(task["outcome"] for task in stats["tasks"].values())
    if dialect == "openai":  # DELETE /v1/videos/{id} is the only cancel call there is
        assert stats["requests"]["DELETE /v1/videos/{task_id}"] == 2
        assert outcomes == ["cancelled", "cancelled"]
    else:
        assert not any(route.startswith("DELETE") for route in stats["requests"])
        assert outcomes == ["pending", "pending"]


async def test_without_cancel_on_timeout_nothing_is_cancelled(make_sandbox, make_client):
    sandbox = make_sandbox(never_finish=True)
    client = make_client(sandbox, dialect="openai")
    run = client.run(_requests(1), timeout=0.5)
    await run
    assert run.rows[0].state is RowState.TIMED_OUT
    assert "DELETE /v1/videos/{task_id}" not in sandbox.stats(include_tasks=False)["requests"]
