"""Issue 14, before launch: ``RunPlan`` (task count, estimated total and its range, unknown
prices counted apart, per model) checked against hand-computed totals, and ``dry_run=True``
/ ``client.plan()`` sending nothing to a real sandbox."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

import videogen_nb as vg
from tests.support import small
from videogen_nb.display.table import table_html, table_text
from videogen_nb.run.plan import RunPlan, estimate_request, plan_requests
from videogen_nb.run.run import Run
from videogen_nb.store.prices import PriceTable, prices
from videogen_nb.widgets.live_table import LiveTable
from videogen_nb.widgets.run_view import RunView


@pytest.fixture
def table() -> PriceTable:
    """A table with hand-set prices only (nothing shipped)."""
    fresh = PriceTable(shipped=False)
    fresh.set("kling-v1", per_second=0.07)  # the catalog allows 5 or 10 s
    fresh.set("sora-2", per_video=0.50)
    fresh.set("yuan-model", per_video=3.0, currency="CNY")
    return fresh


@pytest.fixture
def global_prices() -> Iterator[PriceTable]:
    """``vg.prices`` with test prices, restored to the shipped table after the test."""
    prices.set("kling-v1", per_second=0.10)
    prices.set("sora-2", per_video=0.40)
    yield prices
    prices.reset()


def _requests(**fields: Any) -> list[vg.VideoRequest]:
    return [vg.VideoRequest(model=m, prompt="a boat", **fields) for m in ("kling-v1", "sora-2")]


def test_totals_match_a_hand_computed_table(table: PriceTable) -> None:
    requests = [
        vg.VideoRequest(model="kling-v1", prompt="a", duration=5),  # 0.35
        vg.VideoRequest(model="kling-v1", prompt="b", duration=10),  # 0.70
        vg.VideoRequest(model="sora-2", prompt="a"),  # 0.50
        vg.VideoRequest(model="sora-2", prompt="b", n=2),  # 1.00
        vg.VideoRequest(model="mystery-model", prompt="a", duration=5),  # unknown
    ]
    plan = plan_requests(requests, table=table)
    assert plan.tasks == 5 and plan.unknown == 1 and plan.cached == 0
    assert plan.total == pytest.approx(0.35 + 0.70 + 0.50 + 1.00)
    assert plan.low == pytest.approx(plan.total) and plan.high == pytest.approx(plan.total)
    rows = {row.model: row for row in plan.rows}
    assert rows["kling-v1"].tasks == 2 and rows["kling-v1"].total == pytest.approx(1.05)
    assert rows["sora-2"].total == pytest.approx(1.50)
    # an unknown price is never counted as 0: the row has no total at all, and says so
    assert rows["mystery-model"].total is None and rows["mystery-model"].unknown == 1
    assert "price unknown" in rows["mystery-model"].estimate_text()
    line = plan.line()
    assert line.startswith("5 tasks, estimated ~$2.55")
    assert "1 task with unknown price (not counted)" in line


def test_an_open_length_gives_a_range_from_the_models_shortest_to_its_longest(
    table: PriceTable,
) -> None:
    # kling-v1 allows 5 or 10 s: with no duration it may be billed 0.35 to 0.70; the table
    # has no length to assume, so the estimate is the longest (the guard must not count low)
    open_length = vg.VideoRequest(model="kling-v1", prompt="a")
    estimate = estimate_request(open_length, table)
    assert estimate.cost is not None and estimate.cost.amount == pytest.approx(0.70)
    assert (estimate.low, estimate.high) == (pytest.approx(0.35), pytest.approx(0.70))
    assert "longest assumed" in estimate.cost.basis

    plan = plan_requests(
        [open_length, vg.VideoRequest(model="kling-v1", prompt="b", duration=5)], table=table
    )
    assert plan.total == pytest.approx(1.05)
    assert (plan.low, plan.high) == (pytest.approx(0.70), pytest.approx(1.05))
    assert "~$1.05 ($0.70-$1.05)" in plan.line()

    # a default length in the table is the estimate; the range still spans the model's lengths
    table.set("kling-v1", per_second=0.07, default_seconds=5)
    estimate = estimate_request(open_length, table)
    assert estimate.cost is not None and estimate.cost.amount == pytest.approx(0.35)
    assert (estimate.low, estimate.high) == (pytest.approx(0.35), pytest.approx(0.70))


def test_a_price_in_another_currency_is_counted_as_unknown_not_added(table: PriceTable) -> None:
    requests = [
        vg.VideoRequest(model="sora-2", prompt="a"),
        vg.VideoRequest(model="sora-2", prompt="b"),
        vg.VideoRequest(model="yuan-model", prompt="a"),
    ]
    plan = plan_requests(requests, table=table)
    assert plan.currency == "USD" and plan.total == pytest.approx(1.0) and plan.unknown == 1


def test_nothing_priced_says_price_unknown_never_zero() -> None:
    plan = plan_requests([vg.VideoRequest(model="m", prompt="a")], table=PriceTable(shipped=False))
    assert plan.total is None and plan.unknown == 1
    assert "price unknown" in plan.line() and "$0" not in plan.line()
    assert not plan.exceeds_limit


def test_repr_and_html_show_one_row_per_model_escaped(table: PriceTable) -> None:
    table.set("kling<b>x", per_video=1.0)
    requests = [*_requests(duration=5), vg.VideoRequest(model="kling<b>x", prompt="a")]
    plan = plan_requests(requests, table=table).with_limit(2.0, 0.5, "this run's max_cost=2")
    text = repr(plan)
    assert text.splitlines()[0].startswith("RunPlan(3 tasks, estimated ~$1.85")
    assert "limit $2.00 (this run's max_cost=2)" in text
    assert len(text.splitlines()) == 4  # the line, then one per model
    page = plan._repr_html_()
    assert "kling&lt;b&gt;x" in page and "kling<b>x" not in page
    assert page.count("<tr><td>") == 3
    assert not plan.exceeds_limit
    assert plan.with_limit(1.0, 0.0, None).exceeds_limit


async def test_dry_run_and_plan_send_nothing(
    sandbox: Any, make_client: Any, global_prices: PriceTable
) -> None:
    client = make_client(sandbox)
    plan = client.run(_requests(duration=1, size="160x90"), dry_run=True)
    assert isinstance(plan, RunPlan)
    assert plan.tasks == 2 and plan.total == pytest.approx(0.10 + 0.40)
    compared = client.compare(
        prompt=["a", "b"], models=["kling-v1", "sora-2"], duration=2, dry_run=True, max_cost=5
    )
    assert isinstance(compared, RunPlan)
    assert compared.tasks == 4 and compared.total == pytest.approx(2 * (0.20 + 0.40))
    assert compared.limit == 5.0 and "this run's max_cost=5" in compared.line()
    assert client.plan(_requests(duration=3)).total == pytest.approx(0.30 + 0.40)
    # not one request reached the gateway, and the journal holds nothing
    assert sandbox.stats(include_tasks=False)["requests"] == {}
    assert client.journal.entries() == []


async def test_a_request_the_journal_serves_is_planned_free(
    sandbox: Any, make_client: Any, global_prices: PriceTable
) -> None:
    client = make_client(sandbox)
    request = small(model="sora-2")
    run = client.run([request])
    await run
    assert run.plan is not None and run.plan.total == pytest.approx(0.40)
    # the text stand-in of the run says what was planned before anything was sent
    assert "plan: estimated ~$0.40" in table_text(run).splitlines()[0]
    plan = client.plan([request, small(model="kling-v1")])
    assert plan.cached == 1 and plan.total == pytest.approx(0.10)
    assert "1 served from the journal (free)" in plan.line()
    assert client.plan([request], force=True).total == pytest.approx(0.40)


def test_blocking_client_dry_run_sends_nothing(
    sandbox: Any, client_options: dict[str, Any], global_prices: PriceTable
) -> None:
    with vg.Client(sandbox.base_url, sandbox.api_key, **client_options) as client:
        plan = client.run(_requests(duration=1), dry_run=True)
        assert isinstance(plan, RunPlan) and plan.total == pytest.approx(0.50)
        assert client.plan(_requests(duration=1)).line() == plan.line()
    assert sandbox.stats(include_tasks=False)["requests"] == {}


def _unstarted(client: vg.AsyncClient, plan: RunPlan | None) -> Run:
    """A run of one request, never started, launched with ``plan``."""
    return Run.from_requests(
        client, [small()], lanes=client.lanes, scheduler=client.scheduler, plan=plan
    )


def _summary(html: str) -> str:
    """The text of a drawn summary line (between ``<summary ...>`` or the view's summary div)."""
    match = re.search(r'class="vg-rs"[^>]*>(.*?)</(?:summary|div)>', html, re.S)
    assert match is not None, html
    return match.group(1)


async def test_the_html_views_show_the_plan_from_the_first_draw(
    sandbox: Any, make_client: Any, global_prices: PriceTable
) -> None:
    # kling-v1 2 s at 0.10/s = 0.20; sora-2 0.40; an open-length kling-v1 (catalog: 5 or 10 s)
    # ranges 0.50-1.00, counted at its longest: total ~$1.60, range $1.10-$1.60; one unpriced
    client = make_client(sandbox)
    requests = [
        small(model="kling-v1", duration=2),
        small(model="sora-2"),
        vg.VideoRequest(model="kling-v1", prompt="open length", size="160x90"),
        small(model="unpriced-model"),
    ]
    run = client.run(requests, max_cost=5)
    assert isinstance(run, vg.Run)
    # drawn at launch, before the loop has sent a single request
    table = LiveTable(run)
    grid_only = RunView(run, view="grid")
    assert sandbox.stats(include_tasks=False)["requests"] == {}
    want = (
        "plan: 4 tasks, estimated ~$1.60 ($1.10-$1.60); 1 task with unknown price (not"
        " counted): unpriced-model; limit $5.00 (this run&#x27;s max_cost=5)"
    )
    for html in (table.html, grid_only.summary.value):
        summary = _summary(html)
        assert summary.startswith("4 tasks: 0/4 done")
        assert f'<span class="vg-plan"> · {want}</span>' in summary
    run.cancel()
    await run


async def test_the_plan_in_the_summary_is_escaped_and_marked_over_its_limit(
    sandbox: Any, make_client: Any, table: PriceTable
) -> None:
    hostile = "<img src=x onerror=alert(1)>"
    table.set("sora-2", per_video=3.0)
    plan = plan_requests(
        [vg.VideoRequest(model="sora-2", prompt="a"), vg.VideoRequest(model=hostile, prompt="b")],
        table=table,
    ).with_limit(2.0, 0.0, "forced past max_cost=2")
    run = _unstarted(make_client(sandbox), plan=plan)
    html = table_html(run)
    summary = _summary(html)
    assert hostile not in html and "&lt;img src=x onerror=alert(1)&gt;" in summary
    assert '<span class="vg-plan over"> · plan: 2 tasks, estimated ~$3.00;' in summary
    assert "limit $2.00 (forced past max_cost=2)" in summary
    # the text stand-in keeps its one-line short form, the unpriced model named there too
    assert (
        "plan: estimated ~$3.00, 1 unknown (<img src=x onerror=alert(1)>), limit $2.00"
        in (table_text(run).splitlines()[0])
    )


async def test_a_run_without_a_plan_draws_no_plan(sandbox: Any, make_client: Any) -> None:
    run = _unstarted(make_client(sandbox), plan=None)
    assert "vg-plan" not in table_html(run, css=False) and "plan:" not in table_text(run)


def test_a_plan_of_free_repeats_only_says_nothing_is_estimated() -> None:
    plan = RunPlan(tasks=2, total=None, low=None, high=None, cached=2)
    assert plan.line() == "2 tasks, estimated nothing; 2 served from the journal (free)"
    assert plan.short() == "estimated: nothing"
