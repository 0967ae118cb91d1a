"""What a run will cost before it starts: ``RunPlan`` (the task count, the estimated total and
its range, per model) and how it is computed from the price table.

A price the table does not know is counted as unknown, never as 0: the plan says how many
tasks it could not price. A request that leaves its length to the gateway may be billed for
any length the model allows, so its range runs from the model's shortest to its longest.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterable, Sequence

import attrs

from ..core.cost import Cost, format_cost
from ..core.request import VideoRequest
from ..store.catalog import get_model
from ..store.prices import PriceTable, prices

__all__ = ["PlanRow", "RequestEstimate", "RunPlan", "estimate_request", "plan_requests"]


@attrs.define(frozen=True, kw_only=True)
class RequestEstimate:
    """One request's estimated cost: ``cost`` (None when the price is unknown) and the
    ``low``-``high`` amounts it may be billed (equal when its length is fixed)."""

    cost: Cost | None
    low: float | None = None
    high: float | None = None


def _seconds_range(request: VideoRequest) -> tuple[int, int] | None:
    """The shortest and longest length the model allows, when the request leaves it open."""
    if request.duration is not None or request.seconds is not None:
        return None
    info = get_model(request.model)
    durations = info.durations if info is not None else None
    if not durations:
        return None
    return min(durations), max(durations)


def estimate_request(request: VideoRequest, table: PriceTable | None = None) -> RequestEstimate:
    """The estimate of one request from ``table`` (the shipped/user table by default).

    A request that leaves its length open ranges from the model's shortest to its longest
    length; when the table has no length to assume, the longest stands as the estimate (the
    guard must not count low)."""
    table = prices if table is None else table
    cost = table.estimate(request)
    span = _seconds_range(request)
    bounds = [table.estimate(request.replace(duration=s)) for s in span] if span else []
    if cost is None and len(bounds) == 2 and bounds[0] is not None and bounds[1] is not None:
        longest = bounds[1]
        cost = attrs.evolve(longest, basis=f"{longest.basis}; length not given: longest assumed")
    if cost is None:
        return RequestEstimate(cost=None)
    amounts = [cost.amount] + [
        b.amount for b in bounds if b is not None and b.currency == cost.currency
    ]
    return RequestEstimate(cost=cost, low=min(amounts), high=max(amounts))


def _add(total: float | None, amount: float) -> float:
    return amount if total is None else total + amount


def _money(amount: float | None, currency: str, *, estimate: bool = True) -> str:
    if amount is None:
        return "price unknown"
    source = "estimated" if estimate else "reported"
    return format_cost(Cost(amount=amount, currency=currency, source=source, basis="plan"))


def _range_text(total: float | None, low: float | None, high: float | None, currency: str) -> str:
    text = _money(total, currency)
    if total is not None and low is not None and high is not None and high - low > 1e-9:
        text += (
            f" ({_money(low, currency, estimate=False)}-{_money(high, currency, estimate=False)})"
        )
    return text


def _tasks(count: int) -> str:
    return f"{count} task" if count == 1 else f"{count} tasks"


@attrs.define(frozen=True, kw_only=True)
class PlanRow:
    """The plan of one model: its task count, estimated total and range, and how many of
    its tasks have no known price (or are served free from the journal)."""

    model: str
    tasks: int
    total: float | None
    low: float | None
    high: float | None
    unknown: int = 0
    cached: int = 0
    currency: str = "USD"

    def estimate_text(self) -> str:
        """``"~$0.70 ($0.50-$1.00)"``, ``"price unknown"``, plus the unknown count."""
        text = _range_text(self.total, self.low, self.high, self.currency)
        if self.unknown and self.total is not None:
            text += f" + {self.unknown} unknown"
        return text


@attrs.define(frozen=True, kw_only=True)
class RunPlan:
    """What a run would send and what it would cost, computed before anything is sent.

    ``tasks`` counts every request; ``cached`` of them are served from the journal (no
    charge). ``total`` is the estimated total of the priced tasks (None when none has a
    price), ``low``/``high`` its range, ``unknown`` how many tasks have no known price
    (never counted as 0). ``limit`` is the money this run may still spend (the run's
    ``max_cost`` or what is left of the client's), ``spent`` what the client's journal
    already counts, ``limit_source`` which ``max_cost`` set the limit.

    >>> plan = client.plan(requests)            # doctest: +SKIP
    >>> plan.line()                             # doctest: +SKIP
    '6 tasks, estimated ~$2.10 ($1.50-$3.00); 1 task with unknown price'
    """

    tasks: int
    total: float | None
    low: float | None
    high: float | None
    unknown: int = 0
    cached: int = 0
    currency: str = "USD"
    rows: tuple[PlanRow, ...] = ()
    limit: float | None = None
    spent: float = 0.0
    limit_source: str | None = None

    @property
    def exceeds_limit(self) -> bool:
        """True when the estimated total is over the limit (the range is shown; the
        estimate decides)."""
        return self.limit is not None and self.total is not None and self.total > self.limit + 1e-9

    @property
    def unknown_models(self) -> tuple[str, ...]:
        """The models with at least one task the price table cannot price, in plan order."""
        return tuple(row.model for row in self.rows if row.unknown)

    def _unknown_named(self) -> str:
        """``"mystery-model"``, or ``""`` when the plan has no per-model rows to name."""
        return ", ".join(self.unknown_models)

    def line(self) -> str:
        """The plan in one line, for a price line, a summary or a log: the task count, the
        estimate and its range, the free repeats, the unpriced models, the limit."""
        free = self.total is None and not self.unknown  # every task served from the journal
        estimate = (
            "nothing" if free else _range_text(self.total, self.low, self.high, self.currency)
        )
        text = f"{_tasks(self.tasks)}, estimated {estimate}"
        if self.total is None and self._unknown_named():
            text += f" (no price for {self._unknown_named()})"
        if self.cached:
            text += f"; {self.cached} served from the journal (free)"
        if self.unknown and self.total is not None:
            named = f": {self._unknown_named()}" if self._unknown_named() else ""
            text += f"; {_tasks(self.unknown)} with unknown price (not counted){named}"
        if self.limit is not None:
            text += f"; limit {_money(self.limit, self.currency, estimate=False)}"
            if self.limit_source:
                text += f" ({self.limit_source})"
        return text

    def short(self) -> str:
        """The estimate alone, for a status line: ``"estimated ~$2.10 ($1.50-$3.00), 1
        unknown (veo-3), limit $5.00"`` or ``"estimated: price unknown (veo-3)"``."""
        named = f" ({self._unknown_named()})" if self._unknown_named() else ""
        if self.total is None:
            text = f"estimated: price unknown{named}" if self.unknown else "estimated: nothing"
        else:
            text = f"estimated {_range_text(self.total, self.low, self.high, self.currency)}"
            text += f", {self.unknown} unknown{named}" if self.unknown else ""
        if self.limit is not None:
            text += f", limit {_money(self.limit, self.currency, estimate=False)}"
        return text

    def __repr__(self) -> str:
        lines = [f"RunPlan({self.line()})"]
        width = max((len(row.model) for row in self.rows), default=0)
        for row in self.rows:
            lines.append(f"  {row.model:<{width}}  {_tasks(row.tasks):>9}  {row.estimate_text()}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        body = "".join(
            f"<tr><td>{html.escape(row.model)}</td><td style='text-align:right'>{row.tasks}</td>"
            f"<td>{html.escape(row.estimate_text())}</td></tr>"
            for row in self.rows
        )
        return (
            '<div class="vg-plan" style="font:12px system-ui,sans-serif">'
            f"<div><b>Plan:</b> {html.escape(self.line())}</div>"
            "<table><thead><tr><th>model</th><th>tasks</th><th>estimated cost</th></tr></thead>"
            f"<tbody>{body}</tbody></table></div>"
        )

    def with_limit(self, limit: float | None, spent: float, source: str | None) -> RunPlan:
        """This plan measured against a spending limit."""
        return attrs.evolve(self, limit=limit, spent=spent, limit_source=source)


@attrs.define(kw_only=True)
class _Tally:
    tasks: int = 0
    total: float | None = None
    low: float | None = None
    high: float | None = None
    unknown: int = 0
    cached: int = 0

    def add(self, estimate: RequestEstimate | None) -> None:
        self.tasks += 1
        if estimate is None:
            self.cached += 1
        elif estimate.cost is None or estimate.low is None or estimate.high is None:
            self.unknown += 1
        else:
            self.total = _add(self.total, estimate.cost.amount)
            self.low = _add(self.low, estimate.low)
            self.high = _add(self.high, estimate.high)


def plan_requests(
    requests: Iterable[VideoRequest],
    *,
    table: PriceTable | None = None,
    is_cached: Callable[[VideoRequest], bool] | None = None,
) -> RunPlan:
    """The plan of ``requests`` from ``table`` (default: ``vg.prices``). ``is_cached`` says
    which requests the journal would serve without sending (they cost nothing)."""
    request_list: Sequence[VideoRequest] = list(requests)
    estimates = [
        None if is_cached is not None and is_cached(r) else estimate_request(r, table)
        for r in request_list
    ]
    currencies = [e.cost.currency for e in estimates if e is not None and e.cost is not None]
    currency = max(set(currencies), key=currencies.count) if currencies else "USD"
    # A price in another currency cannot be added to this one: it counts as unknown.
    estimates = [
        RequestEstimate(cost=None)
        if e is not None and e.cost is not None and e.cost.currency != currency
        else e
        for e in estimates
    ]
    whole = _Tally()
    by_model: dict[str, _Tally] = {}
    for request, estimate in zip(request_list, estimates, strict=True):
        whole.add(estimate)
        by_model.setdefault(request.model, _Tally()).add(estimate)
    rows = tuple(
        PlanRow(model=model, currency=currency, **attrs.asdict(tally))
        for model, tally in by_model.items()
    )
    return RunPlan(currency=currency, rows=rows, **attrs.asdict(whole))
