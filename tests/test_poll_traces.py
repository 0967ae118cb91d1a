"""The poll policy's decisions pinned on recorded timelines of each regime (issue 13).

No sleeping and no HTTP: a synthetic gateway answers at whatever time the follow rules
choose, a fake clock jumps to it, and the tests assert the delays and the estimate that
chose each one (``Follow.trace``, what ``run.poll_stats()`` reports).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

import videogen_nb as vg
from videogen_nb.tasks.cadence import Cadence
from videogen_nb.tasks.follow import Finished, Follow, PollAgain
from videogen_nb.tasks.pace import Pace
from videogen_nb.tasks.polling import Delay, PollPolicy, ProgressTrack

Gateway = Callable[[float], vg.Task]
T0 = 1_000_000.0  # epoch of the submits


class Clock:
    """Epoch seconds that move only when the test says so."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def linear_after_queue(duration: float, queue: float = 0.25, poll_after: float | None = None):
    """The sandbox's shape: 0 % while queued, then 5..99 % linearly, then completed."""

    def answer(t: float) -> vg.Task:
        if t >= duration:
            return vg.Task(id="t", status=vg.TaskStatus.COMPLETED, progress=100)
        frac = t / duration
        if frac < queue:
            return vg.Task(id="t", status=vg.TaskStatus.QUEUED, progress=0, poll_after=poll_after)
        p = max(1, min(99, int(5 + 95 * (frac - queue) / (1 - queue))))
        return vg.Task(id="t", status=vg.TaskStatus.IN_PROGRESS, progress=p, poll_after=poll_after)

    return answer


def refreshed_stepped(duration: float, start: float, period: float = 15.0, phase: float = 0.37):
    """new-api: reads show the task as of the last refresh tick; progress 10/20/30/100."""

    def answer(t: float) -> vg.Task:
        since_tick_zero = start + t - (T0 + phase)  # the gateway ticks at T0 + phase + k period
        seen = T0 + phase + (since_tick_zero // period) * period - start
        if seen >= duration:
            return vg.Task(id="t", status=vg.TaskStatus.COMPLETED, progress=100)
        if seen < 0.25 * duration:
            return vg.Task(id="t", status=vg.TaskStatus.QUEUED, progress=10 if seen < 0.1 else 20)
        return vg.Task(id="t", status=vg.TaskStatus.IN_PROGRESS, progress=30)

    return answer


def silent(duration: float) -> Gateway:
    def answer(t: float) -> vg.Task:
        if t >= duration:
            return vg.Task(id="t", status=vg.TaskStatus.COMPLETED)
        return vg.Task(id="t", status=vg.TaskStatus.IN_PROGRESS)

    return answer


def follow_through(
    gateway: Gateway, *, pace: Pace | None, start: float = T0, policy: PollPolicy | None = None
) -> tuple[Follow, float]:
    """Follow one task submitted at ``start`` to its end; the follow and the finish time."""
    clock = Clock(start)
    follow = Follow(
        task=vg.Task(id="t", status=vg.TaskStatus.QUEUED),
        policy=policy or PollPolicy(),
        submitted_at=start,
        pace=pace,
        clock=clock,
    )
    decision = follow.first()
    for _ in range(500):
        assert isinstance(decision, PollAgain)
        clock.now += decision.delay
        decision = follow.after_poll(gateway(clock.now - start), sent_at=clock.now)
        if isinstance(decision, Finished):
            return follow, clock.now - start
    raise AssertionError("the follow never ended")


def reasons(follow: Follow) -> list[str]:
    return [reason for _, _, reason in follow.trace.decisions]


# --- regime 1: short tasks, linear progress after a queue, openai-poll-after-ms ---------


def learned_queue_pace() -> Pace:
    """A pace whose first finishers taught the queue share (the sandbox's 25 % queue)."""
    pace = Pace()
    for duration in (2.0, 2.5, 3.0, 3.5):
        follow_through(linear_after_queue(duration), pace=pace)
    return pace


def test_first_finishers_teach_the_queue_share():
    pace = learned_queue_pace()
    # share = q + (1 - q) * progress: 5 % at the end of a 25 % queue means q ~ 0.21
    assert pace.queue_share == pytest.approx(0.21, abs=0.05)
    assert pace.shape == "unknown"  # too few readings to judge; linear is assumed


def test_one_reading_predicts_the_finish_with_a_learned_queue_share():
    pace = learned_queue_pace()
    follow, finished = follow_through(linear_after_queue(8.0, poll_after=1.0), pace=pace)
    polls = follow.trace.decisions
    # submit -> a 1 s first poll (the first finishers are shorter: nothing says wait longer)
    # -> queued at 1 s -> ... -> one progress reading -> straight to the finish
    assert "queue-share" in reasons(follow)
    assert follow.trace.gets <= 4, polls
    assert 8.0 <= finished <= 8.0 + 1.0
    assert all(delay >= 1.0 for _, delay, _ in polls[1:]), polls  # the server's floor


def test_server_hint_is_a_floor_never_an_order():
    policy = PollPolicy()
    pace = learned_queue_pace()
    # 10 % of a long task: far from done, so later than the hint
    far = policy.decide(elapsed=30.0, progress=10, poll_after=1.0, pace=pace)
    assert far.seconds > 1.0 and far.reason == "queue-share"
    # about to finish: the hint holds the poll back
    near = policy.decide(elapsed=3.9, progress=99, poll_after=1.0, pace=pace)
    assert near == Delay(1.0, "server-hint")


# --- regime 2: new-api, 15 s refreshes, stepped progress --------------------------------


def test_refresh_cadence_is_learned_from_when_answers_change():
    cadence = Cadence()
    ticks = [T0 + 0.37 + 15 * k for k in range(1, 6)]
    # 300 tasks polled about every second at different offsets: those that changed at a
    # tick say "between my last two polls"
    for i in range(300):
        offset = (i % 37) / 37
        tick = ticks[i % len(ticks)]
        before = tick - offset
        cadence.observe_change(before, before + 1.0)
    assert cadence.period == 15.0
    assert cadence.next_tick(T0 + 20.0) == pytest.approx(T0 + 30.37, abs=0.1)
    # the predicted tick, give or take what the period's error allows, holds the real
    # one: before the ticks seen, and after them
    for now, real in ((T0 + 20.0, T0 + 30.37), (T0 + 80.0, T0 + 90.37), (T0 + 200, T0 + 210.37)):
        nxt = cadence.next_tick(now)
        assert nxt is not None
        spread = cadence.uncertainty(nxt)
        assert nxt - spread <= real <= nxt + spread
    # the period's error is what five ticks 15 s apart allow: the next window is narrow
    assert cadence.uncertainty(cadence.next_tick(T0 + 80.0) or 0.0) < 0.5


def test_continuous_progress_has_no_cadence():
    cadence = Cadence()
    for i in range(400):
        start = T0 + 0.13 * i
        cadence.observe_change(start, start + 1.0)
    assert cadence.period is None


def test_new_api_polls_land_just_after_each_refresh():
    pace = Pace()
    for i in range(300):  # the batch's early polls taught the cadence
        before = T0 + 0.37 + 15 * (1 + i % 4) - (i % 29) / 29
        pace.cadence.observe_change(before, before + 1.0)
    for _ in range(40):
        pace.learn_reading(10)
        pace.learn_reading(20)
        pace.learn_reading(30)
    assert pace.cadence.period == 15.0 and pace.stepped
    follow, finished = follow_through(refreshed_stepped(100.0, T0), pace=pace)
    polls = follow.trace.decisions
    later = polls[1:]
    # every poll after the first lands just after a refresh tick: at least 0.15 s after
    # it, and no later than the period's error allows (it grows a little with every
    # period past the ticks that taught it)
    for at, _, reason in later:
        assert 0.15 <= (at - 0.37) % 15 <= 0.4, polls
        assert reason.endswith("+refresh")
    # a step is not a rate: no progress estimate ever drove a delay
    assert not any(r.startswith(("progress", "queue-share")) for r in reasons(follow))
    # finished at 100 s, shown at the 105.37 refresh, seen just after it
    assert 105.52 <= finished <= 105.85
    assert follow.trace.gets <= 100 / 15 + 2  # a 1 s loop spends ~106


# --- regime 3: silent, the learned distribution of durations ----------------------------


def test_silent_tasks_are_timed_by_the_learned_distribution():
    pace = Pace()
    pace.learn_durations([10.0 + 0.1 * i for i in range(200)])  # 10-30 s, from the journal
    follow, finished = follow_through(silent(20.0), pace=pace)
    _, first_delay, first_reason = follow.trace.decisions[0]
    assert first_reason == "durations"
    # the first poll waits for the earliest plausible finish (1 % quantile: 10.2 s)
    assert first_delay == pytest.approx(10.2, abs=0.01)
    assert 20.0 <= finished <= 20.9
    # then 0.9 s polls through the bulk: 12 GETs where a 1 s loop spends 20
    assert follow.trace.gets <= 12


def test_silent_tail_backs_off():
    pace = Pace()
    pace.learn_durations([10.0 + 0.1 * i for i in range(200)])
    tail = PollPolicy().decide(elapsed=40.0, pace=pace)
    assert tail.reason == "tail" and tail.seconds > 1.0


def test_a_batch_learns_from_its_first_finishers():
    pace = Pace()
    early = [follow_through(silent(d), pace=pace)[0] for d in (4.0, 4.5, 5.0)]
    assert all("durations" not in reasons(f) for f in early)  # nothing was known yet
    later, _ = follow_through(silent(5.0), pace=pace)
    assert reasons(later)[0] == "durations"
    assert later.trace.decisions[0][1] > 1.0  # waits for the earliest plausible finish


# --- regime 4: long tasks, linear progress -----------------------------------------------


def test_long_task_without_a_learned_queue_share_uses_the_rate():
    follow, finished = follow_through(linear_after_queue(60.0), pace=Pace())
    assert "progress-rate" in reasons(follow)
    assert 60.0 <= finished <= 61.0
    # the queue phase, with nothing known, costs most of them
    assert follow.trace.gets <= 20  # a 1 s loop spends 60


def test_long_task_with_a_learned_queue_share_needs_few_polls():
    pace = Pace()
    for duration in (20.0, 25.0, 30.0):
        follow_through(linear_after_queue(duration), pace=pace)
    follow, finished = follow_through(linear_after_queue(60.0), pace=pace)
    assert "queue-share" in reasons(follow)
    assert 60.0 <= finished <= 61.0
    assert follow.trace.gets <= 10
    assert follow.trace.lag_bound is not None and follow.trace.lag_bound <= 15.0


def test_progress_track_keeps_the_latest_reading():
    track = ProgressTrack()
    track.observe(1.0, 0)
    track.observe(2.0, 10)
    track.observe(3.0, 20)
    assert (track.since, track.base, track.latest) == (2.0, 10, (3.0, 20))


def silent_phases(duration: float) -> Gateway:
    """No progress ever, but new-api's statuses, each beginning at a share of the duration
    (the sandbox's 8 / 16 / 25 %)."""

    def answer(t: float) -> vg.Task:
        if t >= duration:
            return vg.Task(id="t", status=vg.TaskStatus.COMPLETED)
        frac = t / duration
        text = "NOT_START" if frac < 0.08 else "SUBMITTED" if frac < 0.16 else "QUEUED"
        if frac >= 0.25:
            return vg.Task(id="t", status=vg.TaskStatus.IN_PROGRESS, status_text="IN_PROGRESS")
        return vg.Task(id="t", status=vg.TaskStatus.QUEUED, status_text=text)

    return answer


def test_silent_tasks_are_timed_by_when_they_switched_status():
    pace = Pace()
    for i in range(40):  # a first batch: durations and the status shares
        follow_through(silent_phases(10.0 + 0.5 * i), pace=pace)
    assert pace.shape == "none"
    shares = pace.stages.shares
    assert set(shares) == {"submitted", "queued", "in_progress"}  # where each begins
    for stage, share in (("submitted", 0.08), ("queued", 0.16), ("in_progress", 0.25)):
        least, typical, most = shares[stage]
        assert least <= share <= most and most - least < 0.05, (stage, shares[stage])
        assert typical == pytest.approx(share, abs=0.02)
    follow, finished = follow_through(silent_phases(24.0), pace=pace)
    got = reasons(follow)
    # polls where the answer tells most, then straight to the window the switches leave
    assert set(got) == {"stages"}, follow.trace.decisions
    assert 24.0 <= finished <= 24.9
    by_durations = Pace()
    by_durations.learn_durations(pace.sorted_durations)
    baseline, _ = follow_through(silent(24.0), pace=by_durations)
    assert follow.trace.gets <= 6 < baseline.trace.gets, (
        follow.trace.decisions,
        baseline.trace.gets,
    )
