"""Getting a completed task's video onto disk: where it goes, and which URL still works.

Vendor URLs expire (often within minutes), so a URL that answers 403/404/410 is replaced
by a fresh one from a new poll of the task, and when every URL the gateway named is gone,
by the gateway's own ``/content`` route. The file name is built from what the toolkit
controls (journal number, model, a digest of the task id), never from server text.

The newest new-api names its own artifact route,
``/v1/tasks/{id}/artifacts/video/content?access=<expiry>.<signature>``: a link whose token has
visibly run out is refreshed before it is tried (each refused token counts against
new-api's per-address limit of invalid attempts, which answers 429 for a minute once
reached); one refused anyway answers 404 and is refreshed like any expired URL.

Each process writes to a ``.part`` name of its own and renames the finished file into
place (``own_files``), so two processes never write the same file or ``.part``.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pathlib
import re
import time
import urllib.parse
from collections.abc import Awaitable, Callable

from ..core.errors import DownloadError
from ..core.task import Task
from ..http.download import DownloadInfo, safe_output_path, stream_to_file
from ..http.transport import Transport
from .own_files import into_place

__all__ = ["artifact_link_expired", "fetch_video", "target_path"]

logger = logging.getLogger("videogen_nb")

#: URLs tried (the task's, then fresh ones from new polls) before the content route
MAX_URL_REFRESHES = 3

_ARTIFACT_PATH = re.compile(r"/v1/tasks/[^/]+/artifacts/[^/]+/content$")


def artifact_link_expired(url: str, *, now: float | None = None) -> bool:
    """Whether ``url`` is a new-api artifact link whose ``access`` token has expired.

    The token is ``<expiry>.<signature>`` with the expiry in Unix seconds (milliseconds are
    read too); anything else is not judged here (False).

    >>> artifact_link_expired("https://gw/v1/tasks/t/artifacts/video/content?access=1.sig")
    True
    >>> artifact_link_expired("https://cdn.example/v.mp4?access=1.sig")
    False
    """
    parts = urllib.parse.urlsplit(url)
    if not _ARTIFACT_PATH.search(parts.path):
        return False
    token = urllib.parse.parse_qs(parts.query).get("access", [""])[0]
    expiry, sep, _signature = token.partition(".")
    if not sep or not expiry.isdigit():
        return False
    seconds = int(expiry) / 1000.0 if int(expiry) > 1e11 else float(expiry)
    return seconds < (time.time() if now is None else now)


def target_path(
    task: Task,
    *,
    dest: str | os.PathLike[str] | None,
    output_dir: pathlib.Path,
    entry_id: int | None,
    model: str | None,
) -> pathlib.Path:
    """The file to write: ``dest`` when it names a file, else a toolkit-built name inside
    ``dest`` (a directory) or ``output_dir``."""
    if dest is not None:
        dest_path = pathlib.Path(dest)
        if not dest_path.is_dir():
            dest_path.parent.mkdir(parents=True, exist_ok=True)
            return dest_path
        directory = dest_path
    else:
        # created by the download itself (``stream_to_file``), not once more per video here
        directory = output_dir
    digest = hashlib.sha256(task.id.encode()).hexdigest()[:10]
    prefix = f"{entry_id:06d}-" if entry_id is not None else ""
    return safe_output_path(directory, f"{prefix}{model or 'video'}-{digest}")


async def fetch_video(
    transport: Transport,
    task: Task,
    target: pathlib.Path,
    *,
    content_path: str,
    max_bytes: int,
    refresh: Callable[[str], Awaitable[Task]],
) -> DownloadInfo:
    """Download ``task``'s video to ``target``; ``refresh(task_id)`` polls the task again
    when its URL has expired; ``content_path`` is the gateway's proxy route of last resort.
    The bytes go to a ``.part`` name of this process's own, renamed to ``target`` once
    complete."""
    return await into_place(
        target,
        lambda part: _fetch_to(transport, task, target, part, content_path, max_bytes, refresh),
    )


async def _fetch_to(
    transport: Transport,
    task: Task,
    target: pathlib.Path,
    part: pathlib.Path,
    content_path: str,
    max_bytes: int,
    refresh: Callable[[str], Awaitable[Task]],
) -> DownloadInfo:
    tried: set[str] = set()
    url = task.video_url
    if url and artifact_link_expired(url):
        # Refreshed once, whatever the clock says next: a skewed clock must not loop here.
        logger.info("artifact link of task %s has expired; asking the gateway again", task.id)
        url = (await refresh(task.id)).video_url
    for _ in range(MAX_URL_REFRESHES):
        source = transport.url_for(url) if url else transport.url_for(content_path)
        if source in tried:
            break
        tried.add(source)
        try:
            return await stream_to_file(transport, source, target, max_bytes=max_bytes, part=part)
        except DownloadError as exc:
            if not exc.expired:
                raise
            logger.info("video URL of task %s expired; asking the gateway again", task.id)
        fresh = await refresh(task.id)
        url = fresh.video_url if fresh.video_url and fresh.video_url != url else None
    # Every URL the gateway named is gone: its own proxy route is the last resort.
    return await stream_to_file(
        transport, transport.url_for(content_path), target, max_bytes=max_bytes, part=part
    )
