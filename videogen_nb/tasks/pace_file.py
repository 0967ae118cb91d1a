"""What a client learned about its gateways' pace, kept next to the journal.

The journal keeps every task's durations, but not what its statuses and progress taught
(the queue share, the share of the duration at which each status begins). A new client on
the same journal (a new kernel, tomorrow's batch) reads them back from ``<journal>.pace.json``
and times its first polls by them instead of learning again from its own first finishers.

The file holds hints, never records: a missing, unreadable or odd file is ignored (and
rewritten), and two processes writing it keep the last one's view.
"""

from __future__ import annotations

import json
import logging
import os
import pathlib
import tempfile
from typing import Any

__all__ = ["pace_path", "read_paces", "write_paces"]

logger = logging.getLogger("videogen_nb")

VERSION = 1


def pace_path(journal_path: pathlib.Path) -> pathlib.Path:
    """Where the pace learned through the journal at ``journal_path`` is kept."""
    return journal_path.with_name(journal_path.name + ".pace.json")


def read_paces(path: pathlib.Path, gateway: str) -> dict[str, dict[str, Any]]:
    """What was learned at ``gateway``, by model (empty when nothing usable is kept)."""
    models = _read(path).get(gateway)
    return models if isinstance(models, dict) else {}


def write_paces(path: pathlib.Path, gateway: str, models: dict[str, dict[str, Any]]) -> None:
    """Keep ``models`` (``PaceBook.export``) for ``gateway``; the other gateways' stay."""
    if not models:
        return
    gateways = _read(path)
    gateways[gateway] = models
    text = json.dumps({"version": VERSION, "gateways": gateways})
    try:
        # a whole new file, renamed over the old one: a reader never sees half of it
        fd, tmp = tempfile.mkstemp(prefix=".pace-", dir=path.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(tmp, path)
    except OSError as exc:
        logger.info("could not keep the learned poll pace in %s: %s", path, exc)


def _read(path: pathlib.Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        logger.info("ignoring the learned poll pace in %s: %s", path, exc)
        return {}
    if not isinstance(data, dict) or data.get("version") != VERSION:
        return {}
    gateways = data.get("gateways")
    return gateways if isinstance(gateways, dict) else {}
