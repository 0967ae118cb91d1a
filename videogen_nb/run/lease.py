"""A run's hold on its journal entries: the lease it takes, renews and releases, and
which entries ``resume()`` may take over (and why it leaves the others alone).

A run opens its lease before it journals anything, so its entries are held from their
first moment; a heartbeat task on the run's loop renews the lease (one UPDATE per run per
``HEARTBEAT_SECONDS``, not per entry) and the run releases it when its last row ends.
``resume()`` takes an entry only when its holder is gone (the lease was released, its
process is dead on this host, or its heartbeat is older than ``stale_after``); runs alive
in this very process are never taken from, whatever their heartbeat says.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence

import attrs

from ..store.journal import Journal, JournalEntry
from ..store.leases import Lease, why_gone

__all__ = ["DEFAULT_STALE_AFTER", "HEARTBEAT_SECONDS", "RunLease", "SkippedEntry"]

logger = logging.getLogger("videogen_nb")

#: seconds between two renewals of a live run's lease
HEARTBEAT_SECONDS = 10.0
#: a lease not renewed for this long counts as abandoned (a few missed heartbeats)
DEFAULT_STALE_AFTER = 6 * HEARTBEAT_SECONDS

#: owners whose runs are alive in this process (a blocked loop may miss its heartbeat)
_LIVE_HERE: set[str] = set()


@attrs.define(frozen=True, kw_only=True)
class SkippedEntry:
    """An unfinished entry ``resume()`` left alone, and why."""

    entry_id: int
    state: str
    owner: str | None
    reason: str

    def __str__(self) -> str:
        return f"entry {self.entry_id} ({self.state}): {self.reason}"


class RunLease:
    """The lease of one run (``owner`` is the run id) in ``journal`` (None: no journal,
    and every call does nothing)."""

    def __init__(
        self, journal: Journal | None, owner: str, *, interval: float | None = None
    ) -> None:
        self.journal = journal
        self.owner = owner
        self.interval = HEARTBEAT_SECONDS if interval is None else float(interval)
        self._beat: asyncio.Task[None] | None = None

    @property
    def name(self) -> str | None:
        """The owner written on entries (None without a journal)."""
        return self.owner if self.journal is not None else None

    @property
    def held(self) -> bool:
        """True between ``open`` and ``release``."""
        return self.owner in _LIVE_HERE

    def open(self) -> None:
        """Take the lease (again) for this process."""
        if self.journal is None:
            return
        self.journal.leases.open(self.owner, now=time.time())
        _LIVE_HERE.add(self.owner)

    def start_heartbeat(self, loop: asyncio.AbstractEventLoop) -> None:
        """Renew the lease on ``loop`` every ``interval`` seconds until ``release``."""
        if self.journal is None or (self._beat is not None and not self._beat.done()):
            return
        self._beat = loop.create_task(self._heartbeat())

    async def _heartbeat(self) -> None:
        assert self.journal is not None
        while True:
            await asyncio.sleep(self.interval)
            try:
                if not self.journal.leases.renew(self.owner, now=time.time()):
                    return
            except Exception as exc:  # a busy journal must not end the run; next beat
                logger.info("lease heartbeat of run %s failed: %s", self.owner, exc)

    def release(self) -> None:
        """The run ended: stop the heartbeat and free the unfinished entries."""
        _LIVE_HERE.discard(self.owner)
        if self._beat is not None:
            self._beat.cancel()
            self._beat = None
        if self.journal is None:
            return
        with contextlib.suppress(Exception):  # a closed journal: nothing left to free
            self.journal.leases.release(self.owner, now=time.time())

    def holds(self, entry_ids: Sequence[int]) -> set[int]:
        """Which of ``entry_ids`` this run holds now."""
        if self.journal is None:
            return set(entry_ids)
        return self.journal.leases.holds(self.owner, list(entry_ids))

    def claim(
        self, entries: Sequence[JournalEntry], *, stale_after: float
    ) -> tuple[list[JournalEntry], list[SkippedEntry]]:
        """Take every entry whose holder is gone (one compare-and-set each); returns the
        entries now held by this run and the ones left alone, with the reason."""
        taken: list[JournalEntry] = []
        skipped: list[SkippedEntry] = []
        seen: dict[str | None, Lease | None] = {}
        for entry in entries:
            reason = self._take(entry, stale_after, seen)
            if reason is None:
                fresh = self.journal.get(entry.id) if self.journal is not None else entry
                if fresh is not None and not fresh.is_finished:
                    taken.append(fresh)
                    continue
                reason = "it finished meanwhile"
            skipped.append(
                SkippedEntry(
                    entry_id=entry.id, state=str(entry.state), owner=entry.owner, reason=reason
                )
            )
        return taken, skipped

    def _take(
        self, entry: JournalEntry, stale_after: float, seen: dict[str | None, Lease | None]
    ) -> str | None:
        """None when this run now holds ``entry``, else why it was left alone; ``seen``
        keeps the leases already read (one read per owner, not per entry)."""
        assert self.journal is not None
        owner = entry.owner
        if owner == self.owner:
            return None
        if owner is not None and owner in _LIVE_HERE:
            return f"run {owner} is still working on it in this process"
        if owner not in seen:
            seen[owner] = self.journal.leases.get(owner)
        lease = seen[owner]
        now = time.time()
        gone = why_gone(lease, now=now, stale_after=stale_after) if owner else "it had no owner"
        if gone is None:
            assert lease is not None
            return (
                f"run {owner} (pid {lease.pid} on {lease.host}) is still working on it;"
                f" last heartbeat {now - lease.heartbeat_at:.1f} s ago"
                f" (taken over after {stale_after:g} s)"
            )
        beat = lease.heartbeat_at if lease is not None and lease.released_at is None else None
        if not self.journal.leases.take(entry.id, self.owner, expect_owner=owner, expect_beat=beat):
            return "another run took it (or its holder came back) at the same moment"
        logger.info("run %s took entry %d over: %s", self.owner, entry.id, gone)
        return None
