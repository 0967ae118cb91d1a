"""``shorten``: the one rule for cutting text down to size (messages, prompts, labels).

Every place that quotes text it does not control (a gateway's error body, a user's prompt, a
row label) cuts it here, so a message looks the same in an exception, a table and a grid.
"""

from __future__ import annotations

import unicodedata

__all__ = ["ELLIPSIS", "shorten"]

#: the marker that ends a shortened text (one character, so ``limit`` is exact)
ELLIPSIS = "…"

# Zero-width joiner and the variation selectors bind to the character before them: cutting
# just before one would leave half an emoji or a bare base letter.
_ZWJ = "\u200d"
_JOINERS = frozenset({_ZWJ, *map(chr, range(0xFE00, 0xFE10))})


def shorten(text: object, limit: int, *, one_line: bool = False) -> str:
    """``text`` as at most ``limit`` characters: longer text is cut and ends with ``…``.

    The rule: surrounding whitespace is dropped; ``one_line=True`` also turns every run of
    whitespace (newlines included) into one space, for table cells and labels. A text longer
    than ``limit`` keeps its first ``limit - 1`` characters, minus any combining mark or
    joiner that would be split from its base and any whitespace left at the cut, then
    ``…``. ``None`` is the empty text.

    >>> shorten("abcdef", 4)
    'abc…'
    >>> shorten("  line one\\n  line two ", 12, one_line=True)
    'line one li…'
    """
    s = "" if text is None else str(text)
    s = " ".join(s.split()) if one_line else s.strip()
    if len(s) <= limit:
        return s
    if limit < 1:
        return ""
    cut = limit - 1
    while 0 < cut < len(s) and _binds_to_previous(s[cut]):
        cut -= 1
    if cut > 0 and s[cut - 1] == _ZWJ:
        cut -= 1  # a joiner at the end would glue the ellipsis onto the emoji before it
    return s[:cut].rstrip() + ELLIPSIS


def _binds_to_previous(char: str) -> bool:
    """Whether ``char`` belongs to the character before it (combining mark, joiner, low surrogate)."""
    return char in _JOINERS or unicodedata.combining(char) != 0 or "\udc00" <= char <= "\udfff"
