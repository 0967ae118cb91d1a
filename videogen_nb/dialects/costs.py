"""What a gateway says a task cost, read from any answer shape into a ``core.cost.Cost``.

The shapes (GATEWAYS.md, "Cost"), first match wins:

- LiteLLM proxy: the ``x-litellm-response-cost`` header (US dollars, priced by LiteLLM's
  tables) or ``usage.provider_reported_cost_usd``; ``usage.duration_seconds`` is the seconds
  it billed;
- OpenRouter: ``usage.cost`` (US dollars) on the finished job (``usage.is_byok`` noted);
- a generic ``cost`` on the task (a number, with ``currency`` beside it, or ``{"amount",
  "currency"}``), ``usage.cost``/``usage.total_cost``, or the same under ``metadata.usage``
  (some new-api adaptors);
- new-api: ``quota`` on its task object, in quota units (``QUOTA_PER_USD`` per dollar), with
  the ``X-New-Api-Other-Ratios`` submit header's ``seconds`` as the billed seconds.

A gateway that reports only the seconds it billed (LiteLLM's ``usage.duration_seconds``
without a price) gets those seconds priced by ``store.prices``: a ``Cost`` whose source is
``"estimated"`` but whose ``billed_seconds`` the gateway said. A figure of 0 is read as "not
counted yet" (new-api before billing, LiteLLM for a model missing from its tables), never as
free: no cost; the one exception is new-api's quota 0 on a finished task, its refund of the
quota it held while the task ran (a reported cost of 0, which replaces the hold in the
journal). Nothing here raises; what cannot be read is no cost.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from ..core.cost import Cost
from ..store.prices import prices
from .readers import dig, header, text_of

__all__ = [
    "LITELLM_COST_HEADER",
    "NEWAPI_RATIOS_HEADER",
    "QUOTA_PER_USD",
    "billed_seconds_of_ratios",
    "ratio_seconds",
    "ratios_object",
    "reported_cost",
]

#: new-api's default quota units per US dollar (a deployment can change it)
QUOTA_PER_USD = 500_000
#: the submit answer's header naming the price multipliers new-api applied
NEWAPI_RATIOS_HEADER = "X-New-Api-Other-Ratios"
#: the header the LiteLLM proxy puts its computed cost in
LITELLM_COST_HEADER = "x-litellm-response-cost"


def _number(value: Any) -> float | None:
    """A finite number >= 0 from a number or numeric text, else None."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) and number >= 0 else None


def _money(value: Any) -> float | None:
    """A positive finite amount from a number or numeric text, else None."""
    number = _number(value)
    return number if number else None


def _seconds(value: Any) -> float | None:
    return _money(value)


def _kept_headers(raw: Any) -> Mapping[str, str] | None:
    kept = raw.get("_headers") if isinstance(raw, dict) else None
    return kept if isinstance(kept, dict) else None


def ratios_object(headers: Mapping[str, str] | None) -> dict[str, Any] | None:
    """new-api's ``X-New-Api-Other-Ratios`` header as the JSON object it holds, or None
    (no header, not JSON, or not an object)."""
    text = header(headers, NEWAPI_RATIOS_HEADER)
    if text is None:
        return None
    try:
        parsed = json.loads(text)
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None


def billed_seconds_of_ratios(headers: Mapping[str, str] | None) -> float | None:
    """The ``seconds`` multiplier of new-api's ``X-New-Api-Other-Ratios`` header (the
    seconds it billed), or None."""
    parsed = ratios_object(headers)
    return None if parsed is None else _seconds(parsed.get("seconds"))


def ratio_seconds(raw: Any) -> float | None:
    """The billed seconds new-api's ratios header named on a submit answer (its
    ``Task.raw``, where the header is kept under ``"_headers"``), or None."""
    return billed_seconds_of_ratios(_kept_headers(raw))


def _litellm(node: dict[str, Any], headers: Mapping[str, str] | None) -> Cost | None:
    found = node.get("usage")
    usage: dict[str, Any] = found if isinstance(found, dict) else {}
    seconds = _seconds(usage.get("duration_seconds"))
    amount = _money(header(headers, LITELLM_COST_HEADER))
    basis = f"LiteLLM {LITELLM_COST_HEADER} header"
    if amount is None:
        amount = _money(usage.get("provider_reported_cost_usd"))
        basis = "LiteLLM usage.provider_reported_cost_usd"
    if amount is None:
        return None
    if seconds is not None:
        basis += f", usage.duration_seconds {seconds:g}"
    return Cost(amount=amount, source="reported", basis=basis, billed_seconds=seconds)


def _cost_field(value: Any, currency: Any) -> tuple[float, str] | None:
    """``(amount, currency)`` of a ``cost`` value: a number or ``{"amount","currency"}``."""
    if isinstance(value, dict):
        amount = _money(value.get("amount", value.get("value")))
        currency = value.get("currency", currency)
    else:
        amount = _money(value)
    if amount is None:
        return None
    return amount, (text_of(currency) or "USD").upper()


_GENERIC_PLACES: tuple[tuple[tuple[str, ...], str], ...] = (
    (("usage", "cost"), "usage.cost"),
    (("usage", "total_cost"), "usage.total_cost"),
    (("cost",), "cost"),
    (("metadata", "usage", "cost"), "metadata.usage.cost"),
    (("metadata", "usage", "total_cost"), "metadata.usage.total_cost"),
)


def _generic(node: dict[str, Any], gateway: str) -> Cost | None:
    for path, name in _GENERIC_PLACES:
        parent = dig(node, path[:-1]) if len(path) > 1 else node
        if not isinstance(parent, dict):
            continue
        found = _cost_field(parent.get(path[-1]), parent.get("currency"))
        if found is None:
            continue
        amount, currency = found
        basis = f"{gateway} {name}"
        if dig(node, ("usage", "is_byok")) is True:
            basis += " (bring-your-own-key: the provider bills you too)"
        seconds = _seconds(dig(parent, ("duration_seconds",)))
        return Cost(
            amount=amount, currency=currency, source="reported", basis=basis, billed_seconds=seconds
        )
    return None


def _newapi_quota(
    node: dict[str, Any], headers: Mapping[str, str] | None, terminal: bool
) -> Cost | None:
    quota = _number(node.get("quota"))
    if quota is None or (quota == 0 and not terminal):
        return None
    seconds = billed_seconds_of_ratios(headers)
    basis = f"new-api quota {quota:g} at {QUOTA_PER_USD}/USD"
    if quota == 0:
        # new-api holds the quota while a task runs and gives it back when it fails
        basis = "new-api quota 0 on the finished task: nothing charged (refunded)"
    ratios = header(headers, NEWAPI_RATIOS_HEADER)
    if ratios is not None:
        basis += f", price ratios {ratios}"
    return Cost(
        amount=quota / QUOTA_PER_USD, source="reported", basis=basis, billed_seconds=seconds
    )


def _seconds_only(node: dict[str, Any]) -> Cost | None:
    """Seconds billed, no money: those seconds at the price table's rate (an estimate)."""
    usage = node.get("usage")
    model = text_of(node.get("model"))
    seconds = _seconds(usage.get("duration_seconds")) if isinstance(usage, dict) else None
    if seconds is None or model is None:
        return None
    resolution = text_of(usage.get("video_resolution")) if isinstance(usage, dict) else None
    size = resolution or text_of(node.get("size"))
    try:
        priced = prices.estimate_seconds(model, seconds, size)
    except ValueError:  # a resolution the table cannot read: price at the model's default
        priced = prices.estimate_seconds(model, seconds)
    if priced is None:
        return None
    return Cost(
        amount=priced.amount,
        currency=priced.currency,
        source="estimated",
        basis=f"gateway billed {seconds:g} s (usage.duration_seconds); {priced.basis}",
        billed_seconds=seconds,
    )


def _gateway_name(node: dict[str, Any]) -> str:
    """``"openrouter"`` for OpenRouter's job shape, else ``"gateway"`` (for the basis)."""
    usage = node.get("usage")
    openrouter = "polling_url" in node or "unsigned_urls" in node
    return (
        "openrouter"
        if openrouter or (isinstance(usage, dict) and "is_byok" in usage)
        else "gateway"
    )


def reported_cost(
    node: dict[str, Any],
    raw: Any = None,
    headers: Mapping[str, str] | None = None,
    *,
    terminal: bool = False,
) -> Cost | None:
    """The cost the task object ``node`` (inside answer ``raw``) reports, reading the
    response ``headers`` or, failing them, those kept on ``raw["_headers"]``; None when it
    reports none (see the module docstring for the shapes). ``terminal`` says the task is
    over: then new-api's quota 0 is a refund (a cost of 0), not "not counted yet"."""
    try:
        headers = headers or _kept_headers(raw)
        return (
            _litellm(node, headers)
            or _generic(node, _gateway_name(node))
            or _newapi_quota(node, headers, terminal)
            or _seconds_only(node)
        )
    except (TypeError, ValueError, AttributeError):  # an odd shape is no cost, not a crash
        return None
