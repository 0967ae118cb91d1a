"""One price, as the price table keeps it, and reading prices from TOML or JSON files.

A file (and the shipped ``prices.json``) holds a list of prices, each a table with ``model``
and at least one of ``per_second``/``per_video`` (positive numbers), and optionally
``resolution`` (``"720p"``, ``"1080p"``, ``"4k"`` or a size such as ``"1280x720"``; none
means any), ``currency`` (default ``USD``), ``default_seconds`` (the length the model makes
when the request names none), ``source`` (where the price was published) and ``date``::

    # prices.toml
    [[price]]
    model = "kling-v2-5-turbo"
    per_second = 0.07
    source = "our contract"
    date = "2026-11"

JSON: ``{"price": [{...}, ...]}`` (``"prices"`` is accepted too) or a bare list. Every
problem is reported as a ``ValidationError`` naming the file, the price and the field.
"""

from __future__ import annotations

import json
import math
import os
import pathlib
import re
from collections.abc import Mapping
from typing import Any

import attrs

from ..core.errors import ValidationError
from ..core.geometry import split_size

__all__ = ["Price", "parse_prices", "read_price_file", "resolution_pixels", "resolution_text"]

_RESOLUTION_RE = re.compile(r"^\s*(\d{3,4})\s*p\s*$", re.IGNORECASE)
_NAMED_RESOLUTIONS = {"4k": 2160, "2k": 1440, "uhd": 2160, "fhd": 1080, "hd": 720}
_KEYS = frozenset(
    {"model", "per_second", "per_video", "resolution", "currency", "default_seconds"}
    | {"source", "date"}
)


def resolution_pixels(value: object) -> int | None:
    """The short side in pixels of a resolution (``"720p"``, ``"4k"``, ``"1280x720"``), or
    None when ``value`` is none of those.

    >>> resolution_pixels("1080p"), resolution_pixels("1792x1024"), resolution_pixels("4K")
    (1080, 1024, 2160)
    """
    if not isinstance(value, str):
        return None
    named = _NAMED_RESOLUTIONS.get(value.strip().lower())
    if named is not None:
        return named
    match = _RESOLUTION_RE.match(value)
    if match is not None:
        return int(match.group(1))
    size = split_size(value)
    return min(size) if size is not None and min(size) > 0 else None


def resolution_text(pixels: int | None) -> str:
    """``"720p"`` for 720 (``"any resolution"`` for None)."""
    return "any resolution" if pixels is None else f"{pixels}p"


@attrs.define(frozen=True, kw_only=True)
class Price:
    """One published (or user-set) price of a model: ``per_second`` of video and/or
    ``per_video``, at one ``resolution`` (short side in pixels; None: any), with where it
    comes from (``source``) and when it was read (``date``)."""

    model: str
    per_second: float | None = None
    per_video: float | None = None
    resolution: int | None = None
    currency: str = "USD"
    default_seconds: float | None = None
    source: str = "set by user"
    date: str | None = None

    def cost_of(self, seconds: float | None) -> float | None:
        """The price of one video of ``seconds`` (None when it is priced per second and the
        length is unknown)."""
        if self.per_second is not None and seconds is None:
            return None
        total = self.per_video or 0.0
        if self.per_second is not None and seconds is not None:
            total += self.per_second * seconds
        return total

    def describe(self) -> str:
        """``"0.07 USD/s (klingai.com, 2026-11)"``: the rate and its source, for a basis."""
        rates = []
        if self.per_second is not None:
            rates.append(f"{self.per_second:g} {self.currency}/s")
        if self.per_video is not None:
            rates.append(f"{self.per_video:g} {self.currency}/video")
        where = self.source if self.date is None else f"{self.source}, {self.date}"
        return f"{' + '.join(rates)} ({where})"


def _positive(value: Any, where: str, field: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValidationError(field, f"{where}: must be a number, got {value!r}")
    number = float(value)
    if not math.isfinite(number) or number <= 0:
        # a price of 0 would show "free" where the truth is "unknown": leave the model out
        raise ValidationError(
            field, f"{where}: must be a positive number (leave the model out if unknown)"
        )
    return number


def _text(value: Any, where: str, field: str, default: str | None) -> str | None:
    if value is None:
        return default
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        text = str(value).strip()
        if text:
            return text
    raise ValidationError(field, f"{where}: must be a non-empty text, got {value!r}")


def _resolution(value: Any, where: str) -> int | None:
    if value is None:
        return None
    pixels = resolution_pixels(value)
    if pixels is None:
        raise ValidationError(
            "resolution",
            f"{where}: {value!r} is not a resolution; use '720p', '1080p', '4k' or '1280x720'",
        )
    return pixels


def price_from_mapping(data: Mapping[str, Any], where: str, default_source: str) -> Price:
    """One ``Price`` from a file's table; ``where`` names it in errors."""
    unknown = sorted(set(data) - _KEYS)
    if unknown:
        raise ValidationError(
            unknown[0], f"{where}: unknown key(s) {unknown}; known: {sorted(_KEYS)}"
        )
    model = _text(data.get("model"), where, "model", None)
    if model is None:
        raise ValidationError("model", f"{where}: every price names its model")
    where = f"{where} (model {model!r})"
    per_second = _positive(data.get("per_second"), where, "per_second")
    per_video = _positive(data.get("per_video"), where, "per_video")
    if per_second is None and per_video is None:
        raise ValidationError("per_second", f"{where}: give per_second and/or per_video")
    return Price(
        model=model,
        per_second=per_second,
        per_video=per_video,
        resolution=_resolution(data.get("resolution"), where),
        currency=(_text(data.get("currency"), where, "currency", "USD") or "USD").upper(),
        default_seconds=_positive(data.get("default_seconds"), where, "default_seconds"),
        source=_text(data.get("source"), where, "source", default_source) or default_source,
        date=_text(data.get("date"), where, "date", None),
    )


def _price_list(document: Any, name: str) -> list[Any]:
    if isinstance(document, list):
        return document
    if isinstance(document, dict):
        found = [key for key in ("price", "prices") if key in document]
        if len(found) == 1 and isinstance(document[found[0]], list):
            return list(document[found[0]])
    raise ValidationError(
        "prices", f"{name}: expected a list of prices under 'price' ([[price]] in TOML)"
    )


def parse_prices(document: Any, name: str) -> list[Price]:
    """The prices of a decoded file ``document``; ``name`` (the file) is named in errors."""
    prices = []
    for index, item in enumerate(_price_list(document, name), start=1):
        where = f"{name}: price #{index}"
        if not isinstance(item, Mapping):
            raise ValidationError("price", f"{where}: expected a table, got {item!r}")
        prices.append(price_from_mapping(item, where, default_source=name))
    return prices


def _load_toml(text: str, name: str) -> Any:
    try:
        import tomllib  # Python 3.11+
    except ModuleNotFoundError:  # pragma: no cover - Python 3.10
        try:
            import tomli as tomllib  # type: ignore[no-redef,import-not-found,unused-ignore]
        except ModuleNotFoundError:
            raise ValidationError(
                "path", f"{name}: reading TOML needs Python 3.11+ or `pip install tomli`"
            ) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValidationError("path", f"{name} is not valid TOML: {exc}") from None


def read_price_file(path: str | os.PathLike[str]) -> list[Price]:
    """The prices in a ``.toml`` or ``.json`` file (checked; see the module docstring)."""
    file = pathlib.Path(path).expanduser()
    name = str(file)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ValidationError("path", f"cannot read price file {name}: {exc.strerror}") from None
    suffix = file.suffix.lower()
    if suffix == ".toml":
        return parse_prices(_load_toml(text, name), name)
    if suffix != ".json":
        raise ValidationError("path", f"{name}: a price file ends in .toml or .json")
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise ValidationError("path", f"{name} is not valid JSON: {exc}") from None
    return parse_prices(document, name)
