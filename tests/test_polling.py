"""The poll schedule: few requests early, converging on the expected finish."""

from __future__ import annotations

import pytest

from videogen_nb.tasks.polling import Delay, PollPolicy, ProgressTrack


def simulate(policy: PollPolicy, duration: float, *, progress: bool, typical: float | None):
    """Poll a task that finishes at ``duration`` s with linear progress; count GETs and lag."""
    t, polls = 0.0, 0
    while True:
        p = min(100, int(100 * t / duration)) if progress else None
        t += policy.next_delay(elapsed=t, progress=p, typical_seconds=typical)
        polls += 1
        if t >= duration:
            return polls, t - duration
        assert polls < 10_000


def test_server_hint_is_the_soonest_poll_not_an_order():
    """``openai-poll-after-ms`` (issue 13): never sooner than the hint; later when the
    estimate says the task is far from done."""
    policy = PollPolicy()
    assert policy.decide(elapsed=0.5, poll_after=3.0) == Delay(3.0, "server-hint")
    far = policy.decide(elapsed=100, progress=50, poll_after=0.2)
    assert far.seconds > 0.2 and far.reason == "progress"


def test_no_information_grows_from_one_second_to_the_cap():
    policy = PollPolicy()
    delays = [policy.next_delay(elapsed=t) for t in (0, 10, 60, 600)]
    assert delays[0] == pytest.approx(1.0)
    assert delays == sorted(delays)
    assert delays[-1] == policy.max_delay


@pytest.mark.parametrize("duration", [20.0, 60.0, 180.0])
def test_progress_makes_polls_few_and_lag_small(duration):
    policy = PollPolicy()
    fixed_polls = duration / 1.0  # what a 1 s fixed-interval poller spends
    polls, lag = simulate(policy, duration, progress=True, typical=None)
    assert polls <= fixed_polls / 2
    assert lag <= policy.fine_interval + 1e-9


def test_typical_duration_without_progress_converges_too():
    policy = PollPolicy()
    polls, lag = simulate(policy, 60.0, progress=False, typical=60.0)
    assert polls < 20
    assert lag <= policy.fine_interval + 1e-9


def test_overdue_task_backs_off():
    policy = PollPolicy()
    near = policy.next_delay(elapsed=61, typical_seconds=60)
    overdue = policy.next_delay(elapsed=300, typical_seconds=60)
    assert near == policy.fine_interval
    assert overdue > near
    assert overdue <= policy.max_delay


def test_floor_is_respected_even_for_servers():
    policy = PollPolicy(min_delay=0.01, fine_interval=0.01, floor=0.1)
    assert policy.next_delay(elapsed=0, poll_after=0.001) == 0.1
    assert policy.next_delay(elapsed=0, poll_after=0.5) == 0.5


def test_progress_after_a_queue_phase_does_not_overshoot_the_finish():
    """Gateways show 0 % while queued, then progress rises: the naive ETA (elapsed x
    remaining / done) is several times too long; polls must still land near the finish."""
    policy = PollPolicy()
    queued, running = 20.0, 10.0  # finishes at 30 s
    t, polls, track = 0.0, 0, ProgressTrack()
    while t < queued + running:
        p = 0 if t < queued else min(99, max(5, int(100 * (t - queued) / running)))
        track.observe(t, p or None)
        t += policy.next_delay(elapsed=t, progress=p or None, track=track)
        polls += 1
        assert polls < 200
    assert t - (queued + running) <= policy.fine_interval + 1e-9
    assert polls <= 0.6 * 30  # well under what a 1 s fixed-interval poller spends
