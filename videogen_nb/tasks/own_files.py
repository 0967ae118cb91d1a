"""Each process downloads under names of its own, then renames the finished file into place.

Two processes may download the same task (a run, and a ``resume()`` that took over an
entry whose run stopped answering). Each writes to a hidden name carrying its pid and a
random tag (so the ``.part`` file ``http.download`` keeps beside it is its own too) and
renames the complete file onto the toolkit-built name: neither ever writes into the
other's file, and the final name always holds a whole video. What a killed process left
behind (its pid is gone) is swept away by the next download of the same file.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pathlib
import re
import secrets
from collections.abc import Awaitable, Callable

import attrs

from ..http.download import DownloadInfo
from ..store.leases import pid_alive

__all__ = ["into_place", "own_name", "sweep_orphans"]


def own_name(target: pathlib.Path) -> pathlib.Path:
    """A hidden name beside ``target`` that no other process (or call) uses."""
    tag = f"{os.getpid()}-{secrets.token_hex(4)}"
    return target.with_name(f".{target.stem}.{tag}{target.suffix}")


def sweep_orphans(target: pathlib.Path) -> None:
    """Remove what downloads of ``target`` by processes now dead left beside it (an own
    name, or its ``.part``); a live process's files stay."""
    pattern = re.compile(
        r"^\.\.?"
        + re.escape(target.stem)
        + r"\.(\d+)-[0-9a-f]{8}"
        + re.escape(target.suffix)
        + r"(\.part)?$"
    )
    with contextlib.suppress(OSError):
        for path in target.parent.glob(f".*{target.stem}.*"):
            found = pattern.match(path.name)
            if found is not None and not pid_alive(int(found.group(1))):
                with contextlib.suppress(OSError):
                    path.unlink()


async def into_place(
    target: pathlib.Path, download: Callable[[pathlib.Path], Awaitable[DownloadInfo]]
) -> DownloadInfo:
    """Run ``download(own_path)`` and rename its complete file to ``target``."""
    sweep_orphans(target)
    own = own_name(target)
    try:
        info = await download(own)
        await asyncio.to_thread(os.replace, own, target)
    finally:
        with contextlib.suppress(OSError):
            own.unlink()  # only left when the download failed
    return attrs.evolve(info, path=target)
