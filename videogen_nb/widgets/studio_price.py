"""The Studio's price line: what Generate would cost, before anything is sent.

The plan comes from the client (``client.plan``: the price table, the journal's free
repeats and the client's ``max_cost``), or from the price table alone when the Studio is
not connected. Every figure is an estimate and says so (``~$0.70``, "estimated"); a model
the table does not price is named as unknown, never counted as 0.

>>> from videogen_nb.run.plan import RunPlan
>>> price_text(RunPlan(tasks=2, total=0.7, low=0.7, high=0.7))
'estimated cost: ~$0.70 (price table; the gateway may charge otherwise)'
>>> price_text(RunPlan(tasks=1, total=None, low=None, high=None, unknown=1))
'estimated cost: price unknown (no price for this model in vg.prices)'
"""

from __future__ import annotations

from collections.abc import Sequence

from ..core.cost import Cost, format_cost
from ..core.errors import VideoGenError
from ..core.request import VideoRequest
from ..display.html import tag
from ..run.plan import RunPlan, plan_requests
from .studio_launch import AnyClient, call_on_loop
from .studio_messages import ERROR_COLOR, MUTED_COLOR

__all__ = ["plan_for", "price_html", "price_text"]

_WARN = f"color:{ERROR_COLOR}"


def plan_for(client: AnyClient | None, requests: Sequence[VideoRequest]) -> RunPlan:
    """The plan of ``requests``: the client's (journal repeats free, its ``max_cost``) when
    there is one, else the price table's alone. Sends nothing."""
    if client is None:
        return plan_requests(requests)
    return call_on_loop(client, lambda aclient: aclient.plan(requests))


def _money(amount: float, currency: str, *, estimate: bool) -> str:
    source = "estimated" if estimate else "reported"
    return format_cost(Cost(amount=amount, currency=currency, source=source, basis="plan"))


def _unknown_models(plan: RunPlan) -> list[str]:
    return [row.model for row in plan.rows if row.unknown]


def price_text(plan: RunPlan) -> str:
    """The price line in words: the estimate and its range, the unpriced models, the
    tasks served free from the journal."""
    unknown = _unknown_models(plan)
    if plan.total is None:
        if not plan.unknown:  # every task is served from the journal
            return f"estimated cost: nothing ({plan.cached} served from the journal)"
        which = ", ".join(unknown) if len(unknown) > 1 else "this model"
        return f"estimated cost: price unknown (no price for {which} in vg.prices)"
    text = f"estimated cost: {_money(plan.total, plan.currency, estimate=True)}"
    low, high = plan.low, plan.high
    if low is not None and high is not None and high - low > 1e-9:
        low_text = _money(low, plan.currency, estimate=False)
        high_text = _money(high, plan.currency, estimate=False)
        text += f", {low_text} to {high_text} by length"
    text += " (price table; the gateway may charge otherwise)"
    if plan.unknown:
        tasks = "task" if plan.unknown == 1 else "tasks"
        text += f"; price unknown for {plan.unknown} {tasks} ({', '.join(unknown)}), not counted"
    if plan.cached:
        text += f"; {plan.cached} served free from the journal"
    return text


def _limit_text(plan: RunPlan) -> str:
    if plan.limit is None:
        return ""
    limit = _money(plan.limit, plan.currency, estimate=False)
    if plan.exceeds_limit:
        return (
            f"over the spending limit of {limit} ({plan.limit_source or 'max_cost'}): "
            "launch fewer tasks or raise max_cost"
        )
    return f"limit {limit} ({plan.limit_source or 'max_cost'})"


def price_html(client: AnyClient | None, requests: Sequence[VideoRequest]) -> str:
    """The price line as HTML (class ``vg-studio-price``), for the line under Generate."""
    try:
        plan = plan_for(client, requests)
    except VideoGenError as exc:
        text = f"estimated cost: could not be computed ({exc})"
        return tag("div", text, class_="vg-studio-price")
    parts = [tag("span", price_text(plan))]
    limit = _limit_text(plan)
    if limit:
        style = _WARN if plan.exceeds_limit else f"color:{MUTED_COLOR}"
        parts.append(tag("span", f" · {limit}", style=style))
    return tag("div", raw="".join(parts), class_="vg-studio-price")
