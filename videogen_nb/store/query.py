"""The journal's filtered reads as SQL (one ``SELECT`` built from optional filters), and
what the journal's entries have spent (``journal_spent``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple, Protocol

from ..core.states import EntryState
from .changes import Since
from .entries import JournalEntry
from .prices import PriceTable, prices

__all__ = ["SPENDING_STATES", "Spending", "journal_spent", "select_all"]

#: the states of an entry whose task was (or may have been) accepted and not refunded: without
#: a reported cost, these are counted at their estimate. ``created`` was never sent; a
#: ``failed``/``cancelled`` task counts only when the gateway reported charging it.
SPENDING_STATES = frozenset(
    {
        EntryState.SENDING,
        EntryState.SUBMIT_UNKNOWN,
        EntryState.SUBMITTED,
        EntryState.COMPLETED,
        EntryState.DOWNLOADED,
        EntryState.TIMED_OUT,
    }
)


class _EntrySource(Protocol):
    def entries(
        self, *, since: Since = ..., gateway: str | None = ..., run_id: str | None = ...
    ) -> list[JournalEntry]: ...


class Spending(NamedTuple):
    """What entries spent, in one currency: ``reported`` (the gateways' figures) and
    ``estimated`` (the price table's, for sent entries that reported nothing)."""

    reported: float
    estimated: float

    @property
    def total(self) -> float:
        """Reported plus estimated."""
        return self.reported + self.estimated


def _estimated(entry: JournalEntry, table: PriceTable, currency: str) -> float:
    if entry.state not in SPENDING_STATES:
        return 0.0
    try:
        estimate = table.estimate(entry.request_obj())
    except (ValueError, TypeError):  # a request recorded by another version: no estimate
        return 0.0
    if estimate is None or estimate.currency != currency:
        return 0.0
    return estimate.amount


def journal_spent(
    journal_or_entries: _EntrySource | Iterable[JournalEntry],
    gateway: str | None = None,
    since: Since = None,
    *,
    run_id: str | None = None,
    price_table: PriceTable | None = None,
    currency: str = "USD",
) -> Spending:
    """``Spending(reported, estimated)`` of a ``Journal``'s entries (on ``gateway``,
    created since ``since``, of ``run_id``; filters as ``Journal.entries``) or of the given
    entries (the filters are then ignored).

    An entry with a reported cost counts that cost (a failed task too: the gateway said it
    charged it). An entry without one counts its estimate from ``price_table`` (default:
    ``vg.prices``) when its task was or may have been accepted (``SPENDING_STATES``); an
    entry whose price is unknown adds nothing. Only costs in ``currency`` are summed.
    """
    if hasattr(journal_or_entries, "entries"):
        entries: Iterable[JournalEntry] = journal_or_entries.entries(
            since=since, gateway=gateway, run_id=run_id
        )
    else:
        entries = journal_or_entries
    table = prices if price_table is None else price_table
    reported = estimated = 0.0
    for entry in entries:
        cost = entry.cost
        if cost is not None:
            reported += cost.amount if cost.currency == currency else 0.0
        else:
            estimated += _estimated(entry, table, currency)
    return Spending(reported=reported, estimated=estimated)


def select_all(
    table: str,
    *,
    created_since: float | None = None,
    equal: Mapping[str, Any] | None = None,
    within: Mapping[str, Sequence[str] | None] | None = None,
) -> tuple[str, list[Any]]:
    """``(sql, params)`` selecting every column of ``table``'s rows, oldest (lowest id)
    first: created at or after ``created_since``, with each ``equal`` column equal to its
    value and each ``within`` column among its values. A filter whose value is None is left
    out (it means "any"). Column names come from the caller's code, never from users."""
    where: list[str] = []
    params: list[Any] = []
    if created_since is not None:
        where.append("created_at >= ?")
        params.append(created_since)
    for column, value in (equal or {}).items():
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)
    for column, values in (within or {}).items():
        if values is not None:
            where.append(f"{column} IN ({', '.join('?' * len(values))})")
            params.extend(values)
    sql = f"SELECT * FROM {table}"
    if where:
        sql += " WHERE " + " AND ".join(where)
    return sql + " ORDER BY id", params
