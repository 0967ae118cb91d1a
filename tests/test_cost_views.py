"""Cost after the run, in every view: the leaderboard's money columns, ``runs --cost``, the
DataFrame, the live table, grid captions and the report; and billed against delivered
seconds. Every expected figure is worked out by hand next to the data it comes from."""

from __future__ import annotations

import datetime as dt
import pathlib
import re
import time
from collections.abc import Iterator
from typing import Any

import pytest

import videogen_nb.store.journal as journal_mod
from videogen_nb.cli import main as cli_main
from videogen_nb.client.sync_client import Client
from videogen_nb.core.cost import Cost
from videogen_nb.core.request import VideoRequest
from videogen_nb.core.task import Result, Task, TaskStatus
from videogen_nb.display.layout import build_layout, cell_states
from videogen_nb.display.report import write_report
from videogen_nb.display.table import COLUMNS, summary_text, table_html, table_text
from videogen_nb.insight import leaderboard
from videogen_nb.insight.costs import CostTotal
from videogen_nb.insight.spec import check_delivery
from videogen_nb.run.export import rows_dataframe
from videogen_nb.run.rows import RowState, RunRow
from videogen_nb.run.run import Run
from videogen_nb.store.journal import Journal
from videogen_nb.store.prices import prices

GATEWAY = "http://127.0.0.1:9"
T0 = 1_700_000_000.0
DAY = 86400.0
HOSTILE = "</script><img src=x onerror=alert(1)>"


def reported(amount: float, billed: float | None = None) -> Cost:
    return Cost(amount=amount, source="reported", basis="test gateway", billed_seconds=billed)


@pytest.fixture
def priced() -> Iterator[None]:
    """``beta`` costs 0.10 USD per second (a price only these tests use); ``gamma`` has none."""
    prices.set("beta", per_second=0.10, source="test price")
    yield
    prices.remove("beta")


class FakeClock:
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
    model: str,
    outcome: str,
    *,
    cost: Cost | None = None,
    seconds: int = 5,
    measured: float | None = None,
) -> None:
    """One task: sent, then downloaded ("ok") or failed, with its reported ``cost`` and
    the spec check's ``measured`` length."""
    entry = journal.record_request(
        VideoRequest(model=model, prompt=f"{model} {HOSTILE}", duration=seconds),
        gateway=GATEWAY,
        dialect="unified",
    )
    task_id = f"task_{entry.id}"
    journal.record_submit(entry.id, Task(id=task_id, status=TaskStatus.QUEUED))
    status = TaskStatus.COMPLETED if outcome == "ok" else TaskStatus.FAILED
    error = None if outcome == "ok" else "upstream refused"
    journal.record_task(entry.id, Task(id=task_id, status=status, cost=cost, error=error))
    if outcome == "ok":
        journal.record_download(entry.id, f"/tmp/{task_id}.mp4", checksum=None, size=1)
    if measured is not None:
        journal.record_spec(entry.id, {"measured": {"duration": measured}, "findings": []})


def fill(journal: Journal) -> None:
    """The known data set of the money tests.

    alpha (reported costs): 2 videos at $0.50 and $0.30, billed 5 s each, measured 5.0 s
    and 2.0 s (one short); 1 failure charged $0.10; 1 failure with no charge reported.
    beta (estimated, 0.10 USD/s): 2 videos of 4 s = ~$0.40 each, measured 4.0 s each;
    1 failure with no charge. gamma (no price): 1 video.
    """
    add(journal, "alpha", "ok", cost=reported(0.50, billed=5), measured=5.0)
    add(journal, "alpha", "ok", cost=reported(0.30, billed=5), measured=2.0)
    add(journal, "alpha", "failed", cost=reported(0.10))
    add(journal, "alpha", "failed")
    add(journal, "beta", "ok", seconds=4, measured=4.0)
    add(journal, "beta", "ok", seconds=4, measured=4.0)
    add(journal, "beta", "failed", seconds=4)
    add(journal, "gamma", "ok")
    # votes: alpha wins one, beta wins one, one tie: each 1 win + 1 tie + 1 loss = 1.5
    pair = ["alpha", "beta"]
    journal.record_vote(
        run_id="r", row_key="a", candidates=pair, winner="alpha", loser=None, kind="best"
    )
    journal.record_vote(
        run_id="r", row_key="b", candidates=pair, winner="beta", loser=None, kind="best"
    )
    journal.record_vote(
        run_id="r", row_key="c", candidates=pair, winner="alpha", loser="beta", kind="tie"
    )


def test_leaderboard_money_columns_are_hand_computed(tmp_path: pathlib.Path, priced: None) -> None:
    with Journal(tmp_path / "j.sqlite") as journal:
        fill(journal)
        board = leaderboard(journal)
    alpha, beta, gamma = (board.row(m) for m in ("alpha", "beta", "gamma"))
    assert alpha is not None and beta is not None and gamma is not None
    # alpha: spent = 0.50 + 0.30 (videos) + 0.10 (charged failure) = 0.90, all reported
    assert alpha.spent == pytest.approx(0.90) and not alpha.spent_estimated
    assert alpha.cost_per_success == pytest.approx(0.90 / 2)
    assert alpha.failure_cost == pytest.approx(0.10) and alpha.charged_failures == 1
    assert alpha.cost_per_win == pytest.approx(0.90 / 1.5)
    # delivered 5.0 + 2.0 = 7 s of the 10 s billed; the 2.0 s video is flagged
    assert alpha.delivered_seconds == pytest.approx(7.0)
    assert alpha.billed_seconds == pytest.approx(10.0)
    assert alpha.delivered_ratio == pytest.approx(0.7) and alpha.delivery_off == 1
    # beta: 2 x 4 s x 0.10 = ~0.80 estimated; the failure reported no charge
    assert beta.spent == pytest.approx(0.80) and beta.spent_estimated
    assert beta.cost_per_success == pytest.approx(0.40)
    assert beta.failure_cost is None and beta.charged_failures == 0
    assert beta.cost_per_win == pytest.approx(0.80 / 1.5)
    # no billed seconds reported: measured against the 4 s asked, both on time
    assert beta.delivered_ratio == pytest.approx(1.0) and beta.delivery_off == 0
    # gamma: no price anywhere, so no money figure, and never 0
    assert gamma.spent is None and gamma.cost_per_success is None and gamma.costs_unknown == 1

    text = str(board)
    for header in ("cost/video", "failures cost", "cost/win", "delivered / billed"):
        assert header in text
    line = {row.split()[1]: row for row in text.splitlines()[2:5]}
    assert "$0.45" in line["alpha"] and "$0.10 (1 charged)" in line["alpha"]
    assert "$0.60" in line["alpha"] and "70% (2 checked, 1 off)" in line["alpha"]
    assert "~$0.40" in line["beta"] and "~$0.533" in line["beta"]
    assert "none reported" in line["beta"] and "100% (2 checked)" in line["beta"]
    assert "price unknown" in line["gamma"] and "$0 " not in text
    notes = " ".join(board.notes)
    assert "failed tasks the gateway reports as charged: alpha ×1" in notes
    assert "flagged: alpha ×1" in notes and "price unknown for some tasks of gamma" in notes
    frame = board.to_dataframe()
    assert {"cost_per_success", "failure_cost", "cost_per_win", "delivered_ratio"} <= set(
        frame.columns
    )
    html = board._repr_html_()
    assert "cost/video" in html and "<img" not in html


def test_runs_cost_sums_by_day_and_model(
    tmp_path: pathlib.Path, clock: FakeClock, priced: None, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "j.sqlite"
    with Journal(path) as journal:
        clock.now = T0
        add(journal, "alpha", "ok", cost=reported(0.50))  # day 1: alpha $0.50
        add(journal, "beta", "ok", seconds=4)  # day 1: beta ~$0.40
        clock.now = T0 + DAY
        add(journal, "alpha", "ok", cost=reported(0.30))  # day 2: alpha $0.30 + $0.10
        add(journal, "alpha", "failed", cost=reported(0.10))
        add(journal, "alpha", "failed")  # no charge reported: not counted
        add(journal, "gamma", "ok")  # day 2: price unknown
        journal.record_request(
            VideoRequest(model="beta", prompt="never sent"), gateway=GATEWAY, dialect="unified"
        )
    assert cli_main(["runs", "--cost", "--journal", str(path)]) == 0
    out = capsys.readouterr().out
    day1 = dt.datetime.fromtimestamp(T0).strftime("%Y-%m-%d")
    day2 = dt.datetime.fromtimestamp(T0 + DAY).strftime("%Y-%m-%d")
    rows = {tuple(line.split()[:2]): line.split()[2:] for line in out.splitlines() if line}
    # day, model -> tasks, reported, estimated, total, unknown
    assert rows[(day1, "alpha")] == ["1", "$0.50", "–", "$0.50", "0"]
    assert rows[(day1, "beta")] == ["1", "–", "~$0.40", "~$0.40", "0"]
    assert rows[(day2, "alpha")] == ["2", "$0.40", "–", "$0.40", "0"]
    assert rows[(day2, "gamma")] == ["1", "–", "–", "price", "unknown", "1"]
    # the total keeps reported (0.50 + 0.40) and estimated (0.40) apart
    total = next(line for line in out.splitlines() if line.startswith("total"))
    assert total.split() == ["total", "5", "$0.90", "~$0.40", "~$1.30", "1"]
    assert "1 failed task(s) reported as charged" in out
    assert "1 task(s) of unknown price" in out


def test_cost_total_keeps_reported_and_estimated_apart() -> None:
    est = Cost(amount=0.25, source="estimated", basis="table")
    total = CostTotal.of([reported(0.5), est, None])
    assert total.reported == {"USD": 0.5} and total.estimated == {"USD": 0.25}
    assert total.text() == "~$0.75 + 1 price unknown" and total.as_cost() is None
    assert CostTotal.of([None]).text() == "price unknown"
    whole = CostTotal.of([reported(0.5), est]).as_cost()
    assert whole is not None and whole.amount == 0.75 and whole.is_estimate


def test_delivery_check_compares_billed_then_requested_seconds() -> None:
    short = check_delivery(5.0, billed_seconds=10, requested_seconds=5)
    assert short is not None and short.basis == "billed" and not short.ok
    assert short.finding == "delivered 5.0 s, billed 10 s"
    asked = check_delivery(4.8, requested_seconds=5)  # within 0.5 s
    assert asked is not None and asked.ok and asked.basis == "requested"
    longer = check_delivery(8.0, requested_seconds=5)
    assert longer is not None and longer.finding == "delivered 8.0 s, asked and paid for 5 s"
    assert check_delivery(None, billed_seconds=5) is None
    assert check_delivery(5.0) is None


def _rows(tmp_path: pathlib.Path) -> list[RunRow]:
    """reported (short video), estimated, failed without charge, failed charged, unknown."""
    video = tmp_path / "v.mp4"
    video.write_bytes(b"x")
    spec = {"measured": {"duration": 2.0}, "findings": ["asked 5 s, got 2.0 s"]}
    a = VideoRequest(model="alpha", prompt=HOSTILE, duration=5)
    a_task = Task(id="t0", status=TaskStatus.COMPLETED, cost=reported(0.5, billed=5))
    b = VideoRequest(model="beta", prompt="b", duration=4)
    b_task = Task(id="t1", status=TaskStatus.COMPLETED)
    return [
        RunRow(
            index=0,
            request=a,
            state=RowState.DONE,
            task=a_task,
            result=Result(request=a, task=a_task, path=video, spec=spec),
        ),
        RunRow(
            index=1,
            request=b,
            state=RowState.DONE,
            task=b_task,
            result=Result(request=b, task=b_task, path=video),
        ),
        RunRow(index=2, request=b, state=RowState.FAILED, error=RuntimeError("refused")),
        RunRow(
            index=3,
            request=a,
            state=RowState.FAILED,
            task=Task(id="t3", status=TaskStatus.FAILED, cost=reported(0.2)),
        ),
        RunRow(index=4, request=VideoRequest(model="gamma", prompt="g"), state=RowState.WAITING),
    ]


def test_to_dataframe_has_cost_columns(tmp_path: pathlib.Path, priced: None) -> None:
    pd = pytest.importorskip("pandas")
    frame = rows_dataframe(_rows(tmp_path))
    assert {"cost", "cost_source", "cost_basis", "billed_seconds", "delivery_finding"} <= set(
        frame.columns
    )
    records = frame.to_dict("records")
    assert records[0]["cost"] == 0.5 and records[0]["cost_source"] == "reported"
    assert records[0]["cost_basis"] == "test gateway" and records[0]["billed_seconds"] == 5
    assert records[0]["delivery_finding"] == "delivered 2.0 s, billed 5 s"
    assert records[1]["cost"] == pytest.approx(0.4) and records[1]["cost_source"] == "estimated"
    assert "0.1 USD/s" in records[1]["cost_basis"]
    # a failure with no reported charge and an unknown price: no figure (never 0)
    assert pd.isna(records[2]["cost"]) and pd.isna(records[2]["cost_source"])
    assert records[3]["cost"] == 0.2 and records[3]["cost_source"] == "reported"
    assert pd.isna(records[4]["cost"])


@pytest.fixture
def client(make_sandbox: Any, client_options: dict[str, Any]) -> Iterator[Client]:
    sb = make_sandbox(task_seconds=0.2, report_cost="litellm", wrong_duration=1.0)
    with Client(sb.base_url, sb.api_key, **client_options) as c:
        yield c


def test_live_table_cost_column_and_run_total(
    client: Client, tmp_path: pathlib.Path, priced: None
) -> None:
    requests = [row.request for row in _rows(tmp_path)]
    run = Run.from_requests(
        client.aclient, requests, lanes=client.lanes, scheduler=client.aclient.scheduler
    )
    run.rows[:] = _rows(tmp_path)
    html = table_html(run)
    assert re.findall(r"<th>(.*?)</th>", html) == list(COLUMNS) and COLUMNS[-1] == "cost"
    cells = re.findall(r'<td title="([^"]*)" class="co">(.*?)</td>', html)
    texts = [text for _, text in cells]
    assert texts == ["$0.50", "~$0.40", "no charge reported", "$0.20", "price unknown"]
    assert cells[1][0].startswith("estimated: price table: 0.1 USD/s")
    assert "vg.prices.set" in cells[4][0]
    # 0.50 + 0.20 reported, 0.40 estimated; the unknown price is said, not counted as 0
    assert summary_text(run).endswith(" · cost ~$1.10 + 1 price unknown")
    assert "$0.50" in table_text(run) and HOSTILE not in html


def test_a_video_shorter_than_billed_is_flagged_in_every_view(
    client: Client, tmp_path: pathlib.Path
) -> None:
    # The sandbox bills 3 s (LiteLLM's usage.duration_seconds) but delivers 1 s of video.
    request = VideoRequest(model="kling-v1", prompt="a paper boat " + HOSTILE, duration=3)
    run = client.run([request.replace(size="160x90")])
    run.wait(30)
    (row,) = run.rows
    assert row.state is RowState.DONE and row.reported_cost is not None
    assert row.reported_cost.billed_seconds == 3.0
    amount = row.reported_cost.amount
    record = run.to_dataframe().to_dict("records")[0]
    assert record["cost"] == amount and record["cost_source"] == "reported"
    assert record["delivery_finding"] == "delivered 1.0 s, billed 3 s"
    assert client.journal is not None
    board = leaderboard(client.journal)
    figures = board.row("kling-v1")
    assert figures is not None and figures.delivery_off == 1
    assert figures.delivered_ratio == pytest.approx(1 / 3)
    assert figures.cost_per_success == pytest.approx(amount)
    # the report: per-task cost, run total, the finding; hostile text stays text
    page = run.to_html(tmp_path / "report.html", embed=False).read_text(encoding="utf-8")
    money = f"${amount:.2f}"
    assert re.search(rf'<td title="[^"]+" class="co">\{money}</td>', page)
    assert f'run total</td><td class="co">{money}</td>' in page
    assert "delivered 1.0 s, billed 3 s" in page
    assert "<img src=x" not in page.split('id="vgg-data"')[0]
    # the grid caption carries the cost, except in a blind grid (prices tell models apart)
    results = run.results
    cells = cell_states(results, build_layout(results))
    assert ["cost", money] in cells[0]["caption"]
    blind = cell_states(results, build_layout(results), hide={"model", "time"})
    assert all(key != "cost" for key, _ in blind[0]["caption"])


def test_report_shows_settings_votes_leaderboard_and_follows_dark_preference(
    tmp_path: pathlib.Path, priced: None
) -> None:
    journal = Journal(tmp_path / "j.sqlite")
    fill(journal)
    results = []
    for entry in journal.entries():
        task = Task(
            id=entry.task_id or "",
            status=TaskStatus.COMPLETED if entry.state == "downloaded" else TaskStatus.FAILED,
            cost=entry.cost,
        )
        error = None if entry.state == "downloaded" else RuntimeError("refused " + HOSTILE)
        results.append(
            Result(request=entry.request_obj(), task=task, error=error, journal_id=entry.id)
        )
    start = time.monotonic()
    out = write_report(results, tmp_path / "r.html", journal=journal, run_id="r", embed=False)
    journal.close()
    assert time.monotonic() - start < 5
    page = out.read_text(encoding="utf-8")
    assert "@media (prefers-color-scheme: dark)" in page and "color-scheme: light dark" in page
    sections = page.split('<div class="vgr">', 1)[1].split("</div>\n<div", 1)[0]
    assert "<h2>Requests</h2>" in sections and "<h2>Votes (3)</h2>" in sections
    assert "<h2>Leaderboard of these videos</h2>" in sections
    assert "<td>tie</td><td>none (a tie)</td><td>alpha, beta</td>" in sections
    assert "duration=5" in sections and "duration=4" in sections  # the settings
    # per-task cost: reported, estimated, none for a failure without charge, unknown
    assert ">$0.50<" in sections and ">~$0.40<" in sections
    assert ">no charge reported<" in sections and ">price unknown<" in sections
    # run total: 0.50 + 0.30 + 0.10 reported, 2 x 0.40 estimated, gamma unknown
    assert 'run total</td><td class="co">~$1.70 + 1 price unknown</td>' in sections
    assert "⚠ delivered 2.0 s, billed 5 s" in sections  # the spec finding from the journal
    assert "70% (2 checked, 1 off)" in sections  # the leaderboard's delivered / billed
    # escaping kept: prompts and gateway text are text, and no script was added
    assert "<img" not in sections and "&lt;img src=x onerror=alert(1)&gt;" in sections
    assert page.count("<script") == 3
