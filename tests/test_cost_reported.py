"""Reported cost, end to end: each shape a gateway reports a charge in, served by a sandbox
personality, read by the client, written to the journal and read back as
``JournalEntry.cost``. Figures are computed by hand from the sandbox's published rates
(``sandbox.newapi.USD_PER_SECOND``, ``sandbox.openrouter.PRICE_PER_SECOND``)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from typing import Any

import pytest

import videogen_nb as vg
from tests.support import small
from videogen_nb.core.cost import Cost, format_cost
from videogen_nb.dialects.decode import decode_task
from videogen_nb.sandbox.newapi import NEWAPI_TODAY, USD_PER_SECOND
from videogen_nb.sandbox.openrouter import PRICE_PER_SECOND
from videogen_nb.store.journal import Journal
from videogen_nb.store.prices import PriceTable, prices
from videogen_nb.store.query import journal_spent
from videogen_nb.store.schema import MIGRATIONS, SCHEMA_VERSION, migrate


@pytest.fixture
def restored_prices() -> Iterator[PriceTable]:
    """``vg.prices``, put back to the shipped table after the test."""
    yield prices
    prices.reset()


def _entry(client: Any, task_id: str) -> Any:
    entry = client.journal.by_task_id(task_id, gateway=client.gateway)
    assert entry is not None
    return entry


async def test_newapi_quota_with_the_ratios_header_seconds(
    make_sandbox: Any, make_client: Any
) -> None:
    sb = make_sandbox(**NEWAPI_TODAY)
    client = make_client(sb, dialect="unified")
    result = await client.generate(small(duration=3))
    # 3 s x $0.05/s x size ratio 1 (160x90 is under 1280x720) = $0.15 = 75,000 quota
    assert result.task.raw["data"]["quota"] == 75_000
    cost = _entry(client, result.task.id).cost
    assert cost is not None and cost.source == "reported"
    assert cost.amount == pytest.approx(0.15)
    # the seconds come from the submit's X-New-Api-Other-Ratios, joined by the recorder
    assert cost.billed_seconds == 3.0
    assert cost.basis.startswith("new-api quota 75000 at 500000/USD")
    assert result.task.cost is not None and result.task.cost.amount == pytest.approx(0.15)
    assert format_cost(cost) == "$0.15"


async def test_openrouter_usage_cost(sandbox: Any, make_client: Any) -> None:
    client = make_client(sandbox, dialect="openrouter")
    result = await client.generate(small(model="google/veo-3.1", duration=2))
    cost = _entry(client, result.task.id).cost
    assert cost is not None and cost.source == "reported"
    assert cost.amount == pytest.approx(2 * PRICE_PER_SECOND)
    assert cost.basis == "openrouter usage.cost"


@pytest.mark.parametrize(
    ("shape", "dialect", "basis"),
    [
        ("cost", "unified", "gateway cost"),
        ("usage_cost", "unified", "gateway usage.cost"),
        ("cost", "openai", "gateway cost"),
        ("usage_cost", "openai", "gateway usage.cost"),
    ],
)
async def test_generic_cost_fields(
    make_sandbox: Any, make_client: Any, shape: str, dialect: str, basis: str
) -> None:
    sb = make_sandbox(report_cost=shape)
    client = make_client(sb, dialect=dialect)
    result = await client.generate(small(duration=4))
    cost = _entry(client, result.task.id).cost
    assert cost is not None and cost.source == "reported" and cost.currency == "USD"
    assert cost.amount == pytest.approx(4 * USD_PER_SECOND)  # $0.20
    assert cost.basis == basis


async def test_litellm_cost_header_and_duration_seconds(
    make_sandbox: Any, make_client: Any
) -> None:
    sb = make_sandbox(report_cost="litellm")
    client = make_client(sb, dialect="openai")
    result = await client.generate(small(duration=4))
    assert result.task.raw["_headers"] == {"x-litellm-response-cost": "0.2"}
    cost = _entry(client, result.task.id).cost
    assert cost is not None and cost.source == "reported"
    assert cost.amount == pytest.approx(0.2) and cost.billed_seconds == 4.0
    assert "x-litellm-response-cost" in cost.basis


async def test_litellm_seconds_alone_are_priced_by_the_table(
    make_sandbox: Any, make_client: Any, restored_prices: PriceTable
) -> None:
    restored_prices.set("kling-v1", per_second=0.1, source="test table")
    sb = make_sandbox(report_cost="litellm_seconds")
    client = make_client(sb, dialect="openai")
    result = await client.generate(small(duration=4))
    cost = _entry(client, result.task.id).cost
    # the gateway said 4 s were billed, not what they cost: 4 s x $0.10 = ~$0.40
    assert cost is not None and cost.source == "estimated" and cost.billed_seconds == 4.0
    assert cost.amount == pytest.approx(0.4)
    assert format_cost(cost) == "~$0.40"
    assert "gateway billed 4 s" in cost.basis and "test table" in cost.basis


async def test_litellm_seconds_of_an_unpriced_model_are_no_cost(
    make_sandbox: Any, make_client: Any, restored_prices: PriceTable
) -> None:
    restored_prices.remove("kling-v1")
    sb = make_sandbox(report_cost="litellm_seconds")
    client = make_client(sb, dialect="openai")
    result = await client.generate(small(duration=4))
    assert _entry(client, result.task.id).cost is None  # unknown, never $0


async def test_no_reported_cost_stays_none(sandbox: Any, make_client: Any) -> None:
    client = make_client(sandbox, dialect="unified")
    result = await client.generate(small())
    assert result.task.cost is None
    assert _entry(client, result.task.id).cost is None


@pytest.mark.parametrize(
    ("behaviour", "dialect", "model", "expected"),
    [
        ({**NEWAPI_TODAY, "charge_failures": True}, "unified", "kling-v1", 2 * USD_PER_SECOND),
        ({"charge_failures": True}, "openrouter", "google/veo-3.1", 2 * PRICE_PER_SECOND),
        (
            {"charge_failures": True, "report_cost": "cost"},
            "openai",
            "kling-v1",
            2 * USD_PER_SECOND,
        ),
    ],
)
async def test_a_failed_task_reported_as_charged_keeps_its_cost(
    make_sandbox: Any,
    make_client: Any,
    behaviour: dict[str, Any],
    dialect: str,
    model: str,
    expected: float,
) -> None:
    sb = make_sandbox(failure_rate=1.0, **behaviour)
    client = make_client(sb, dialect=dialect)
    with pytest.raises(vg.TaskFailedError) as info:
        await client.generate(small(model=model, duration=2))
    entry = _entry(client, info.value.task.id)
    assert entry.state == "failed"
    assert entry.cost is not None and entry.cost.amount == pytest.approx(expected)
    assert journal_spent([entry]).reported == pytest.approx(expected)


async def test_a_refunded_failure_reports_no_cost(make_sandbox: Any, make_client: Any) -> None:
    # new-api holds the quota while the task runs, and refunds it on failure (quota 0)
    sb = make_sandbox(failure_rate=1.0, **NEWAPI_TODAY)
    client = make_client(sb, dialect="unified")
    with pytest.raises(vg.TaskFailedError) as info:
        await client.generate(small(duration=2))
    entry = _entry(client, info.value.task.id)
    assert entry.state == "failed"
    assert entry.cost is not None and entry.cost.amount == 0 and "refunded" in entry.cost.basis
    assert journal_spent([entry]).reported == 0


# -- decoding, without a server ----------------------------------------------------------


def test_decoder_reads_each_shape() -> None:
    newapi = decode_task(
        {"code": "success", "data": {"task_id": "t", "status": "SUCCESS", "quota": 250_000}},
        headers={"X-New-Api-Other-Ratios": '{"seconds":10,"size":1}'},
    )
    assert newapi.cost is not None
    assert (newapi.cost.amount, newapi.cost.billed_seconds) == (0.5, 10.0)
    byok = decode_task({"id": "t", "status": "completed", "usage": {"cost": 1, "is_byok": True}})
    assert byok.cost is not None and "bring-your-own-key" in byok.cost.basis
    euros = decode_task(
        {"id": "t", "status": "completed", "cost": {"amount": 2, "currency": "eur"}}
    )
    assert euros.cost is not None and format_cost(euros.cost) == "€2.00"
    nested = decode_task(
        {"id": "t", "status": "completed", "metadata": {"usage": {"total_cost": "0.3"}}}
    )
    assert nested.cost is not None and nested.cost.basis == "gateway metadata.usage.total_cost"


@pytest.mark.parametrize(
    "body",
    [
        {"id": "t", "status": "queued", "quota": 0},  # new-api before billing
        {"id": "t", "status": "completed", "cost": "n/a"},
        {"id": "t", "status": "completed", "usage": {"cost": -1}},
        {"id": "t", "status": "completed", "usage": {"cost": float("nan")}},
        {"id": "t", "status": "completed", "cost": True},
        {"id": "t", "status": "completed", "usage": "lots"},
    ],
)
def test_unreadable_or_zero_figures_are_no_cost(body: dict[str, Any]) -> None:
    assert decode_task(body).cost is None


# -- the journal -------------------------------------------------------------------------


def test_a_version_3_journal_gains_the_cost_columns(tmp_path: Any) -> None:
    path = tmp_path / "old.sqlite"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN")
    assert migrate(conn, target=3) == 0
    conn.execute(
        "INSERT INTO entries (fingerprint, request, gateway, model, idempotency_key, state,"
        " created_at, updated_at) VALUES ('f', '{\"model\": \"kling-v1\"}', 'http://g', "
        "'kling-v1', 'k', 'downloaded', 1, 1)"
    )
    conn.execute("COMMIT")
    conn.close()
    assert SCHEMA_VERSION == len(MIGRATIONS) >= 4
    with Journal(path) as journal:
        (entry,) = journal.entries()
        assert entry.cost is None and entry.billed_seconds is None


def test_journal_spent_sums_reported_and_estimated(tmp_path: Any) -> None:
    table = PriceTable(shipped=False)
    table.set("kling-v1", per_second=0.1, source="test")
    with Journal(tmp_path / "j.sqlite") as journal:
        gateway = "http://127.0.0.1:9"

        def submitted(req: vg.VideoRequest, task: vg.Task) -> None:
            entry = journal.record_request(req, gateway=gateway, dialect="unified")
            journal.record_submit(entry.id, task)

        charged = Cost(amount=0.75, source="reported", basis="test", billed_seconds=5)
        done = vg.Task(id="a", status=vg.TaskStatus.COMPLETED, cost=charged)
        submitted(vg.VideoRequest(model="kling-v1", prompt="a", duration=5), done)
        # sent, nothing reported: 10 s x $0.10 = $1.00 estimated
        running = vg.Task(id="b", status=vg.TaskStatus.IN_PROGRESS)
        submitted(vg.VideoRequest(model="kling-v1", prompt="b", duration=10), running)
        # failed and charged: counted; failed without a report: not counted
        failed_charged = vg.Task(
            id="c",
            status=vg.TaskStatus.FAILED,
            cost=Cost(amount=0.25, source="reported", basis="x"),
        )
        submitted(vg.VideoRequest(model="kling-v1", prompt="c", duration=5), failed_charged)
        submitted(
            vg.VideoRequest(model="kling-v1", prompt="d", duration=5),
            vg.Task(id="d", status=vg.TaskStatus.FAILED),
        )
        # never sent: nothing; an unpriced model: nothing (not 0 shown, simply not summed)
        journal.record_request(
            vg.VideoRequest(model="kling-v1", prompt="e", duration=5), gateway=gateway, dialect=None
        )
        queued = vg.Task(id="f", status=vg.TaskStatus.QUEUED)
        submitted(vg.VideoRequest(model="unpriced", prompt="f", duration=5), queued)

        spent = journal_spent(journal, price_table=table)
        assert spent == (pytest.approx(1.0), pytest.approx(1.0))
        assert spent.total == pytest.approx(2.0)
        assert journal_spent(journal, gateway="http://elsewhere", price_table=table) == (0, 0)
        stored = journal.by_task_id("a")
        assert stored is not None and stored.cost == charged
