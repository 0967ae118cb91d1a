"""Checks every string of a request passes: it must be encodable as UTF-8.

Python strings may hold lone surrogates (``"\\ud800"``, from a bad decode or a JSON escape);
no gateway, JSON body or SQLite journal can store one, so a request holding one would be
accepted here and fail later, half-sent. It is refused up front, naming the field.
"""

from __future__ import annotations

from .errors import ValidationError

__all__ = ["require_utf8"]


def require_utf8(text: str, field: str) -> str:
    """``text`` unchanged when it encodes as UTF-8; else ``ValidationError`` naming ``field``.

    >>> require_utf8("a paper boat", "prompt")
    'a paper boat'
    >>> require_utf8("boat \\ud800", "prompt")
    Traceback (most recent call last):
    ...
    videogen_nb.core.errors.ValidationError: prompt: holds a lone surrogate '\\ud800' at character 5, which is not valid text (no gateway or journal can store it); remove it or decode the text properly
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        bad = text[exc.start : exc.start + 1]
        raise ValidationError(
            field,
            f"holds a lone surrogate {bad!r} at character {exc.start}, which is not valid text "
            "(no gateway or journal can store it); remove it or decode the text properly",
        ) from None
    return text
