"""The journal's values: ``JournalEntry`` (one request) and ``Vote``, and how rows map to them.

Also the two normalisations every stored value goes through: the gateway URL without
credentials (``normalize_gateway``) and the file checksum (``file_checksum``).
"""

from __future__ import annotations

import hashlib
import json
import os
import pathlib
import sqlite3
from typing import Any

import attrs

from ..core.cost import Cost
from ..core.request import VideoRequest
from ..core.scoring import VOTE_KINDS
from ..core.states import EntryState
from ..core.urls import gateway_root

__all__ = [
    "COST_COLUMNS",
    "JournalEntry",
    "Vote",
    "checksum_matches",
    "cost_columns",
    "entry_from_row",
    "file_checksum",
    "normalize_gateway",
    "vote_from_row",
]

#: the columns that hold a reported ``Cost`` (see ``JournalEntry.cost``)
COST_COLUMNS = ("cost_amount", "cost_currency", "cost_source", "cost_basis", "billed_seconds")


@attrs.define(frozen=True, kw_only=True)
class JournalEntry:
    """One request as the journal last recorded it.

    ``cost`` is the cost the gateway reported (a ``core.cost.Cost``), or None.

    Times are epoch seconds (``time.time()`` of this machine). ``request`` is the request's
    ``to_dict()``; ``request_obj()`` rebuilds the ``VideoRequest``. ``status`` is the last
    remote ``TaskStatus`` value seen; ``state`` is the journal's own view, an ``EntryState``
    (a ``str`` enum, so ``entry.state == "downloaded"`` works). ``spec`` holds the measured
    video properties once the spec check ran.
    """

    id: int
    run_id: str | None = None
    fingerprint: str
    request: dict[str, Any]
    gateway: str
    dialect: str | None = None
    model: str
    idempotency_key: str
    # the converter rejects any text that is not a state (ValueError), as a validator would
    state: EntryState = attrs.field(converter=EntryState)
    task_id: str | None = None
    status: str | None = None
    progress: int | None = None
    video_url: str | None = None
    url_expires_at: float | None = None
    path: str | None = None
    checksum: str | None = None
    size: int | None = None
    created_at: float
    submitted_at: float | None = None
    completed_at: float | None = None
    downloaded_at: float | None = None
    updated_at: float
    error: str | None = None
    error_code: str | None = None
    spec: dict[str, Any] | None = None
    #: the run whose lease holds the entry (None: nobody's, any resume() may take it)
    owner: str | None = None
    # the reported cost, one column each (``cost`` puts them together)
    cost_amount: float | None = None
    cost_currency: str | None = None
    cost_source: str | None = None
    cost_basis: str | None = None
    #: the seconds of video the gateway billed or reported, when it said
    billed_seconds: float | None = None

    @property
    def cost(self) -> Cost | None:
        """The cost the gateway reported for this entry's task, once known (kept on a
        failed task too: a gateway that charges for failures shows it here); None when it
        reported nothing. Estimates are not stored: see ``store.prices``."""
        if self.cost_amount is None:
            return None
        return Cost(
            amount=self.cost_amount,
            currency=self.cost_currency or "USD",
            source=self.cost_source or "reported",
            basis=self.cost_basis or "",
            billed_seconds=self.billed_seconds,
        )

    @property
    def is_finished(self) -> bool:
        """True when nothing more will happen on its own: downloaded, failed or cancelled."""
        return self.state.is_finished

    def request_obj(self) -> VideoRequest:
        """The recorded request, rebuilt as a ``VideoRequest``."""
        return VideoRequest.from_dict(self.request)

    def __repr__(self) -> str:
        bits = [f"id={self.id}", f"model={self.model!r}", f"state={self.state}"]
        if self.task_id:
            bits.append(f"task_id={self.task_id!r}")
        if self.progress is not None and self.state is EntryState.SUBMITTED:
            bits.append(f"progress={self.progress}%")
        if self.path:
            bits.append(f"path={self.path!r}")
        if self.error:
            bits.append(f"error={self.error!r}")
        return f"JournalEntry({', '.join(bits)})"


@attrs.define(frozen=True, kw_only=True)
class Vote:
    """One human judgement from a comparison: the ``best`` of a row, a ``pair`` won by
    ``winner`` over ``loser``, a ``tie``, or a ``skip``. ``candidates`` are what was shown
    (usually model names); ``row_key`` names the compared row (e.g. prompt and seed)."""

    id: int
    run_id: str | None = None
    row_key: str
    candidates: tuple[str, ...]
    winner: str | None = None
    loser: str | None = None
    kind: str = attrs.field(validator=attrs.validators.in_(VOTE_KINDS))
    created_at: float


def cost_columns(cost: Cost | None) -> dict[str, Any]:
    """The ``entries`` columns that store a reported ``cost``; nothing for None (a snapshot
    that reports no cost never erases one reported earlier)."""
    if cost is None:
        return {}
    return {
        "cost_amount": cost.amount,
        "cost_currency": cost.currency,
        "cost_source": cost.source,
        "cost_basis": cost.basis,
        "billed_seconds": cost.billed_seconds,
    }


def entry_from_row(row: sqlite3.Row) -> JournalEntry:
    """The ``entries`` row as a ``JournalEntry`` (its JSON columns decoded)."""
    data = dict(row)
    data["request"] = json.loads(data["request"])
    data["spec"] = json.loads(data["spec"]) if data.get("spec") is not None else None
    return JournalEntry(**data)


def vote_from_row(row: sqlite3.Row) -> Vote:
    """The ``votes`` row as a ``Vote`` (its replacement scope is storage detail, dropped)."""
    data = dict(row)
    data.pop("scope", None)
    data["candidates"] = tuple(json.loads(data["candidates"]))
    return Vote(**data)


def normalize_gateway(url: str) -> str:
    """The gateway's identity as the journal stores it: ``core.urls.gateway_root``, the
    same rule the client uses for its base URL, so ``.../v1`` and the bare root are one
    gateway and no credentials, query or fragment are ever stored.

    >>> normalize_gateway("HTTPS://user:secret@API.Example.com/v1/?key=x")
    'https://api.example.com'
    """
    return gateway_root(url)


def file_checksum(path: str | os.PathLike[str], algorithm: str = "sha256") -> str:
    """``"<algorithm>:<hex digest>"`` of a file's bytes, the form ``record_download`` expects."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return f"{algorithm}:{digest.hexdigest()}"


def checksum_matches(path: pathlib.Path, checksum: str) -> bool:
    """True when the file at ``path`` still has ``checksum`` (``file_checksum`` form; a bare
    hex digest is taken as sha256). An unreadable file or unknown algorithm is no match."""
    algorithm, _, expected = checksum.rpartition(":")
    algorithm = algorithm or "sha256"
    try:
        actual = file_checksum(path, algorithm)
    except (ValueError, OSError):
        return False
    return actual.rpartition(":")[2] == expected.lower()
