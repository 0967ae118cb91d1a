"""``excerpt``: gateway text cut to a bound that says it was cut.

A gateway controls its error bodies: one that sends a 2 MB message must not have it kept
whole in every exception, ``Result.error`` and journal row. Text from a gateway is kept as
its first ``limit`` characters, and the excerpt says how much was shown.
"""

from __future__ import annotations

import re

from .text import ELLIPSIS, shorten

__all__ = ["CODE_LIMIT", "MESSAGE_LIMIT", "excerpt"]

#: how many characters of a gateway's error message are kept
MESSAGE_LIMIT = 2000
#: how many characters of a gateway's error code or request id are kept
CODE_LIMIT = 200

#: the longest a note can be ("… (2,000 of 68,719,476,736 characters shown)" and then some)
_NOTE_MAX = 80
_NOTE = re.compile(ELLIPSIS + r" \([\d,]+ of [\d,]+ characters shown\)$")


def excerpt(text: str, limit: int = MESSAGE_LIMIT) -> str:
    """``text`` when it fits in ``limit`` characters, else its start and a note of the cut.

    >>> excerpt("short")
    'short'
    >>> excerpt("x" * 5000, 10)
    'xxxxxxxxx… (10 of 5,000 characters shown)'
    >>> excerpt(excerpt("x" * 5000, 10), 10)  # an excerpt is not cut again
    'xxxxxxxxx… (10 of 5,000 characters shown)'
    """
    if len(text) <= limit:
        return text
    cut = _NOTE.search(text)
    if cut is not None and cut.start() < limit and len(text) - cut.start() < _NOTE_MAX:
        return text  # already an excerpt: cut once, and say the original length
    return f"{shorten(text, limit)} ({limit:,} of {len(text):,} characters shown)"
