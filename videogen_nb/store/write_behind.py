"""``WriteBehind``: task snapshots (and spec findings) held back and committed many to a
transaction.

A run of 10,000 tasks polls thousands of times a second; committing each poll's snapshot
on its own costs a transaction (and the event loop's time) per poll. A pending snapshot
(progress) carries nothing ``resume()`` needs, nor does a "completed" one (``resume()``
polls the gateway again before it downloads), so the journal may hold them here and
commit them together: when the oldest has waited ``max_age`` seconds (on the next
snapshot), when ``max_items`` are waiting, before any read and at ``close()`` (so the
process always reads what it wrote), and an entry's own held snapshots before any other
write to that entry, in the same transaction (so its moves stay in order). Everything
else (the request, the sending mark, the task id, failures, the download) is committed
before its call returns, as before. A killed process loses at most the snapshots it
held, never an accepted task.

A run's spec findings (``Journal.hold_spec``) are held the same way: they are measured
again from the video file, and one transaction for each of 10,000 videos was a visible
part of a task's CPU.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from .entries import JournalEntry

__all__ = ["Change", "Held", "WriteBehind"]

#: what a held write changes on its entry: ``change(entry, at)`` gives the new column values
Change = Callable[[JournalEntry, float], dict[str, Any]]

#: one held write: the entry id, its change, when it was asked for (epoch seconds)
Held = tuple[int, Change, float]


class WriteBehind:
    """Snapshots waiting for their transaction, by entry; safe to share between threads."""

    def __init__(self, *, max_age: float = 1.0, max_items: int = 2000) -> None:
        self.max_age = float(max_age)
        self.max_items = int(max_items)
        self._lock = threading.Lock()
        self._held: dict[int, list[Held]] = {}
        self._count = 0
        self._oldest = 0.0  # time.monotonic() of the oldest held snapshot

    def __len__(self) -> int:
        return self._count

    def hold(self, entry_id: int, change: Change, at: float) -> bool:
        """Hold a write (a snapshot, a spec); True when the held ones are due now."""
        now = time.monotonic()
        with self._lock:
            if not self._count:
                self._oldest = now
            self._held.setdefault(entry_id, []).append((entry_id, change, at))
            self._count += 1
            return self._count >= self.max_items or now - self._oldest >= self.max_age

    def take(self, entry_id: int | None = None) -> list[Held]:
        """The held snapshots (of ``entry_id`` only, when given), oldest first per entry;
        they are no longer held afterwards."""
        with self._lock:
            if entry_id is None:
                held = [item for items in self._held.values() for item in items]
                self._held = {}
            else:
                held = self._held.pop(entry_id, [])
            self._count -= len(held)
        return held

    def give_back(self, held: list[Held]) -> None:
        """Hold again what ``take`` gave (its commit failed), before any held since."""
        with self._lock:
            for item in reversed(held):
                self._held.setdefault(item[0], []).insert(0, item)
            if held and not self._count:
                self._oldest = time.monotonic()
            self._count += len(held)

    def flush(self, commit: Callable[[list[Held]], None]) -> None:
        """``commit`` every held snapshot (in one transaction); held again if it fails."""
        if not self._count:
            return
        held = self.take()
        try:
            commit(held)
        except BaseException:
            self.give_back(held)
            raise
