"""Which event loop is running here: the one "am I on this loop?" test of the package.

The blocking ``Client`` runs its coroutines on a private background loop, and a ``Run``
works on its client's loop; both must know whether the caller is already on that loop
(then blocking on it would deadlock it) or on another thread (then the work is handed
over with ``asyncio.run_coroutine_threadsafe``).
"""

from __future__ import annotations

import asyncio

__all__ = ["running_loop", "running_on"]


def running_loop() -> asyncio.AbstractEventLoop | None:
    """The event loop running in this thread, or None outside any running loop."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def running_on(loop: asyncio.AbstractEventLoop | None) -> bool:
    """True when the caller runs inside ``loop`` (so blocking on ``loop`` would hang it).

    All code on a loop's thread runs inside that running loop, so this is exact.

    >>> running_on(None)  # no loop at all: nothing to block
    False
    """
    return loop is not None and running_loop() is loop
