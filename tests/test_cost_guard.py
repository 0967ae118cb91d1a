"""Issue 14, the money guard: ``max_cost`` per run, per call and per client (counted from the
journal). A launch estimated over the limit is refused before any HTTP call; a run whose
costs reach the limit stops sending, while every task the gateway accepted is still
followed and downloaded; the rows never sent end cancelled with the reason."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

import videogen_nb as vg
from tests.support import small
from videogen_nb.core.errors import BudgetExceededError, SpendingGuardError
from videogen_nb.core.states import EntryState
from videogen_nb.run.rows import RowState
from videogen_nb.sandbox.openrouter import PRICE_PER_SECOND
from videogen_nb.store.prices import PriceTable, prices

VEO = "google/veo-3.1"


@pytest.fixture
def global_prices() -> Iterator[PriceTable]:
    """``vg.prices`` with test prices, restored to the shipped table after the test."""
    prices.set("kling-v1", per_second=0.10)
    prices.set("sora-2", per_video=0.40)
    yield prices
    prices.reset()


def _requests_seen(sb: Any) -> dict[str, int]:
    seen: dict[str, int] = sb.stats(include_tasks=False)["requests"]
    return seen


def _posts(sb: Any) -> int:
    return sum(n for route, n in _requests_seen(sb).items() if route.startswith("POST "))


async def test_a_run_over_its_max_cost_is_refused_before_any_http_call(
    sandbox: Any, make_client: Any, global_prices: PriceTable
) -> None:
    client = make_client(sandbox)
    requests = [small(prompt=p, model="kling-v1", duration=5) for p in ("a", "b", "c")]
    with pytest.raises(BudgetExceededError) as info:
        client.run(requests, max_cost=1.0)  # 3 x 0.50 = 1.50
    error = info.value
    assert isinstance(error, SpendingGuardError) and error.field == "max_cost"
    assert (error.estimate, error.limit, error.spent) == (pytest.approx(1.5), 1.0, 0.0)
    text = str(error)
    assert "estimated at ~$1.50" in text and "limit of $1.00" in text
    assert "nothing was sent" in text and "pass max_cost=1.5 (or more)" in text
    assert _requests_seen(sandbox) == {}  # not one request, POST or other
    assert client.journal.entries() == []
    # the same run within the limit goes
    run = client.run(requests, max_cost=1.5)
    await run
    assert [row.state for row in run.rows] == [RowState.DONE] * 3


async def test_generate_and_compare_take_max_cost_too(
    sandbox: Any, make_client: Any, global_prices: PriceTable
) -> None:
    client = make_client(sandbox)
    with pytest.raises(BudgetExceededError, match=re.escape("estimated at ~$0.40")):
        await client.generate(small(model="sora-2"), max_cost=0.39)
    with pytest.raises(BudgetExceededError):
        client.compare(prompt="a", models=["kling-v1", "sora-2"], duration=1, max_cost=0.4)
    assert _posts(sandbox) == 0


async def test_the_clients_max_cost_counts_what_its_journal_already_spent(
    sandbox: Any, make_client: Any, global_prices: PriceTable
) -> None:
    client = make_client(sandbox, max_cost=1.0)
    await client.run([small(model="sora-2", prompt=p) for p in ("a", "b")])  # 0.80
    assert client.spent == pytest.approx(0.80)
    posts = _posts(sandbox)
    plan = client.plan([small(model="sora-2", prompt="c")])
    assert plan.limit == pytest.approx(0.20) and plan.spent == pytest.approx(0.80)
    assert plan.exceeds_limit
    with pytest.raises(BudgetExceededError) as info:
        client.run([small(model="sora-2", prompt="c")])
    text = str(info.value)
    assert "$0.80 already spent" in text and "client.max_cost = 1.2 (or more)" in text
    assert _posts(sandbox) == posts
    client.max_cost = 1.2  # raised as the error says: the run goes
    await client.run([small(model="sora-2", prompt="c")])
    assert _posts(sandbox) == posts + 1


async def test_reported_costs_stop_new_submissions_and_accepted_tasks_are_downloaded(
    sandbox: Any, make_client: Any, global_prices: PriceTable
) -> None:
    # The table says 0.02 a video; OpenRouter reports 0.20 (2 s at 0.10): the launch passes
    # on the estimate, then the reported costs reach the limit after two tasks.
    prices.set(VEO, per_second=0.01)
    client = make_client(sandbox, dialect="openrouter", concurrency=1)
    requests = [small(model=VEO, prompt=f"shot {i}", duration=2) for i in range(5)]
    run = client.run(requests, max_cost=0.30)
    await run

    states = [row.state for row in run.rows]
    assert states == [RowState.DONE] * 2 + [RowState.CANCELLED] * 3
    for row in run.rows[:2]:  # accepted, reported, followed and downloaded
        assert row.result is not None and row.result.path is not None
        assert row.result.path.stat().st_size > 0
        assert row.task is not None and row.task.cost is not None
        assert row.task.cost.amount == pytest.approx(2 * PRICE_PER_SECOND)
    for row in run.rows[2:]:  # never sent, and the row says why
        assert row.task is None and isinstance(row.error, BudgetExceededError)
        assert "not sent" in str(row.error) and "still followed and downloaded" in str(row.error)
        assert "$0.40" in str(row.error) and "max_cost=0.3" in str(row.error)
    assert _requests_seen(sandbox)["POST /api/v1/videos"] == 2
    assert run.budget is not None and run.budget.committed == pytest.approx(0.40)
    states_in_journal = sorted(entry.state for entry in client.journal.entries())
    assert states_in_journal == sorted([EntryState.DOWNLOADED] * 2 + [EntryState.CANCELLED] * 3)
    for entry in client.journal.entries():
        if entry.state == EntryState.CANCELLED:  # the journal says why, for resume() and reports
            assert entry.error is not None and "cancelled before it was sent" in entry.error
            assert "max_cost=0.3" in entry.error
    # raised as the error says, a stopped row goes on retry
    assert "run.budget.run_max_cost = 0.42" in str(run.rows[2].error)
    run.budget.run_max_cost = 1.0
    assert run.retry(2)
    await run
    assert run.rows[2].state is RowState.DONE and run.rows[2].result is not None
    assert _requests_seen(sandbox)["POST /api/v1/videos"] == 3


async def test_runs_side_by_side_share_the_clients_limit(
    make_sandbox: Any, make_client: Any, global_prices: PriceTable
) -> None:
    # No cost reported here: accepted tasks count at their estimate (0.10 each), so the
    # second run, which passed its launch check, is stopped before its POST.
    sandbox = make_sandbox(task_seconds=0.5)
    client = make_client(sandbox, max_cost=0.25)
    first = client.run([small(prompt="a"), small(prompt="b")])
    second = client.run([small(prompt="c")])
    await first
    await second
    assert [row.state for row in first.rows] == [RowState.DONE] * 2
    assert second.rows[0].state is RowState.CANCELLED
    error = second.rows[0].error
    assert isinstance(error, BudgetExceededError)
    assert "the client has spent $0.20" in str(error) and "client.max_cost" in str(error)
    assert _posts(sandbox) == 2


def test_blocking_client_refuses_before_sending(
    sandbox: Any, client_options: dict[str, Any], global_prices: PriceTable
) -> None:
    with vg.Client(sandbox.base_url, sandbox.api_key, max_cost=0.05, **client_options) as client:
        assert client.max_cost == 0.05
        with pytest.raises(BudgetExceededError, match=re.escape("client's max_cost=0.05")):
            client.run([small()])
        with pytest.raises(BudgetExceededError):
            client.generate(small())
        with pytest.raises(vg.ValidationError, match=re.escape("client.max_cost")):
            client.max_cost = -1
        assert client.spent == 0.0
    assert _requests_seen(sandbox) == {}


def test_a_bad_max_cost_names_the_field(sandbox: Any, client_options: dict[str, Any]) -> None:
    with pytest.raises(vg.ValidationError, match="max_cost: must be an amount"):
        vg.Client(sandbox.base_url, sandbox.api_key, max_cost="ten", **client_options)  # type: ignore[arg-type]
