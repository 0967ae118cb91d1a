"""The one parser of frame sizes (``"1280x720"``) and aspect ratios (``"16:9"``).

Requests are validated with it, dialects translate sizes into ratios with it, and the spec
check names a measured frame with it, so all of them agree on what a size is and on its
bounds: each side of a size is ``MIN_SIDE`` to ``MAX_SIDE`` pixels, each term of a ratio 1 to
``MAX_RATIO_TERM``.

>>> parse_size(" 1280 x 720 "), parse_ratio("16:9"), reduce_ratio(1920, 1080)
((1280, 720), (16, 9), (16, 9))
>>> ratio_name(854, 480)
'16:9'
"""

from __future__ import annotations

import math
import re

__all__ = [
    "MAX_RATIO_TERM",
    "MAX_SIDE",
    "MIN_SIDE",
    "NAMED_RATIOS",
    "RATIO_TOLERANCE",
    "format_ratio",
    "format_size",
    "parse_ratio",
    "parse_size",
    "ratio_in_bounds",
    "ratio_name",
    "ratio_text",
    "reduce_ratio",
    "shape_of",
    "shapes_match",
    "size_in_bounds",
    "split_ratio",
    "split_size",
]

#: the smallest and largest side of a frame, in pixels
MIN_SIDE = 16
MAX_SIDE = 8192
#: the largest term of a ratio ("1000:1" is the most extreme shape accepted)
MAX_RATIO_TERM = 1000
#: two shapes within 2 % are the same: 854x480 is a 16:9 frame though it does not reduce to 16:9
RATIO_TOLERANCE = 0.02

#: ratios people name; a frame close to one of these is called by its name
NAMED_RATIOS: tuple[tuple[int, int], ...] = (
    (16, 9),
    (9, 16),
    (1, 1),
    (4, 3),
    (3, 4),
    (3, 2),
    (2, 3),
    (21, 9),
    (9, 21),
    (5, 4),
    (4, 5),
    (2, 1),
    (1, 2),
)

_SIZE_RE = re.compile(r"^\s*(\d+)\s*[xX]\s*(\d+)\s*$")
_RATIO_RE = re.compile(r"^\s*(\d+)\s*:\s*(\d+)\s*$")


def _split(pattern: re.Pattern[str], text: object) -> tuple[int, int] | None:
    if not isinstance(text, str):
        return None
    match = pattern.match(text)
    if match is None:
        return None
    return int(match.group(1)), int(match.group(2))


def split_size(text: object) -> tuple[int, int] | None:
    """``(width, height)`` of a ``"WxH"`` string (``x`` or ``X``, spaces allowed), bounds unchecked.

    >>> split_size("1280X720"), split_size("16:9"), split_size(None)
    ((1280, 720), None, None)
    """
    return _split(_SIZE_RE, text)


def split_ratio(text: object) -> tuple[int, int] | None:
    """``(width, height)`` terms of a ``"W:H"`` string of whole numbers, bounds unchecked.

    >>> split_ratio(" 9 : 16 "), split_ratio("2.39:1")
    ((9, 16), None)
    """
    return _split(_RATIO_RE, text)


def size_in_bounds(width: int, height: int) -> bool:
    """True when both sides are ``MIN_SIDE`` to ``MAX_SIDE`` pixels."""
    return MIN_SIDE <= width <= MAX_SIDE and MIN_SIDE <= height <= MAX_SIDE


def ratio_in_bounds(width: int, height: int) -> bool:
    """True when both terms are 1 to ``MAX_RATIO_TERM``."""
    return 1 <= width <= MAX_RATIO_TERM and 1 <= height <= MAX_RATIO_TERM


def parse_size(text: object) -> tuple[int, int] | None:
    """``(width, height)`` of a ``"WxH"`` string within bounds, else None.

    >>> parse_size("1280x720"), parse_size("8x8"), parse_size("16:9")
    ((1280, 720), None, None)
    """
    dims = split_size(text)
    return dims if dims is not None and size_in_bounds(*dims) else None


def parse_ratio(text: object) -> tuple[int, int] | None:
    """``(width, height)`` terms of a ``"W:H"`` string within bounds, else None (not reduced).

    >>> parse_ratio("32:18"), parse_ratio("0:1")
    ((32, 18), None)
    """
    terms = split_ratio(text)
    return terms if terms is not None and ratio_in_bounds(*terms) else None


def ratio_text(text: object) -> str | None:
    """``"W:H"`` without spaces for a ratio within bounds, else None (not reduced).

    >>> ratio_text(" 16 : 9 "), ratio_text("1280x720")
    ('16:9', None)
    """
    terms = parse_ratio(text)
    return None if terms is None else format_ratio(*terms)


def format_size(width: int, height: int) -> str:
    """``"1280x720"``: the one written form of a size."""
    return f"{width}x{height}"


def format_ratio(width: int, height: int) -> str:
    """``"16:9"``: the one written form of a ratio."""
    return f"{width}:{height}"


def reduce_ratio(width: int, height: int) -> tuple[int, int]:
    """The ratio in lowest terms: ``(1920, 1080)`` gives ``(16, 9)``.

    >>> reduce_ratio(720, 720), reduce_ratio(0, 5)
    ((1, 1), (0, 1))
    """
    divisor = math.gcd(width, height) or 1
    return width // divisor, height // divisor


def shape_of(text: object) -> float | None:
    """Width over height of a ``"WxH"`` size or a ``"W:H"`` ratio, or None when it is neither.

    >>> shape_of("1280x720") == shape_of("16:9"), shape_of("x")
    (True, None)
    """
    dims = split_size(text) or split_ratio(text)
    if dims is None or not dims[1]:
        return None
    return dims[0] / dims[1]


def shapes_match(a: float, b: float, tolerance: float = RATIO_TOLERANCE) -> bool:
    """True when two width/height shapes differ by at most ``tolerance`` (relative)."""
    return abs(a / b - 1) <= tolerance


def _plain_number(value: float) -> str:
    """``12`` for 12.0, ``23.976`` for 23.976: no trailing zeros."""
    return f"{value:.3f}".rstrip("0").rstrip(".")


def ratio_name(width: int, height: int, tolerance: float = RATIO_TOLERANCE) -> str:
    """What people call a frame's shape: ``"16:9"`` for 1280x720 and 854x480.

    A named ratio within ``tolerance`` wins; then the reduced ratio when both of its terms
    are small; else a decimal such as ``"1.85:1"``.

    >>> ratio_name(1998, 1080), ratio_name(720, 1280), ratio_name(100, 30)
    ('1.85:1', '9:16', '10:3')
    """
    shape = width / height
    for a, b in NAMED_RATIOS:
        if shapes_match(shape, a / b, tolerance):
            return format_ratio(a, b)
    a, b = reduce_ratio(width, height)
    if a <= 32 and b <= 32:
        return format_ratio(a, b)
    if shape >= 1:
        return f"{_plain_number(round(shape, 2))}:1"
    return f"1:{_plain_number(round(1 / shape, 2))}"
