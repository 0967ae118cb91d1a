"""The states of a journal entry, and the moves between them: the one state machine.

An entry is one request the user asked for. It is written ``CREATED`` before anything is
sent, ``SENDING`` while its POST is on the wire, then ``SUBMITTED`` once the gateway gave a
task id (or ``SUBMIT_UNKNOWN`` when the POST's answer was lost: the gateway may have billed
it, so it is never resent without being asked). A task the gateway finished is
``COMPLETED`` until its video is on disk (``DOWNLOADED``). ``FAILED``, ``CANCELLED`` and
``TIMED_OUT`` end the wait; a timed-out or cancelled-before-sending entry may be picked up
again by ``resume()``.

``EntryState`` is a ``str`` enum so that the journal's text column, JSON exports and the
comparisons users write (``entry.state == "downloaded"``) keep working.

>>> EntryState.SUBMITTED.can_become(EntryState.COMPLETED)
True
>>> EntryState.DOWNLOADED.can_become(EntryState.SENDING)
False
"""

from __future__ import annotations

import enum

__all__ = [
    "FAILED_STATES",
    "FINISHED_STATES",
    "PENDING_STATES",
    "SUCCEEDED_STATES",
    "TRANSITIONS",
    "UNFINISHED_STATES",
    "EntryState",
]


class EntryState(str, enum.Enum):
    """Where one journal entry stands (the ``state`` column)."""

    CREATED = "created"
    SENDING = "sending"
    SUBMIT_UNKNOWN = "submit_unknown"
    SUBMITTED = "submitted"
    COMPLETED = "completed"
    DOWNLOADED = "downloaded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    TIMED_OUT = "timed_out"

    def __str__(self) -> str:
        return self.value

    @property
    def is_finished(self) -> bool:
        """Nothing more will happen to this entry unless the user asks again."""
        return self in FINISHED_STATES

    def can_become(self, new: EntryState | str) -> bool:
        """True when the journal may move an entry from this state to ``new``."""
        return EntryState(new) in TRANSITIONS[self]


_S = EntryState

#: Every allowed move. Staying in a state is allowed where a state records new facts
#: (progress of a submitted task, the message of a repeated failure).
TRANSITIONS: dict[EntryState, frozenset[EntryState]] = {
    # A 429 to the POST created nothing: the entry goes back to CREATED, never to UNKNOWN.
    # SENDING is a crash marker a caller may skip (the journal's API does not force it), so
    # the POST's outcome may land straight on a CREATED entry; ``record_download`` means the
    # video is on disk, whatever was seen before.
    _S.CREATED: frozenset(
        {
            _S.CREATED,
            _S.SENDING,
            _S.SUBMIT_UNKNOWN,
            _S.SUBMITTED,
            _S.COMPLETED,
            _S.DOWNLOADED,
            _S.FAILED,
            _S.CANCELLED,
        }
    ),
    _S.SENDING: frozenset(
        {_S.CREATED, _S.SUBMITTED, _S.SUBMIT_UNKNOWN, _S.COMPLETED, _S.FAILED, _S.CANCELLED}
    ),
    # Resent (same Idempotency-Key) only when the user asks: retry_unknown(); its answer
    # may be recorded without marking the resend as SENDING first.
    _S.SUBMIT_UNKNOWN: frozenset(
        {_S.SUBMIT_UNKNOWN, _S.SENDING, _S.SUBMITTED, _S.COMPLETED, _S.FAILED, _S.CANCELLED}
    ),
    _S.SUBMITTED: frozenset(
        {_S.SUBMITTED, _S.COMPLETED, _S.DOWNLOADED, _S.FAILED, _S.CANCELLED, _S.TIMED_OUT}
    ),
    _S.COMPLETED: frozenset({_S.COMPLETED, _S.DOWNLOADED, _S.FAILED, _S.CANCELLED, _S.TIMED_OUT}),
    _S.TIMED_OUT: frozenset(
        {_S.TIMED_OUT, _S.SUBMITTED, _S.COMPLETED, _S.DOWNLOADED, _S.FAILED, _S.CANCELLED}
    ),
    # A finished entry is reused (back to CREATED) when the same request is sent again.
    _S.DOWNLOADED: frozenset({_S.DOWNLOADED, _S.CREATED}),
    # FAILED may be a local failure (a poll or a download that failed here): later news of
    # the remote task overtakes it, and the user may still cancel it.
    _S.FAILED: frozenset(
        {_S.FAILED, _S.CREATED, _S.SUBMITTED, _S.COMPLETED, _S.DOWNLOADED, _S.CANCELLED}
    ),
    # cancel_on_timeout: the cancel's answer says CANCELLED, but the reason is the timeout
    # (and a timed-out entry is one resume() may pick up again).
    _S.CANCELLED: frozenset({_S.CANCELLED, _S.CREATED, _S.TIMED_OUT}),
}

#: Entries that need nothing more (resume() leaves them alone).
FINISHED_STATES: frozenset[EntryState] = frozenset({_S.DOWNLOADED, _S.FAILED, _S.CANCELLED})
#: Entries resume() looks at, in the order of the lifecycle.
UNFINISHED_STATES: tuple[EntryState, ...] = tuple(s for s in EntryState if s not in FINISHED_STATES)
#: Buckets the leaderboard and the command line count by (together: every state).
SUCCEEDED_STATES: frozenset[EntryState] = frozenset({_S.COMPLETED, _S.DOWNLOADED})
FAILED_STATES: frozenset[EntryState] = frozenset({_S.FAILED, _S.TIMED_OUT})
PENDING_STATES: frozenset[EntryState] = frozenset(
    {_S.CREATED, _S.SENDING, _S.SUBMITTED, _S.SUBMIT_UNKNOWN}
)
