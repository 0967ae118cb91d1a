"""Leaderboard figures on a real journal filled with a known set of results and votes.

Every expected figure is worked out by hand in the test, next to the data it comes from.
Timestamps are controlled through ``videogen_nb.store.journal._now``, the clock the journal
documents as the one tests replace.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import pathlib
import re
from collections.abc import Iterator

import pytest

import videogen_nb.store.journal as journal_mod
from videogen_nb.core.errors import TaskTimeoutError, ValidationError
from videogen_nb.core.request import VideoRequest
from videogen_nb.core.task import Task, TaskStatus
from videogen_nb.insight import (
    Leaderboard,
    failure_reason,
    leaderboard,
    parse_since,
    percentile,
    wilson_interval,
)
from videogen_nb.insight.cli import leaderboard_main
from videogen_nb.store.journal import Journal

GATEWAY = "http://127.0.0.1:9"
T0 = 1_700_000_000.0
DAY = 86400.0
Z = 1.959963984540054


class FakeClock:
    """The journal's clock, set by hand."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(journal_mod, "_now", fake)
    return fake


def add(
    journal: Journal,
    clock: FakeClock,
    model: str,
    outcome: str,
    *,
    at: float,
    latency: float = 0.0,
    error: str | None = None,
    code: str | None = None,
    spec: dict[str, object] | None = None,
) -> None:
    """One entry: created at ``at``, submitted 1 s later, then ``outcome``."""
    clock.now = at
    entry = journal.record_request(
        VideoRequest(model=model, prompt=f"prompt at {at}"), gateway=GATEWAY, dialect="unified"
    )
    if outcome == "created":
        return
    task_id = f"task_{entry.id}"
    clock.now = at + 1
    journal.record_submit(entry.id, Task(id=task_id, status=TaskStatus.QUEUED))
    clock.now = at + 1 + latency
    if outcome == "downloaded":
        journal.record_task(entry.id, Task(id=task_id, status=TaskStatus.COMPLETED))
        clock.now += 3  # the download itself does not count as latency
        journal.record_download(entry.id, f"/tmp/{task_id}.mp4", checksum=None, size=1)
    elif outcome == "failed":
        failed = Task(id=task_id, status=TaskStatus.FAILED, error=error, error_code=code)
        journal.record_task(entry.id, failed)
    elif outcome == "cancelled":
        journal.record_task(entry.id, Task(id=task_id, status=TaskStatus.CANCELLED))
    elif outcome == "timed_out":
        running = Task(id=task_id, status=TaskStatus.IN_PROGRESS)
        journal.record_error(entry.id, TaskTimeoutError(running, 600), state="timed_out")
    if spec is not None:
        journal.record_spec(entry.id, spec)


def vote(journal: Journal, clock: FakeClock, at: float, **fields: object) -> None:
    clock.now = at
    journal.record_vote(run_id="r1", **fields)  # type: ignore[arg-type]


SPEC_OK = {"measured": {"duration": 5.0}, "findings": [], "ok": True}
SPEC_BAD = {"measured": {"duration": 5.0}, "findings": ["asked 10 s, got 5.0 s"], "ok": False}
UPSTREAM = "Upstream timeout after #s (request id: <id>)"
TIMEOUT = "TaskTimeoutError: task task_# still in_progress after # s;…"  # cut at 60


@pytest.fixture
def journal(tmp_path: pathlib.Path, clock: FakeClock) -> Iterator[Journal]:
    """The known data set (``since="7d"`` leaves out the first, 30-day-old entry)."""
    j = Journal(tmp_path / "journal.sqlite")
    t = T0
    add(j, clock, "alpha", "failed", at=t - 30 * DAY, code="old_failure")
    # alpha: 3 downloaded (10, 20, 40 s), 3 failed (2 masked alike + 1 code), 1 cancelled,
    # 1 still running
    add(j, clock, "alpha", "downloaded", at=t + 10, latency=10, spec=SPEC_OK)
    add(j, clock, "alpha", "downloaded", at=t + 20, latency=40, spec=SPEC_BAD)
    add(j, clock, "alpha", "downloaded", at=t + 30, latency=20)
    add(j, clock, "alpha", "failed", at=t + 40, code="content_policy", error="blocked")
    add(
        j,
        clock,
        "alpha",
        "failed",
        at=t + 50,
        error="Upstream timeout after 300s (request id: 7f3a9c2e1b)",
    )
    add(
        j,
        clock,
        "alpha",
        "failed",
        at=t + 60,
        error="Upstream timeout after 120s (request id: 0b1c2d3e4f)",
    )
    add(j, clock, "alpha", "cancelled", at=t + 70)
    add(j, clock, "alpha", "pending", at=t + 80)
    # beta: 2 downloaded (5, 7 s), 1 timed out
    add(j, clock, "beta", "downloaded", at=t + 90, latency=5, spec=SPEC_OK)
    add(j, clock, "beta", "downloaded", at=t + 100, latency=7)
    add(j, clock, "beta", "timed_out", at=t + 110, latency=600)
    # gamma: 1 downloaded (30 s); delta: 1 downloaded (12 s), never voted on
    add(j, clock, "gamma", "downloaded", at=t + 120, latency=30)
    add(j, clock, "delta", "downloaded", at=t + 130, latency=12)

    ab = ["alpha", "beta"]
    vote(j, clock, t + 900, row_key="boat", candidates=ab, winner="alpha", kind="best")
    vote(j, clock, t + 901, row_key="dog", candidates=[*ab, "gamma"], winner="beta", kind="best")
    vote(j, clock, t + 902, row_key="cat", candidates=ab, winner=None, kind="tie")
    vote(j, clock, t + 903, row_key="sun", candidates=ab, winner=None, kind="skip")
    vote(j, clock, t + 904, row_key="car", candidates=ab, winner="alpha", loser="beta", kind="pair")
    # a changed mind: the second verdict on the same row replaces the first
    vote(j, clock, t + 905, row_key="tree", candidates=ab, winner="beta", kind="best")
    vote(j, clock, t + 906, row_key="tree", candidates=ab, winner="alpha", kind="best")
    clock.now = t + 1000
    yield j
    j.close()


def test_figures_match_the_hand_computed_values(journal: Journal) -> None:
    board = leaderboard(journal, since="7d")
    assert board.models == ["alpha", "beta", "gamma", "delta"]
    assert [r.rank for r in board.rows] == [1, 2, 3, 4]

    a = board.row("alpha")
    assert a is not None
    assert (a.tasks, a.succeeded, a.failed, a.cancelled, a.pending) == (8, 3, 3, 1, 1)
    assert a.success_rate == 3 / (3 + 3)  # cancelled and running tasks are not counted
    assert a.failure_reasons == {UPSTREAM: 2, "content_policy": 1}
    assert list(a.failure_reasons) == [UPSTREAM, "content_policy"]  # most frequent first
    # latencies 10, 20, 40: p50 = the middle one; p95 at rank 0.95 * 2 = 1.9 -> 20 + 0.9 * 20
    assert a.latency_p50 == 20
    assert a.latency_p95 == pytest.approx(38.0)
    assert (a.spec_checked, a.spec_ok, a.spec_ok_rate) == (2, 1, 0.5)
    # boat W, dog L, cat T, car W, tree W (the replaced verdict is gone); sun skipped
    assert (a.votes, a.wins, a.ties, a.losses) == (5, 3, 1, 1)
    assert a.win_rate == pytest.approx((3 + 1 / 2) / 5)  # 0.7
    # Wilson, n = 5, p = 0.7: z² = 3.8415, d = 1 + z²/5 = 1.7683,
    # centre = (0.7 + z²/10) / d = 0.6131, half = z·√(0.21/5 + z²/100) / d = 0.3143
    assert a.win_ci_low == pytest.approx(0.2988, abs=1e-4)
    assert a.win_ci_high == pytest.approx(0.9274, abs=1e-4)

    b = board.row("beta")
    assert b is not None
    assert (b.tasks, b.succeeded, b.failed, b.cancelled, b.pending) == (3, 2, 1, 0, 0)
    assert b.success_rate == pytest.approx(2 / 3)  # the timed-out task counts as failed
    assert b.failure_reasons == {TIMEOUT: 1}
    # latencies 5, 7: p50 = 6; p95 at rank 0.95 -> 5 + 0.95 * 2
    assert b.latency_p50 == 6
    assert b.latency_p95 == pytest.approx(6.9)
    assert (b.spec_checked, b.spec_ok, b.spec_ok_rate) == (1, 1, 1.0)
    # boat L, dog W, cat T, car L, tree L
    assert (b.votes, b.wins, b.ties, b.losses) == (5, 1, 1, 3)
    assert b.win_rate == pytest.approx((1 + 1 / 2) / 5)  # 0.3
    # Wilson, n = 5, p = 0.3: the mirror image of alpha's interval
    assert b.win_ci_low == pytest.approx(1 - 0.9274, abs=1e-4)
    assert b.win_ci_high == pytest.approx(1 - 0.2988, abs=1e-4)

    g = board.row("gamma")
    assert g is not None
    assert (g.tasks, g.success_rate, g.latency_p50, g.latency_p95) == (1, 1.0, 30, 30)
    assert (g.spec_checked, g.spec_ok_rate) == (0, None)
    assert (g.votes, g.wins, g.ties, g.losses, g.win_rate) == (1, 0, 0, 1, 0.0)
    # Wilson, n = 1, p = 0: [0, z² / (1 + z²)] = [0, 3.8415 / 4.8415]
    assert g.win_ci_low == 0.0
    assert g.win_ci_high == pytest.approx(Z * Z / (1 + Z * Z))

    d = board.row("delta")
    assert d is not None
    assert (d.votes, d.win_rate, d.win_ci_low, d.win_ci_high) == (0, None, None, None)
    assert d.latency_p50 == 12

    notes = "\n".join(board.notes)
    assert "1 skipped row not counted" in notes
    assert "a tie counts as half a win" in notes
    assert "Wilson" in notes
    assert "1 cancelled task and 1 unfinished task not counted in the success rate" in notes
    assert "since the last 7 days" in notes
    assert board.skipped_votes == 1


def test_without_since_the_old_entry_counts(journal: Journal) -> None:
    a = leaderboard(journal).row("alpha")
    assert a is not None
    assert (a.tasks, a.failed) == (9, 4)
    assert a.success_rate == pytest.approx(3 / 7)
    assert a.failure_reasons == {UPSTREAM: 2, "content_policy": 1, "old_failure": 1}
    # an epoch cut-off between the two: the same as "7d"
    assert leaderboard(journal, since=T0 - DAY).row("alpha").tasks == 8  # type: ignore[union-attr]
    # a cut-off after everything: no entries and no votes
    assert leaderboard(journal, since=T0 + 5000).rows == ()


def test_models_filter_keeps_votes_against_other_models(journal: Journal) -> None:
    board = leaderboard(journal, since="7d", models=["beta", "nobody"])
    assert board.models == ["beta", "nobody"]
    beta = board.row("beta")
    assert beta is not None and (beta.votes, beta.wins, beta.losses) == (5, 1, 3)
    nobody = board.row("nobody")
    assert nobody is not None
    assert (nobody.tasks, nobody.success_rate, nobody.votes) == (0, None, 0)
    assert leaderboard(journal, models="delta").models == ["delta"]


def test_without_votes_rank_by_success_then_latency(
    tmp_path: pathlib.Path, clock: FakeClock
) -> None:
    with Journal(tmp_path / "j.sqlite") as j:
        add(j, clock, "x", "downloaded", at=T0, latency=10)
        add(j, clock, "x", "downloaded", at=T0 + 1, latency=10)
        add(j, clock, "y", "downloaded", at=T0 + 2, latency=5)
        add(j, clock, "z", "downloaded", at=T0 + 3, latency=1)
        add(j, clock, "z", "failed", at=T0 + 4, error="boom")
        board = leaderboard(j)
    # x and y both succeed every time: the faster p50 (y, 5 s) first; z succeeds 1 of 2
    assert board.models == ["y", "x", "z"]
    assert board.row("z").failure_reasons == {"boom": 1}  # type: ignore[union-attr]
    assert any("no votes yet" in note for note in board.notes)
    assert any("no spec checks recorded" in note for note in board.notes)
    assert not any("tie" in note for note in board.notes)


def test_every_unfinished_state_counts_as_pending(tmp_path: pathlib.Path, clock: FakeClock) -> None:
    # "sending" (the POST is on the wire) once fell into no bucket: neither pending nor
    # anything else, so the unfinished-task note undercounted
    with Journal(tmp_path / "j.sqlite") as j:
        add(j, clock, "x", "created", at=T0)
        sending = j.record_request(
            VideoRequest(model="x", prompt="on the wire"), gateway=GATEWAY, dialect="unified"
        )
        assert j.mark_sending(sending.id).state == "sending"
        unknown = j.record_request(
            VideoRequest(model="x", prompt="answer lost"), gateway=GATEWAY, dialect="unified"
        )
        j.record_submit_unknown(unknown.id, "connection reset")
        add(j, clock, "x", "submitted", at=T0 + 5)
        add(j, clock, "x", "downloaded", at=T0 + 9, latency=2)
        row = leaderboard(j).row("x")
    assert row is not None
    assert (row.tasks, row.pending, row.succeeded, row.failed, row.cancelled) == (5, 4, 1, 0, 0)


def test_text_table_is_aligned(journal: Journal) -> None:
    text = str(leaderboard(journal, since="7d"))
    lines = text.splitlines()
    header = lines[0]
    assert header.split()[:3] == ["#", "model", "tasks"]
    assert set(lines[1]) <= {"-", " "}
    rows = lines[2:6]
    column = header.index("model")
    assert [line[column:].split()[0] for line in rows] == ["alpha", "beta", "gamma", "delta"]
    # right-aligned numbers end at the same column as their header
    tasks_end = header.index("tasks") + len("tasks")
    assert [line[:tasks_end].split()[-1] for line in rows] == ["8", "3", "1", "1"]
    assert "50% (3/6)" in rows[0] and "70% [30%–93%]" in rows[0]
    assert f"alpha: {UPSTREAM} ×2; content_policy ×1" in text
    assert "notes:" in text and "1 skipped row not counted" in text


def test_html_is_sortable_escaped_and_self_contained(
    tmp_path: pathlib.Path, clock: FakeClock
) -> None:
    evil = "evil<script>alert(1)</script>"
    with Journal(tmp_path / "j.sqlite") as j:
        add(j, clock, evil, "failed", at=T0, error='<img src=x onerror="alert(2)">')
        add(j, clock, "good", "downloaded", at=T0 + 1, latency=3)
        vote(
            j, clock, T0 + 10, row_key="r<1>", candidates=[evil, "good"], winner="good", kind="best"
        )
        page = leaderboard(j)._repr_html_()
    assert "<script>alert(1)" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<img" not in page and "&lt;img src=x" in page
    assert not re.search(r"(src|href)\s*=\s*[\"']", page)  # nothing fetched from anywhere
    assert "http" not in page
    assert page.count("<th ") == 14 and "addEventListener" in page
    table_id = re.search(r'<table id="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    assert f'getElementById("{table_id}")' in page
    # numeric sort keys: the rate as a number, empty when there is none
    assert 'data-sort="1.0"' in page and 'data-sort=""' in page


def test_dataframe_has_one_row_per_model(journal: Journal) -> None:
    pytest.importorskip("pandas")
    df = leaderboard(journal, since="7d").to_dataframe()
    assert list(df["model"]) == ["alpha", "beta", "gamma", "delta"]
    assert df.loc[0, "win_rate"] == pytest.approx(0.7)
    assert df.loc[0, "failure_reasons"] == f"{UPSTREAM} ×2; content_policy ×1"
    assert {"latency_p50", "latency_p95", "spec_ok_rate", "win_ci_low"} <= set(df.columns)


def test_journal_argument_forms(
    journal: Journal, monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path
) -> None:
    by_path = leaderboard(journal.path, since="7d")
    assert by_path.row("alpha") == leaderboard(journal, since="7d").row("alpha")
    with pytest.raises(FileNotFoundError, match="no journal at"):
        leaderboard(tmp_path / "nope.sqlite")
    monkeypatch.chdir(tmp_path)  # no ./videogen-runs/journal.sqlite here
    empty = leaderboard()
    assert empty.rows == () and "nothing has run here" in empty.notes[0]
    assert not (tmp_path / "videogen-runs").exists()  # looking did not create a journal
    assert "no models" in str(empty)
    assert isinstance(empty, Leaderboard)


def test_cli(journal: Journal, capsys: pytest.CaptureFixture[str], tmp_path: pathlib.Path) -> None:
    assert leaderboard_main(["--journal", str(journal.path), "--since", "7d"]) == 0
    out = capsys.readouterr().out
    assert out.index("alpha") < out.index("beta") < out.index("gamma") < out.index("delta")

    assert leaderboard_main(["--journal", str(journal.path), "-m", "beta,gamma", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [r["model"] for r in data["rows"]] == ["beta", "gamma"]
    assert data["rows"][0]["wins"] == 1 and data["notes"]

    assert leaderboard_main(["--journal", str(tmp_path / "missing.sqlite")]) == 1
    assert "no journal at" in capsys.readouterr().err
    assert leaderboard_main(["--journal", str(journal.path), "--since", "soon"]) == 2
    assert "since" in capsys.readouterr().err
    assert leaderboard_main(["--help"]) == 0


# -- the helpers on their own ------------------------------------------------------------------


def test_wilson_interval() -> None:
    # 3 of 4: p = 0.75, d = 1 + z²/4 = 1.9604, centre = (0.75 + z²/8) / d = 0.6276,
    # half = z·√(0.1875/4 + z²/64) / d = 0.3269
    low, high = wilson_interval(3, 4)
    assert (round(low, 4), round(high, 4)) == (0.3006, 0.9544)
    p, n = 0.5, 10
    half = Z * math.sqrt(p * (1 - p) / n + Z * Z / (4 * n * n)) / (1 + Z * Z / n)
    assert wilson_interval(5, 10) == pytest.approx((0.5 - half, 0.5 + half))
    assert wilson_interval(0, 0) == (0.0, 1.0)


def test_percentile() -> None:
    assert percentile([], 50) is None
    assert percentile([7], 95) == 7
    assert percentile([40, 10, 20], 50) == 20  # unsorted input
    assert percentile([10, 20, 30, 40], 50) == 25  # rank 1.5
    assert percentile([10, 20, 30, 40], 95) == pytest.approx(38.5)  # rank 2.85


def test_failure_reason_grouping() -> None:
    assert failure_reason("anything", "rate_limited") == "rate_limited"
    assert failure_reason(None, None, "timed_out") == "timed out"
    assert failure_reason("", None) == "(no message)"
    first = failure_reason("Task 5c8e2a1f-33aa-4b6e failed at 12:30 after 45.5 s", None)
    second = failure_reason("Task 91ffee00-1234-abcd failed at 09:05 after 3 s", None)
    assert first == second == "Task <id> failed at #:# after # s"
    long = failure_reason("x" * 100, None)
    assert len(long) == 60 and long.endswith("…")


def test_parse_since() -> None:
    assert parse_since("7d") == dt.timedelta(days=7)
    assert parse_since("12h") == dt.timedelta(hours=12)
    assert parse_since("30m") == dt.timedelta(minutes=30)
    assert parse_since("2w") == dt.timedelta(weeks=2)
    assert parse_since("2026-05-01") == dt.datetime(2026, 5, 1)
    assert parse_since(T0) == T0
    assert parse_since(None) is None
    with pytest.raises(ValidationError, match="since"):
        parse_since("yesterday")
