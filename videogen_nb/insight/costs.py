"""What tasks cost, counted the same way in every view (table, DataFrame, report, captions,
leaderboard, ``videogen-nb runs --cost``).

One rule decides each task's figure (``cost_of``):

- the cost the gateway reported (``Task.cost`` / ``JournalEntry.cost``) when there is one;
- else, for a task that was accepted and did not fail (waiting, running or done), the price
  table's estimate (``vg.prices.estimate``), marked as an estimate;
- else None: a failed, timed-out or cancelled task the gateway reported no charge for is not
  counted (most gateways refund failures; one that charges says so, and is then flagged).

A missing price is None, shown as "price unknown", never as 0. ``CostTotal`` adds figures
up keeping reported and estimated money apart, per currency.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from ..core.cost import Cost, format_cost
from ..core.request import VideoRequest
from ..core.states import FAILED_STATES, EntryState
from ..core.task import Result
from ..store.journal import JournalEntry
from ..store.prices import prices
from .spec import DeliveryCheck, check_delivery, requested_seconds

__all__ = [
    "NO_CHARGE_REPORTED",
    "CostTotal",
    "charged_failure",
    "cost_caption",
    "cost_caption_items",
    "cost_of",
    "cost_text",
    "delivery",
    "entry_cost",
    "estimate",
    "result_cost",
    "result_failed",
]

#: what a failed task with no reported charge shows instead of a figure
NO_CHARGE_REPORTED = "no charge reported"

#: entry states whose tasks cost nothing unless the gateway says otherwise: failed, cancelled,
#: never sent. (A submit whose answer was lost may have created a task: it keeps its estimate.)
_NOT_BILLED_UNLESS_REPORTED = frozenset({*FAILED_STATES, EntryState.CANCELLED, EntryState.CREATED})


def estimate(request: VideoRequest | Mapping[str, Any]) -> Cost | None:
    """The price table's estimate for ``request`` (a ``VideoRequest`` or its dict), None
    when the price is unknown or the stored request no longer parses."""
    try:
        req = request if isinstance(request, VideoRequest) else VideoRequest.from_dict(request)
    except Exception:  # an old journal row written by another version: no estimate
        return None
    return prices.estimate(req)


def cost_of(
    request: VideoRequest | Mapping[str, Any], reported: Cost | None, *, failed: bool
) -> Cost | None:
    """The figure shown for one task: ``reported`` if any, else the estimate unless the task
    ``failed`` (failed, timed out, cancelled: no charge unless one was reported)."""
    if reported is not None:
        return reported
    return None if failed else estimate(request)


def entry_cost(entry: JournalEntry) -> Cost | None:
    """One journal entry's figure (``cost_of`` over its stored request and reported cost)."""
    failed = entry.state in _NOT_BILLED_UNLESS_REPORTED
    return cost_of(entry.request, entry.cost, failed=failed)


def result_failed(result: Result) -> bool:
    """True when ``result`` ended without a video: an error, or a failed/cancelled task."""
    return result.error is not None or result.status in ("failed", "cancelled")


def result_cost(result: Result) -> Cost | None:
    """One ``Result``'s figure: its task's reported cost, else the estimate unless it failed."""
    reported = result.task.cost if result.task is not None else None
    return cost_of(result.request, reported, failed=result_failed(result))


def cost_caption(result: Result) -> str | None:
    """A caption's cost: "$0.35", "~$0.35", "price unknown"; None for a failed task with no
    reported charge (nothing to say)."""
    cost = result_cost(result)
    if cost is None and result_failed(result):
        return None
    return cost_text(cost)


def cost_caption_items(result: Result, *, hidden: Iterable[str] = ()) -> list[list[str]]:
    """The grid caption's cost item, ``[["cost", "~$0.35"]]``, or ``[]``: when the caption
    hides ``"cost"``, or ``"model"`` (a blind grid: prices tell models apart), or there is
    nothing to say (``cost_caption``)."""
    if {"cost", "model"} & set(hidden):
        return []
    text = cost_caption(result)
    return [["cost", text]] if text else []


def delivery(
    spec: Mapping[str, Any] | None,
    request: VideoRequest | Mapping[str, Any],
    cost: Cost | None,
) -> DeliveryCheck | None:
    """Delivered against billed seconds for one video: the spec check's measured length
    (``spec["measured"]["duration"]``) against ``cost.billed_seconds`` when the gateway
    said, else the requested seconds; None when the video was not measured."""
    if not isinstance(spec, Mapping):
        return None
    measured = spec.get("measured")
    duration = measured.get("duration") if isinstance(measured, Mapping) else None
    if not isinstance(duration, (int, float)) or isinstance(duration, bool):
        return None
    billed = cost.billed_seconds if cost is not None else None
    return check_delivery(
        float(duration), billed_seconds=billed, requested_seconds=requested_seconds(request)
    )


def charged_failure(entry: JournalEntry) -> bool:
    """True for a failed or timed-out task that the gateway reports as charged (more than 0)."""
    cost = entry.cost
    return entry.state in FAILED_STATES and cost is not None and cost.amount > 0


def cost_text(cost: Cost | None, *, failed: bool = False) -> str:
    """A cell's text: ``format_cost`` ("$0.35", "~$0.35", "price unknown"), or "no charge
    reported" for a failed task with no figure (unknown, but most likely not billed)."""
    if cost is None and failed:
        return NO_CHARGE_REPORTED
    return format_cost(cost)


def _add(into: dict[str, float], cost: Cost) -> dict[str, float]:
    out = dict(into)
    out[cost.currency] = out.get(cost.currency, 0.0) + cost.amount
    return out


@attrs.define(frozen=True, kw_only=True)
class CostTotal:
    """Money added up: ``reported`` and ``estimated`` amounts per currency, ``counted`` the
    figures added and ``unknown`` the tasks whose price is unknown (not in the sums)."""

    reported: dict[str, float] = attrs.field(factory=dict)
    estimated: dict[str, float] = attrs.field(factory=dict)
    counted: int = 0
    unknown: int = 0

    @classmethod
    def of(cls, costs: Iterable[Cost | None]) -> CostTotal:
        """Add up ``costs``; a None is one task of unknown price."""
        total = cls()
        for cost in costs:
            total = total.plus(cost)
        return total

    def plus(self, cost: Cost | None) -> CostTotal:
        """This total with one more figure (None: one more unknown price)."""
        if cost is None:
            return attrs.evolve(self, unknown=self.unknown + 1)
        if cost.is_estimate:
            return attrs.evolve(
                self, estimated=_add(self.estimated, cost), counted=self.counted + 1
            )
        return attrs.evolve(self, reported=_add(self.reported, cost), counted=self.counted + 1)

    def __add__(self, other: CostTotal) -> CostTotal:
        """Both totals together."""
        reported, estimated = dict(self.reported), dict(self.estimated)
        for into, add in ((reported, other.reported), (estimated, other.estimated)):
            for currency, amount in add.items():
                into[currency] = into.get(currency, 0.0) + amount
        return CostTotal(
            reported=reported,
            estimated=estimated,
            counted=self.counted + other.counted,
            unknown=self.unknown + other.unknown,
        )

    @property
    def currencies(self) -> list[str]:
        """The currencies in the total, in a stable order."""
        return sorted({*self.reported, *self.estimated})

    def as_cost(self) -> Cost | None:
        """The total as one ``Cost`` (an estimate when any part is), or None when nothing is
        known, some price is unknown, or the figures are in several currencies."""
        currencies = self.currencies
        if self.unknown or len(currencies) != 1:
            return None
        (currency,) = currencies
        estimated = self.estimated.get(currency, 0.0)
        amount = self.reported.get(currency, 0.0) + estimated
        source = "estimated" if currency in self.estimated else "reported"
        basis = f"sum of {self.counted} task{'s' if self.counted != 1 else ''}"
        if estimated:
            basis += f" ({format_cost(_est(estimated, currency))} of it estimated)"
        return Cost(amount=amount, currency=currency, source=source, basis=basis)

    def text(self) -> str:
        """``"$1.20"``, ``"~$1.90"`` (part estimated), ``"~$1.90 + 2 price unknown"``, or
        ``"price unknown"``; ``""`` when there was nothing to add."""
        parts = []
        for currency in self.currencies:
            estimated = self.estimated.get(currency, 0.0)
            amount = self.reported.get(currency, 0.0) + estimated
            source = "estimated" if currency in self.estimated else "reported"
            parts.append(
                format_cost(Cost(amount=amount, currency=currency, source=source, basis=""))
            )
        if not parts:
            return "price unknown" if self.unknown else ""
        text = " + ".join(parts)
        if self.unknown:
            text += f" + {self.unknown} price unknown"
        return text


def _est(amount: float, currency: str) -> Cost:
    return Cost(amount=amount, currency=currency, source="estimated", basis="")
