"""What the poll policy learns, and how fast (issue 13): scouts, queue shares from two
readings, status shares, refresh cadence from two ticks, and the pace kept next to the
journal for the next client. No sleeping except in the one run against the sandbox."""

from __future__ import annotations

import json
import math

import pytest

import videogen_nb as vg
from tests.support import small
from tests.test_poll_traces import T0, Clock, follow_through, linear_after_queue
from videogen_nb.tasks.cadence import Cadence
from videogen_nb.tasks.follow import Follow, PollAgain
from videogen_nb.tasks.pace import SCOUTS, Pace, PaceBook
from videogen_nb.tasks.pace_file import pace_path, read_paces, write_paces
from videogen_nb.tasks.polling import SCOUT_SECONDS, Delay, PollPolicy, ProgressTrack
from videogen_nb.tasks.stages import StageShares, StageTrack, finish_bounds, informative_poll


def _start(pace: Pace, n: int) -> list[tuple[float, str]]:
    """The first decision of ``n`` tasks submitted together on ``pace``."""
    out = []
    clock = Clock(T0)
    for i in range(n):
        follow = Follow(
            task=vg.Task(id=f"t{i}", status=vg.TaskStatus.QUEUED),
            policy=PollPolicy(),
            submitted_at=T0,
            pace=pace,
            clock=clock,
        )
        decision = follow.first()
        assert isinstance(decision, PollAgain)
        out.append((decision.delay, follow.trace.decisions[-1][2]))
    return out


# --- scouts --------------------------------------------------------------------------------


def test_a_blank_batch_sends_scouts_and_the_rest_wait_for_their_second_readings():
    first = _start(Pace(), 30)
    scouts, rest = first[:SCOUTS], first[SCOUTS:]
    assert all(reason != "scouts" and delay <= 1.0 for delay, reason in scouts), scouts
    # the rest first poll just after the scouts' second poll (1 s + 1 s + 0.1 s)
    assert rest == [(pytest.approx(2.1), "scouts")] * (30 - SCOUTS)


def test_a_lone_video_is_never_held_back_and_never_scouts():
    pace = Pace()
    ((delay, reason),) = _start(pace, 1)
    assert delay == 1.0 and reason != "scouts"
    assert not pace.batch  # one video alone polls on the base schedule, not every second


def test_scouts_poll_about_every_second_for_a_while_only():
    pace = Pace()
    _start(pace, 30)  # a batch: scouting pays
    assert pace.batch and pace.blank
    policy = PollPolicy()
    scout = ProgressTrack(scout=True, jitter=0.5)
    early = policy.decide(elapsed=10.0, track=scout, pace=pace, typical_seconds=120.0)
    assert early == Delay(1.0, "scout")
    # past SCOUT_SECONDS a scout is an ordinary task again: long videos must not pay more
    late = policy.decide(elapsed=SCOUT_SECONDS + 1, track=scout, pace=pace, typical_seconds=120.0)
    assert late.reason == "typical" and late.seconds > 5.0


def test_a_pace_that_knows_something_sends_no_scouts():
    pace = Pace()
    pace.learn_durations([10.0, 11.0, 12.0])
    assert not any(reason == "scouts" for _, reason in _start(pace, 30))


# --- queue share from two readings -------------------------------------------------------


def test_two_readings_of_one_running_task_teach_the_queue_share_before_any_finish():
    pace = Pace()
    for duration in (3.0, 3.5, 4.0):
        track_readings = [(t, int(5 + 95 * (t / duration - 0.25) / 0.75)) for t in (1.0, 2.0)]
        pace.learn_pair(*track_readings)
    assert pace.samples == 0  # nothing finished yet
    # the sandbox's progress starts at 5 % when 25 % of the time has passed: 0.21 of it
    # is the queue share a straight line through the readings meets
    assert pace.queue_share == pytest.approx(0.2105, abs=0.01)
    assert pace.queue_share_error <= 0.02


def test_readings_too_close_together_teach_nothing():
    pace = Pace()
    for _ in range(5):
        pace.learn_pair((1.0, 40), (1.1, 45))  # 5 points apart: truncation swamps the slope
    assert pace.queue_share is None


def test_a_far_finish_is_approached_and_a_near_one_polled_just_after():
    pace = Pace()
    for duration in (3.0, 3.5, 4.0):
        pace.learn_pair(*[(t, int(5 + 95 * (t / duration - 0.25) / 0.75)) for t in (1.0, 2.0)])
    policy = PollPolicy()
    # 8 % of a 60 s task read at 16 s: the finish is known to a few seconds only
    far = policy.decide(elapsed=16.0, progress=8, pace=pace)
    earliest, latest = pace.finish_from(16.0, 8) or (0.0, 0.0)
    assert latest - earliest > 1.0
    assert far.reason == "queue-share" and far.seconds == pytest.approx(min(earliest - 16.0, 15.0))
    # 95 %: the window is narrow, poll just after its end
    near = policy.decide(elapsed=57.0, progress=95, pace=pace)
    _, latest = pace.finish_from(57.0, 95) or (0.0, 0.0)
    assert near.seconds == pytest.approx(latest - 57.0 + policy.finish_margin)


def test_one_reading_takes_a_batch_straight_to_the_finish():
    pace = Pace()
    for duration in (3.0, 3.5, 4.0):
        pace.learn_pair(*[(t, int(5 + 95 * (t / duration - 0.25) / 0.75)) for t in (1.0, 2.0)])
    follow, finished = follow_through(linear_after_queue(6.0), pace=pace)
    assert 6.0 <= finished <= 6.5
    assert follow.trace.gets <= 3, follow.trace.decisions


# --- status shares -----------------------------------------------------------------------


def _shares(**stages: float) -> StageShares:
    learned = StageShares()
    for duration in (10.0, 20.0, 40.0):
        switches = [
            (name, share * duration - 0.05, share * duration + 0.05)
            for name, share in stages.items()
        ]
        learned.learn(switches, earliest=duration - 0.05, finished=duration)
    return learned


def test_status_shares_agreed_by_finished_tasks_are_tight():
    shares = _shares(queued=0.16, in_progress=0.25).shares
    least, typical, most = shares["in_progress"]
    assert least <= 0.25 <= most and most - least < 0.03
    assert typical == pytest.approx(0.25, abs=0.01)


def test_shares_that_vary_from_task_to_task_give_loose_bounds():
    learned = StageShares()
    for i, share in enumerate((0.1, 0.2, 0.3, 0.4, 0.5)):
        duration = 20.0 + i
        learned.learn(
            [("in_progress", share * duration - 0.05, share * duration + 0.05)],
            earliest=duration - 0.05,
            finished=duration,
        )
    least, _, most = learned.shares["in_progress"]
    assert least <= 0.1 and most >= 0.5  # no common stretch: every task's share stays inside


def test_a_skipped_status_still_bounds_the_finish():
    shares = _shares(submitted=0.08, queued=0.16, in_progress=0.25).shares
    track = StageTrack()
    track.observe(3.0, "submitted")  # at 3 s submitted: queued had not begun
    track.observe(6.0, "in_progress")  # at 6 s running: queued was skipped between polls
    low, high = finish_bounds(track, shares)
    # queued had not begun at 3 s: D > 3 / 0.16; running had begun by 6 s: D <= 6 / 0.25
    assert low == pytest.approx(3.0 / shares["queued"][2])
    assert high == pytest.approx(6.0 / shares["in_progress"][0])


def test_the_next_poll_splits_what_is_still_possible():
    shares = _shares(queued=0.16, in_progress=0.25).shares
    durations = [20.0 + 0.1 * i for i in range(100)]  # 20-30 s
    found = informative_poll(
        now=1.0,
        until=20.0,
        window=(0.0, math.inf),
        durations=durations,
        shares=shares,
        soonest=0.5,
        step=0.9,
    )
    assert found is not None
    at, saved = found
    # at ``at`` the running/queued boundary (at / 0.25) or the queued/submitted one
    # (at / 0.16) cuts the 20-30 s durations: a 10 s stretch polled every 0.9 s otherwise
    assert any(20.0 < at / share < 30.0 for share in (0.25, 0.16))
    assert saved >= 3.0


def test_no_poll_is_spent_on_an_answer_that_saves_less_than_itself():
    shares = _shares(in_progress=0.25).shares
    durations = [20.0 + 0.01 * i for i in range(10)]  # a 0.09 s stretch: one poll covers it
    found = informative_poll(
        now=10.0,
        until=20.0,
        window=(19.0, 21.0),
        durations=durations,
        shares=shares,
        soonest=0.5,
        step=0.9,
    )
    assert found is None


# --- refresh cadence ---------------------------------------------------------------------


def test_two_refreshes_and_the_quiet_between_them_give_the_cadence():
    cadence = Cadence()
    for k, tick in enumerate((T0 + 15.37, T0 + 30.37)):
        for i in range(8):  # 8 scouts about a second apart, each at its own offset
            before = tick - 0.1 * i - 0.05
            cadence.observe_change(before, before + 0.9)
        for i in range(30 if k == 0 else 0):  # the quiet polls in between
            start = tick + 0.5 + 0.45 * i
            cadence.observe_same(start, start + 0.9)
    assert cadence.period == 15.0
    nxt = cadence.next_tick(T0 + 31.0)
    assert nxt is not None and T0 + 45.37 <= nxt <= T0 + 45.6  # never before the real tick


def test_two_refreshes_without_quiet_polls_between_them_are_not_enough():
    cadence = Cadence()
    for tick in (T0 + 15.37, T0 + 30.37):
        for i in range(8):
            before = tick - 0.1 * i - 0.05
            cadence.observe_change(before, before + 0.9)
    assert cadence.period is None  # 7.5 s (a tick nobody looked at) is as possible as 15 s


def test_one_task_with_rising_progress_has_no_cadence():
    pace = Pace()
    follow_through(linear_after_queue(60.0), pace=pace)
    assert pace.cadence.period is None


# --- the pace kept next to the journal ---------------------------------------------------


def test_a_pace_exports_and_restores_what_it_learned():
    pace = Pace()
    for duration in (3.0, 3.5, 4.0):
        pace.learn_pair(*[(t, int(5 + 95 * (t / duration - 0.25) / 0.75)) for t in (1.0, 2.0)])
    pace.stages.restore(_shares(in_progress=0.25).export())
    data = json.loads(json.dumps(pace.export()))  # through the file's format
    book = PaceBook()
    again = book.pace("m", restored=data)
    assert again.queue_share == pytest.approx(pace.queue_share)
    assert again.stages.shares.keys() == pace.stages.shares.keys()
    for stage, share in pace.stages.shares.items():
        assert again.stages.shares[stage] == pytest.approx(share)
    assert book.export() == {"m": again.export()}


def test_a_broken_pace_file_is_ignored_and_rewritten(tmp_path):
    path = pace_path(tmp_path / "journal.sqlite")
    assert path.name == "journal.sqlite.pace.json"
    path.write_text("{not json", encoding="utf-8")
    assert read_paces(path, "http://gw") == {}
    write_paces(path, "http://gw", {"m": {"queue_shares": [[0.2, 0.22]], "stages": {}}})
    write_paces(path, "http://other", {"m": {"queue_shares": [], "stages": {}}})
    assert read_paces(path, "http://gw") == {"m": {"queue_shares": [[0.2, 0.22]], "stages": {}}}
    assert set(json.loads(path.read_text())["gateways"]) == {"http://gw", "http://other"}
    path.write_text(json.dumps({"version": 99, "gateways": {"http://gw": {}}}))
    assert read_paces(path, "http://gw") == {}  # another format: ignored, not misread


async def test_what_a_run_learned_reaches_the_next_client_through_the_pace_file(
    make_sandbox, make_client, client_options
):
    sandbox = make_sandbox(task_seconds=0.6)
    first = make_client(sandbox)
    await first.run([small(f"pace {i}") for i in range(6)])
    path = pace_path(client_options["journal"])
    kept = read_paces(path, first.gateway)
    assert set(kept) == {"kling-v1"}
    assert kept["kling-v1"] == json.loads(json.dumps(first.scheduler.paces.export()["kling-v1"]))
    second = make_client(sandbox)  # a new kernel on the same journal
    restored = second.scheduler.pace("kling-v1").export()
    assert json.loads(json.dumps(restored)) == kept["kling-v1"]
