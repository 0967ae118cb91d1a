"""The price table: what a video of each model costs, to estimate a run before it is sent.

Shipped prices (``prices.json`` beside this module) are the vendors' published list prices,
each with its source and the date it was read; a gateway may charge more or less, so every
figure from here is an *estimate* (``Cost.source == "estimated"``, shown as ``~$0.35``). A
model the table does not know has no estimate (None, shown as "price unknown"), never 0.

Override for this process with ``vg.prices.set("kling-v2-5-turbo", per_second=0.07)`` or
``vg.prices.load("prices.toml")`` (format: ``store.price_file``); ``vg.prices.reset()`` goes
back to the shipped table.

>>> table = PriceTable(shipped=False)
>>> table.set("my-model", per_second=0.1, source="our contract")
>>> table.estimate_seconds("my-model", 5)
Cost(amount=0.5, currency='USD', source='estimated', basis='price table: 0.1 USD/s (our contract) x 5 s', billed_seconds=None)
>>> table.estimate_seconds("other-model", 5) is None
True
"""

from __future__ import annotations

import os
import pathlib
import re
import threading
from typing import TYPE_CHECKING

from ..core.cost import Cost
from ..core.errors import ValidationError
from ..core.geometry import parse_size
from .price_file import (
    Price,
    price_from_mapping,
    read_price_file,
    resolution_pixels,
    resolution_text,
)

if TYPE_CHECKING:
    from ..core.request import VideoRequest

__all__ = ["SHIPPED_PRICES", "Price", "PriceTable", "prices", "request_seconds"]

#: the shipped table's file
SHIPPED_PRICES = pathlib.Path(__file__).with_name("prices.json")


def _loose(name: str) -> str:
    """``name`` without case, provider prefix or the separators vendors spell differently."""
    return re.sub(r"[\s._-]+", "", name.rpartition("/")[2].lower())


def request_seconds(request: VideoRequest) -> float | None:
    """The seconds of video ``request`` asks for (``seconds`` or ``duration``), or None."""
    for value in (request.seconds, request.duration):
        if value is None:
            continue
        try:
            seconds = float(value)
        except (TypeError, ValueError):
            continue
        if seconds > 0:
            return seconds
    return None


def request_resolution(request: VideoRequest) -> int | None:
    """The short side in pixels of the video ``request`` asks for, when it says."""
    size = parse_size(request.size)
    if size is not None:
        return min(size)
    if request.width and request.height:
        return min(request.width, request.height)
    return None


class PriceTable:
    """Prices per model (and resolution), thread safe. ``shipped=False`` starts empty."""

    def __init__(self, *, shipped: bool = True) -> None:
        self._lock = threading.Lock()
        self._shipped = shipped
        self._prices: dict[str, list[Price]] = {}
        self.reset()

    def __repr__(self) -> str:
        with self._lock:
            count = sum(len(v) for v in self._prices.values())
            return f"PriceTable({len(self._prices)} models, {count} prices)"

    def reset(self) -> None:
        """Back to the shipped table (or empty, for a table made with ``shipped=False``)."""
        loaded = read_price_file(SHIPPED_PRICES) if self._shipped else []
        with self._lock:
            self._prices = {}
        self._add(loaded)

    def _add(self, new: list[Price]) -> None:
        # prices from one source replace every earlier price of their model
        grouped: dict[str, list[Price]] = {}
        for price in new:
            grouped.setdefault(price.model, []).append(price)
        with self._lock:
            for model, group in grouped.items():
                for name in [n for n in self._prices if _loose(n) == _loose(model)]:
                    del self._prices[name]
                self._prices[model] = group

    def set(
        self,
        model: str,
        *,
        per_second: float | None = None,
        per_video: float | None = None,
        resolution: str | None = None,
        currency: str = "USD",
        source: str = "set by user",
        default_seconds: float | None = None,
    ) -> None:
        """Set ``model``'s price for this process: ``per_second`` of video and/or
        ``per_video``. Without ``resolution`` it replaces all the model's prices; with one
        (``"720p"``, ``"1080p"``, ``"1280x720"``) only that resolution's."""
        given = {
            "model": model,
            "per_second": per_second,
            "per_video": per_video,
            "resolution": resolution,
            "currency": currency,
            "source": source,
            "default_seconds": default_seconds,
        }
        price = price_from_mapping(given, "prices.set()", default_source="set by user")
        if price.resolution is None:
            self._add([price])
            return
        with self._lock:
            key = next((n for n in self._prices if _loose(n) == _loose(model)), model)
            kept = [p for p in self._prices.get(key, []) if p.resolution != price.resolution]
            self._prices.pop(key, None)
            self._prices[model] = [*kept, price]

    def load(self, path: str | os.PathLike[str]) -> int:
        """Read prices from a ``.toml`` or ``.json`` file (see ``store.price_file``); each
        model in the file replaces that model's prices. Returns how many prices were read.
        A bad file raises ``ValidationError`` naming the price and field, and changes nothing."""
        loaded = read_price_file(path)
        self._add(loaded)
        return len(loaded)

    def remove(self, model: str) -> None:
        """Forget ``model``'s prices (its estimates become "price unknown")."""
        with self._lock:
            for name in [n for n in self._prices if _loose(n) == _loose(model)]:
                del self._prices[name]

    def models(self) -> list[str]:
        """The models with a price, sorted."""
        with self._lock:
            return sorted(self._prices)

    def get(self, model: str) -> list[Price]:
        """``model``'s prices (exact name, else ignoring case, separators and provider
        prefix, so ``google/veo-3.1`` finds ``veo-3.1``); empty when unknown."""
        with self._lock:
            found = self._prices.get(model)
            if found is None:
                wanted = _loose(model)
                found = next((v for n, v in self._prices.items() if _loose(n) == wanted), [])
            return list(found)

    def _pick(self, model: str, pixels: int | None) -> tuple[Price, str] | None:
        """The price for ``model`` at ``pixels`` and a note on any assumption made."""
        candidates = self.get(model)
        if not candidates:
            return None
        general = next((p for p in candidates if p.resolution is None), None)
        if pixels is not None:
            exact = next((p for p in candidates if p.resolution == pixels), None)
            return (exact, "") if exact else ((general, "") if general else None)
        if general is not None:
            return general, ""
        lowest = min(candidates, key=lambda p: p.resolution or 0)
        return lowest, f"; resolution not given: {resolution_text(lowest.resolution)} price"

    def estimate_seconds(
        self, model: str, seconds: float | None, size: str | None = None
    ) -> Cost | None:
        """The estimated cost of one ``seconds``-long video of ``model`` at ``size``
        (``"1280x720"``, ``"720p"``; None: the model's lowest priced resolution). None when
        the table has no price for it (or, priced per second, the length is unknown)."""
        pixels = None
        if size is not None:
            pixels = resolution_pixels(size)
            if pixels is None:
                raise ValidationError("size", f"{size!r} is not a size such as '1280x720'")
        return self._estimate(model, seconds, pixels)

    def _estimate(self, model: str, seconds: float | None, pixels: int | None) -> Cost | None:
        picked = self._pick(model, pixels)
        if picked is None:
            return None
        price, note = picked
        length_note = ""
        if seconds is None and price.default_seconds is not None:
            seconds = price.default_seconds
            length_note = f"; length not given: {seconds:g} s assumed"
        amount = price.cost_of(seconds)
        if amount is None:
            return None
        basis = f"price table: {price.describe()}"
        if price.per_second is not None and seconds is not None:
            basis += f" x {seconds:g} s"
        return Cost(
            # rounded to a millionth: 0.07 x 5 is 0.35, not 0.35000000000000003
            amount=round(amount, 6),
            currency=price.currency,
            source="estimated",
            basis=basis + length_note + note,
        )

    def estimate(self, request: VideoRequest) -> Cost | None:
        """The estimated cost of ``request`` (its model, seconds or duration, size; ``n``
        videos when it asks for several). None when the price is unknown, never 0."""
        one = self._estimate(request.model, request_seconds(request), request_resolution(request))
        count = request.n or 1
        if one is None or count == 1:
            return one
        return Cost(
            amount=round(one.amount * count, 6),
            currency=one.currency,
            source="estimated",
            basis=f"{one.basis} x {count} videos",
        )


#: the process-wide price table (``vg.prices``)
prices = PriceTable()
