"""What a video costs: ``Cost`` (one figure, reported by the gateway or estimated from a
price table) and ``format_cost`` (the one way a cost is written for people).

A cost is never made up: a gateway that says nothing and a model the price table does not
know give ``None``, shown as "price unknown", never as "$0".
"""

from __future__ import annotations

import math
from typing import Any

import attrs

__all__ = ["COST_SOURCES", "Cost", "format_cost"]

#: where a figure comes from: the gateway said it, or the price table gave it
COST_SOURCES = ("reported", "estimated")

_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "CNY": "¥", "JPY": "¥"}


def _amount(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"Cost.amount must be a number, got {type(value).__name__}")
    amount = float(value)
    if not math.isfinite(amount) or amount < 0:
        raise ValueError(f"Cost.amount must be a finite number >= 0, got {value!r}")
    return amount


def _currency(value: Any) -> str:
    text = str(value).strip().upper()
    if not text:
        raise ValueError("Cost.currency must be a currency code such as 'USD'")
    return text


def _seconds(value: Any) -> float | None:
    if value is None:
        return None
    seconds = float(value)
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"Cost.billed_seconds must be a finite number >= 0, got {value!r}")
    return seconds


@attrs.define(frozen=True, kw_only=True)
class Cost:
    """One cost figure.

    ``source`` is ``"reported"`` (the gateway said it) or ``"estimated"`` (the price table);
    ``basis`` says in plain words where the figure comes from, e.g. ``"new-api quota 25000
    at 500000/USD"`` or ``"price table: 0.07 USD/s x 5 s (klingai.com pricing, 2026-11)"``;
    ``billed_seconds`` is the seconds of video the gateway billed or reported, when it says.

    >>> Cost(amount=0.35, source="reported", basis="openrouter usage.cost")
    Cost(amount=0.35, currency='USD', source='reported', basis='openrouter usage.cost', billed_seconds=None)
    """

    amount: float = attrs.field(converter=_amount)
    currency: str = attrs.field(default="USD", converter=_currency)
    source: str = attrs.field(validator=attrs.validators.in_(COST_SOURCES))
    basis: str = attrs.field(converter=str)
    billed_seconds: float | None = attrs.field(default=None, converter=_seconds)

    @property
    def is_estimate(self) -> bool:
        """True when the figure comes from the price table, not from the gateway."""
        return self.source == "estimated"

    def __str__(self) -> str:
        return format_cost(self)


def _money(amount: float, currency: str) -> str:
    # small sums keep enough digits to never round a real charge down to "0.00"
    if amount == 0:
        digits = 2
    elif amount < 0.01:
        digits = 4
    else:
        digits = 2 if amount >= 1 or round(amount, 2) == round(amount, 3) else 3
    number = f"{amount:,.{digits}f}"
    symbol = _SYMBOLS.get(currency)
    return f"{symbol}{number}" if symbol else f"{number} {currency}"


def format_cost(cost: Cost | None) -> str:
    """The cost for people: ``"$0.35"`` (reported), ``"~$0.35"`` (estimated), ``"price
    unknown"`` for None. A currency without a symbol is written after the number.

    >>> format_cost(Cost(amount=0.35, source="reported", basis="x"))
    '$0.35'
    >>> format_cost(Cost(amount=0.35, source="estimated", basis="x"))
    '~$0.35'
    >>> format_cost(None)
    'price unknown'
    """
    if cost is None:
        return "price unknown"
    text = _money(cost.amount, cost.currency)
    return f"~{text}" if cost.is_estimate else text
