"""``GroupCommit``: the durable journal writes of concurrent coroutines share one transaction.

A run submits 32 requests at a time. Each submit marks its entry ``sending`` before its POST
leaves and records the task id after, and both are synced to disk before the submit goes
on; each download is synced too. One transaction and one fsync per write was a large part
of a task's CPU at 10,000 tasks. Here the writes asked for during one turn of the event loop
wait for the next turn, where they all run in ONE transaction (``Journal.batch``) with one
sync. Each caller gets its own result, or its own error (a write that raises undoes only
itself), and only once that transaction is committed: "the task id is durable before
``submit`` returns" holds for every one of them. A caller cancelled before its turn came
has its write skipped (a ``sending`` mark for a POST that never left would be a lie).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

from ..store.journal import Journal

__all__ = ["GroupCommit"]

_T = TypeVar("_T")

_Waiting = tuple[Callable[[], Any], "asyncio.Future[Any]"]


class GroupCommit:
    """Runs journal writes, many to a transaction, for the coroutines of any event loop."""

    def __init__(self, journal: Journal) -> None:
        self._journal = journal
        # per event loop (a sync client runs its own): the writes waiting for the next turn
        self._waiting: dict[asyncio.AbstractEventLoop, list[_Waiting]] = {}

    async def run(self, write: Callable[[], _T]) -> _T:
        """``write()`` (a call that writes to this journal), in the next group transaction;
        returns its result once that transaction is on disk, or raises its error."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[_T] = loop.create_future()
        waiting = self._waiting.get(loop)
        if waiting is None:
            waiting = self._waiting[loop] = []
            loop.call_soon(self._commit, loop)
        waiting.append((write, future))
        return await future

    def _commit(self, loop: asyncio.AbstractEventLoop) -> None:
        waiting = [item for item in self._waiting.pop(loop, []) if not item[1].cancelled()]
        if not waiting:
            return
        outcomes: list[tuple[asyncio.Future[Any], Any, Exception | None]] = []
        try:
            with self._journal.batch():
                for write, future in waiting:
                    try:
                        outcomes.append((future, write(), None))
                    except Exception as exc:  # this caller's own error (its write undone)
                        outcomes.append((future, None, exc))
        except Exception as exc:  # the commit itself failed: none of it is on disk
            for _, future in waiting:
                if not future.done():
                    future.set_exception(exc)
            return
        for future, result, error in outcomes:
            if future.done():
                continue  # cancelled while the transaction ran: the write stays (it is true)
            if error is not None:
                future.set_exception(error)
            else:
                future.set_result(result)
