"""Each process downloads under names of its own, then renames the finished file into place.

Two processes may download the same task (a run, and a ``resume()`` that took over an
entry whose run stopped answering). Each writes to a hidden ``.part`` name carrying its pid
and a random tag, and ``http.download`` renames the complete, synced file straight onto the
toolkit-built name and syncs the folder: neither ever writes into the other's file, the
final name always holds a whole video, and it is on disk before the download is recorded.
(One rename, not two: an own name between the ``.part`` and the final name cost a second
rename and a thread hop per video, and that second rename was never synced.) What a killed
process left behind (its pid is gone) is swept away by a later download of the same file.
"""

from __future__ import annotations

import contextlib
import os
import pathlib
import re
import secrets
import time
from collections.abc import Awaitable, Callable

import attrs

from ..http.download import DownloadInfo
from ..store.leases import pid_alive

__all__ = ["into_place", "own_name", "own_part", "sweep_orphans"]


def own_name(target: pathlib.Path) -> pathlib.Path:
    """A hidden name beside ``target`` that no other process (or call) uses."""
    tag = f"{os.getpid()}-{secrets.token_hex(4)}"
    return target.with_name(f".{target.stem}.{tag}{target.suffix}")


def own_part(target: pathlib.Path) -> pathlib.Path:
    """The ``.part`` file of this process's (and call's) own download of ``target``:
    ``..{stem}.{pid}-{tag}{suffix}.part``, which ``sweep_orphans`` knows."""
    own = own_name(target)
    return own.with_name(f".{own.name}.part")


#: how long one listing of a folder's hidden names serves its downloads (seconds)
_LISTING_TTL = 30.0
#: per (pid, folder): when it was listed and the hidden names found (orphan candidates)
_listings: dict[tuple[int, pathlib.Path], tuple[float, list[str]]] = {}


def _hidden_names(folder: pathlib.Path) -> list[str]:
    """The folder's hidden names, listed at most every ``_LISTING_TTL`` seconds: a run
    downloading 10,000 videos into one folder must not list it 10,000 times."""
    key = (os.getpid(), folder)
    now = time.monotonic()
    listed = _listings.get(key)
    if listed is None or now - listed[0] > _LISTING_TTL:
        try:
            with os.scandir(folder) as found:
                names = [entry.name for entry in found if entry.name.startswith(".")]
        except OSError:
            names = []
        listed = _listings[key] = (now, names)
    return listed[1]


def sweep_orphans(target: pathlib.Path) -> None:
    """Remove what downloads of ``target`` by processes now dead left beside it (an own
    name, or its ``.part``); a live process's files stay. The folder's listing is reused
    for ``_LISTING_TTL`` seconds, so what a process killed within that time left is swept
    by a later download (or a later process), not necessarily this one."""
    names = _hidden_names(target.parent)
    heads = ("." + target.stem + ".", ".." + target.stem + ".")
    candidates = [name for name in names if name.startswith(heads)]
    if not candidates:
        return
    pattern = re.compile(
        r"^\.\.?"
        + re.escape(target.stem)
        + r"\.(\d+)-[0-9a-f]{8}"
        + re.escape(target.suffix)
        + r"(\.part)?$"
    )
    for name in candidates:
        found = pattern.match(name)
        if found is not None and not pid_alive(int(found.group(1))):
            with contextlib.suppress(OSError):
                (target.parent / name).unlink()
            with contextlib.suppress(ValueError):
                names.remove(name)


async def into_place(
    target: pathlib.Path, download: Callable[[pathlib.Path], Awaitable[DownloadInfo]]
) -> DownloadInfo:
    """Run ``download(part)``, which writes to ``part`` (this call's own ``.part`` file)
    and renames it onto ``target`` once complete and synced (``stream_to_file(...,
    part=part)`` does); the part file is removed if the download fails."""
    sweep_orphans(target)
    part = own_part(target)
    try:
        info = await download(part)
    except BaseException:
        with contextlib.suppress(OSError):
            part.unlink()  # stream_to_file removes it; this is for any other download
        raise
    return attrs.evolve(info, path=target)
