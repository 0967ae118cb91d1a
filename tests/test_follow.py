"""The one set of follow rules (``tasks.follow``) that ``wait()`` and the run scheduler share:
deadline, poll delays, and what each kind of failed poll means."""

from __future__ import annotations

import time

import pytest

import videogen_nb as vg
from tests.support import FAST_POLL, small
from videogen_nb.core.errors import (
    APIConnectionError,
    AuthenticationError,
    BadRequestError,
    RateLimitError,
    ServerError,
)
from videogen_nb.http.retry import RetryPolicy
from videogen_nb.tasks.follow import (
    MAX_POLL_ERRORS,
    RATE_LIMIT_PAUSE,
    Finished,
    Follow,
    GiveUp,
    PollAgain,
    follow_task,
)


def _task(status: vg.TaskStatus = vg.TaskStatus.QUEUED, task_id: str = "task_1", **kw) -> vg.Task:
    return vg.Task(id=task_id, status=status, **kw)


def _follow(timeout: float | None = None, **kw) -> Follow:
    return Follow(
        task=_task(), policy=vg.PollPolicy(), submitted_at=time.time(), timeout=timeout, **kw
    )


def test_a_terminal_task_needs_no_poll():
    done = Follow(task=_task(vg.TaskStatus.FAILED), policy=vg.PollPolicy(), submitted_at=0.0)
    assert done.first() == Finished(done.task)


def test_delays_come_from_the_policy_and_never_pass_the_deadline():
    free = _follow()
    assert free.first().delay == pytest.approx(vg.PollPolicy().next_delay(elapsed=0.0), abs=0.01)
    short = _follow(timeout=0.3)
    (delay,) = [short.first().delay]
    assert 0 < delay <= 0.3
    # the deadline counts from when the following began, not from the submit
    resumed = Follow(
        task=_task(), policy=vg.PollPolicy(), submitted_at=time.time() - 3600, timeout=60.0
    )
    assert isinstance(resumed.after_poll(_task()), PollAgain)


def test_a_task_still_running_at_the_deadline_times_out():
    follow = _follow(timeout=10.0, started=time.monotonic() - 10.0)
    outcome = follow.after_poll(_task(vg.TaskStatus.IN_PROGRESS, progress=40))
    assert isinstance(outcome, GiveUp) and isinstance(outcome.error, vg.TaskTimeoutError)
    assert outcome.error.task.progress == 40 and outcome.error.timeout == 10.0
    # ...but a task that ended at the deadline is done, not timed out
    assert isinstance(follow.after_poll(_task(vg.TaskStatus.COMPLETED)), Finished)


def test_rate_limits_wait_for_retry_after_and_are_never_counted_as_errors():
    follow = _follow()
    for _ in range(MAX_POLL_ERRORS * 2):
        outcome = follow.after_error(RateLimitError("busy", status_code=429, retry_after=2.5))
        assert outcome.delay == 2.5 and outcome.rate_limit is not None
    assert follow.errors == 0
    unnamed = follow.after_error(RateLimitError("busy", status_code=429))
    assert unnamed.delay == RATE_LIMIT_PAUSE


@pytest.mark.parametrize(
    "error",
    [ServerError("bad gateway", status_code=502), APIConnectionError("reset by peer")],
)
def test_transient_errors_back_off_then_give_up(error):
    follow = _follow()
    delays = []
    for _ in range(MAX_POLL_ERRORS - 1):
        outcome = follow.after_error(error)
        assert isinstance(outcome, PollAgain)
        delays.append(outcome.delay)
    assert delays == sorted(delays) and delays[0] == 2.0 and max(delays) <= 30.0
    assert follow.after_error(error) == GiveUp(error)
    # a good poll in between starts the count again
    again = _follow()
    for _ in range(MAX_POLL_ERRORS * 2):
        assert isinstance(again.after_error(error), PollAgain)
        again.after_poll(_task())


@pytest.mark.parametrize(
    "error",
    [
        BadRequestError("Video not found", status_code=404),
        AuthenticationError("Invalid token", status_code=401),
        APIConnectionError("certificate verify failed", transient=False),
        KeyError("a bug"),
    ],
)
def test_other_errors_end_the_follow_at_once(error):
    assert _follow().after_error(error) == GiveUp(error)


def test_an_error_at_the_deadline_is_a_timeout():
    follow = _follow(timeout=5.0, started=time.monotonic() - 6.0)
    outcome = follow.after_error(ServerError("upstream down", status_code=503))
    assert isinstance(outcome, GiveUp) and isinstance(outcome.error, vg.TaskTimeoutError)


def test_a_poll_answer_never_changes_the_task_id():
    follow = _follow()
    follow.after_poll(_task(vg.TaskStatus.IN_PROGRESS, task_id="video_short", raw={"id": "x"}))
    assert follow.task_id == "task_1" and follow.task.raw == {"id": "x"}


async def test_follow_task_polls_by_the_first_id_until_the_end():
    answers = iter(
        [
            RateLimitError("busy", status_code=429, retry_after=0),
            _task(vg.TaskStatus.IN_PROGRESS, task_id="other", progress=50),
            _task(vg.TaskStatus.COMPLETED, task_id="other", progress=100),
        ]
    )
    asked: list[str] = []
    updates: list[vg.Task] = []

    async def poll(task_id: str) -> vg.Task:
        asked.append(task_id)
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    follow = Follow(task=_task(), policy=FAST_POLL, submitted_at=time.time())
    done = await follow_task(follow, poll, on_update=updates.append)
    assert done.status is vg.TaskStatus.COMPLETED and done.id == "task_1"
    assert asked == ["task_1"] * 3
    assert [t.progress for t in updates] == [50, 100]


async def test_wait_rides_out_poll_errors_like_the_scheduler(make_sandbox, make_client):
    """wait() and run() share the follow rules: a poll that fails even after the
    transport's own retries (none here) no longer ends wait(); it is polled again."""
    sandbox = make_sandbox(task_seconds=0.3)
    client = make_client(sandbox, retry=RetryPolicy(max_attempts=1))
    task = await client.submit(small())
    sandbox.configure(server_error=1, server_error_on="get", server_error_status=503)
    done = await client.wait(task, timeout=30)
    assert done.status is vg.TaskStatus.COMPLETED
    assert sandbox.stats(include_tasks=False)["faults"]["server_error"] == 1


async def test_wait_gives_up_at_once_on_a_task_the_gateway_does_not_know(sandbox, make_client):
    client = make_client(sandbox, dialect="openai")
    started = time.monotonic()
    with pytest.raises(BadRequestError) as info:
        await client.wait(vg.Task(id="video_never_made", status=vg.TaskStatus.QUEUED), timeout=30)
    assert info.value.status_code == 404
    assert time.monotonic() - started < 5
