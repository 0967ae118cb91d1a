"""The poll policy outside the four regimes it was tuned on (issue 13, "the savings exist
only where the benchmark looked"): long tasks whose progress moves a point every few
seconds, a refresh cadence learned from too few ticks, a batch that must not sleep through
what its first finishers teach. No sleeping except in the one run against the sandbox."""

from __future__ import annotations

from collections import deque

import pytest

import videogen_nb as vg
from tests.support import small
from tests.test_poll_traces import T0, Clock, follow_through, linear_after_queue
from videogen_nb.tasks import cadence as cadence_module
from videogen_nb.tasks.cadence import Cadence
from videogen_nb.tasks.follow import Follow, PollAgain
from videogen_nb.tasks.pace import Pace
from videogen_nb.tasks.polling import PROBE_SHARE, PollPolicy, ProgressTrack

# --- a long task's last points ---------------------------------------------------------------


def test_a_wide_finish_window_that_has_begun_is_polled_through_not_jumped():
    """A 10-minute task moves one point of progress every ~4.5 s: one reading leaves a
    window that wide. Jumping to its end cost up to 4.5 s of lag; polling through it as a
    1 s loop would keeps the lag under a second."""
    pace = Pace()
    for duration in (500.0, 550.0, 600.0):  # finishers taught the sandbox's 25 % queue
        follow_through(linear_after_queue(duration), pace=pace)
    assert pace.queue_share is not None
    follow, finished = follow_through(linear_after_queue(600.0), pace=pace)
    lag = finished - 600.0
    assert 0 <= lag <= PollPolicy().fine_interval
    # the last decisions step through the window at 0.9 s
    steps = [delay for at, delay, reason in follow.trace.decisions if at > 590]
    assert steps and all(delay <= 0.9 + 1e-9 for delay in steps), steps
    assert follow.trace.gets < 40  # a 1 s loop spends 600


# --- the refresh cadence ---------------------------------------------------------------------


def _ticks(cadence: Cadence, ticks: list[float], n: int = 8, width: float = 0.9) -> None:
    """``n`` polls about a second apart see each tick change their answer."""
    for tick in ticks:
        for i in range(n):
            before = tick - (i + 0.5) * width / n
            cadence.observe_change(before, before + width)


def test_wide_change_intervals_never_push_the_narrow_ones_out():
    """Linear progress behind a 15 s refresh: every poll 15 s apart sees a change. Those
    wide intervals used to fill the window and leave the cadence with no ticks (then with
    a multiple of the period, and 30 s of lag)."""
    cadence = Cadence()
    _ticks(cadence, [T0 + 0.37 + 15 * k for k in range(1, 5)])
    assert cadence.period == 15.0
    for i in range(5000):
        start = T0 + 60.5 + (i % 300) * 0.05 + 15 * (i // 300)
        cadence.observe_change(start, start + 15.0)
    assert cadence.period == 15.0


def test_two_ticks_give_an_anchor_never_before_the_real_tick():
    """Two clusters 30 s apart, one narrow and one 1.4 s wide (a real trace of a 30 s
    gateway): the period lies anywhere in 28.5-30.1 s. The cadence says so, and the window
    it gives two periods later still holds the real tick."""
    cadence = Cadence()
    for before, after in ((T0 + 30.31, T0 + 30.47), (T0 + 58.99, T0 + 60.39)):
        for k in range(3):
            cadence.observe_change(before - 0.01 * k, after)
    for i in range(40):  # quiet polls between the two
        start = T0 + 31.0 + 0.6 * i
        cadence.observe_same(start, start + 0.9)
    period = cadence.period
    assert period is not None and abs(period - 30.0) <= 1.0
    real = T0 + 90.37
    tick = cadence.next_tick(T0 + 75.0)
    assert tick is not None
    spread = cadence.uncertainty(tick)
    assert tick - spread <= real <= tick + spread


def test_a_change_between_two_ticks_refuses_their_distance_as_the_period():
    """Tasks whose status stays put through a refresh poll quietly across it: quiet polls
    alone do not prove that no tick lies between two clusters. A change seen in between
    does prove one does."""
    cadence = Cadence()
    for before, after in ((T0 + 30.31, T0 + 30.47), (T0 + 90.21, T0 + 90.47)):
        for k in range(3):
            cadence.observe_change(before - 0.01 * k, after)
    for i in range(40):
        start = T0 + 31.0 + 1.4 * i
        cadence.observe_same(start, start + 0.9)
    cadence.observe_change(T0 + 45.0, T0 + 62.0)  # a task changed around the 60.37 tick
    assert cadence.period != pytest.approx(60.0, abs=1.0)


def test_a_known_cadence_cuts_a_wide_change_down_to_its_window():
    """A probe polled inside the window where the next tick must be, and saw the change:
    the interval since its previous poll (15 s) is cut to the window's part before the
    probe, which times the tick. The window alone (no poll inside it) teaches nothing."""
    cadence = Cadence()
    _ticks(cadence, [T0 + 0.37 + 15 * k for k in range(1, 5)])
    tick = cadence.next_tick(T0 + 70.0)
    assert tick is not None
    spread = cadence.uncertainty(tick)
    assert spread > 0.05
    start = tick - spread - cadence_module.ANCHOR_SLACK
    assert cadence._within_window(tick - 14.0, tick + 0.01) == (start, tick + 0.01)
    assert cadence._within_window(tick - 14.0, tick + spread) is None


def test_a_period_known_from_a_few_ticks_is_polled_after_its_latest_possible_tick():
    """Polls land after the real tick however the period's error has grown, and once that
    error is a sizeable share of a period, the cadence is no longer trusted at all."""
    pace = Pace()
    _ticks(pace.cadence, [T0 + 0.37 + 15 * k for k in range(1, 4)])
    assert pace.cadence.period == 15.0
    policy = PollPolicy()
    for k in range(4, 12):
        now = T0 + 0.37 + 15 * k - 7.0
        delay = policy.decide(elapsed=now - T0, typical_seconds=300.0, pace=pace, now=now)
        tick = T0 + 0.37 + 15 * k
        if delay.reason.endswith("+refresh"):
            assert now + delay.seconds >= tick + policy.refresh_margin - 0.01
        else:
            assert "+refresh" not in delay.reason  # too far from what was seen: no cadence
    far = T0 + 0.37 + 15 * 200
    assert pace.cadence.uncertainty(far) > cadence_module.CLUSTER_WIDTH
    late = policy.decide(elapsed=60.0, typical_seconds=300.0, pace=pace, now=far - 7.0)
    assert "+refresh" not in late.reason


def test_a_few_tasks_probe_the_tick_from_both_sides():
    """Polls on the ticks alone never re-time them. A task whose jitter makes it a prober
    polls once inside the window before the tick, and next just after its end."""
    pace = Pace()
    _ticks(pace.cadence, [T0 + 0.37 + 15 * k for k in range(1, 4)])
    policy = PollPolicy()
    prober = ProgressTrack(jitter=PROBE_SHARE / 10)
    other = ProgressTrack(jitter=0.9)
    now = T0 + 0.37 + 15 * 6 - 5.0
    tick = pace.cadence.next_tick(now)
    assert tick is not None
    spread = pace.cadence.uncertainty(tick)
    first = policy.decide(elapsed=100.0, typical_seconds=300.0, track=prober, pace=pace, now=now)
    assert first.reason.endswith("+probe")
    assert tick - spread <= now + first.seconds < tick
    then = now + first.seconds
    second = policy.decide(
        elapsed=100.0 + first.seconds, typical_seconds=300.0, track=prober, pace=pace, now=then
    )
    assert second.reason.endswith("+probe")
    assert then + second.seconds == pytest.approx(tick + max(spread, policy.refresh_margin))
    plain = policy.decide(elapsed=100.0, typical_seconds=300.0, track=other, pace=pace, now=now)
    assert plain.reason.endswith("+refresh")


# --- re-timing waiting tasks -------------------------------------------------------------------


def _waiting(pace: Pace, clock: Clock, task: vg.Task) -> Follow:
    follow = Follow(
        task=task,
        policy=PollPolicy(),
        submitted_at=T0,
        typical_seconds=240.0,
        pace=pace,
        clock=clock,
    )
    return follow


def test_a_task_waiting_on_a_guess_is_due_sooner_once_the_batch_learns():
    """A silent task on the catalog's 240 s guess sleeps ever longer. When the batch's
    first finishers teach durations of about 10 s, it is re-timed to poll at once."""
    clock = Clock(T0)
    pace = Pace()
    follow = _waiting(pace, clock, vg.Task(id="w", status=vg.TaskStatus.QUEUED))
    clock.now = T0 + 6.0
    decision = follow.after_poll(
        vg.Task(id="w", status=vg.TaskStatus.IN_PROGRESS), sent_at=clock.now
    )
    assert isinstance(decision, PollAgain) and decision.delay > 3.0
    before = pace.milestone
    pace.learn_durations([9.0, 9.5, 10.0, 10.5, 11.0])
    assert pace.milestone > before
    clock.now = T0 + 7.0
    assert follow.retime(0.5) is None  # not worth it: it polls in half a second anyway
    again = follow.retime(decision.delay - 1.0)
    assert again is not None and again < decision.delay - 2.0
    assert follow.trace.decisions[-1][2].endswith("+retimed")


def test_a_task_held_by_a_429_or_reporting_progress_is_not_retimed():
    clock = Clock(T0 + 5.0)
    pace = Pace()
    pace.learn_durations([9.0, 10.0, 11.0])
    held = _waiting(pace, clock, vg.Task(id="h", status=vg.TaskStatus.QUEUED))
    held.after_error(vg.RateLimitError("slow down", status_code=429, retry_after=30.0))
    assert held.retime(60.0) is None  # the gateway asked for the wait
    moving = _waiting(pace, clock, vg.Task(id="m", status=vg.TaskStatus.QUEUED))
    moving.after_poll(
        vg.Task(id="m", status=vg.TaskStatus.IN_PROGRESS, progress=40), sent_at=clock.now
    )
    assert moving.retime(60.0) is None  # a reading that old would be read as today's
    done = _waiting(pace, clock, vg.Task(id="d", status=vg.TaskStatus.COMPLETED))
    assert done.retime(60.0) is None


async def test_a_run_retimes_its_waiting_tasks_when_the_first_finish(make_sandbox, make_client):
    """Against the sandbox (stepped progress, as new-api): a batch of 24 on a model whose
    catalog guess is 240 s. Its first finishers teach the pace, and tasks that slept on
    the guess are re-timed at once; the heap entries they leave behind poll nothing."""
    sandbox = make_sandbox(task_seconds=3.0, stepped_progress=True)
    policy = PollPolicy(min_delay=0.05, max_delay=8.0, fine_interval=0.1, fine_window=0.3)
    client = make_client(sandbox, poll=policy)
    run = client.run([small(f"retime {i}") for i in range(24)], concurrency=24)
    await run
    assert run.counts["done"] == 24
    stats = run.poll_stats()
    retimed = [s for s in stats if any(r.endswith("+retimed") for r in s["reasons"])]
    assert retimed, [s["reasons"] for s in stats]
    # every re-timed poll was made once: the stale entries were skipped
    served = sandbox.stats(include_tasks=False)["requests"]
    gets = sum(v for k, v in served.items() if k.startswith("GET ") and "{task_id}" in k)
    assert sum(s["gets"] for s in stats) == gets


def test_the_cadence_keeps_only_what_it_uses():
    """Only narrow intervals time ticks; every change is kept (bounded) to refuse a period
    with a change inside it."""
    cadence = Cadence(keep=10)
    for i in range(50):
        cadence.observe_change(T0 + i, T0 + i + 10.0)
    assert len(cadence._intervals) == 0
    assert isinstance(cadence._changes, deque) and len(cadence._changes) == 10
