"""Getting a completed task's video onto disk: where it goes, and which URL still works.

Vendor URLs expire (often within minutes), so a URL that answers 403/404/410 is replaced
by a fresh one from a new poll of the task, and when every URL the gateway named is gone,
by the gateway's own ``/content`` route. The file name is built from what the toolkit
controls (journal number, model, a digest of the task id), never from server text.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pathlib
from collections.abc import Awaitable, Callable

from ..core.errors import DownloadError
from ..core.task import Task
from ..http.download import DownloadInfo, safe_output_path, stream_to_file
from ..http.transport import Transport

__all__ = ["fetch_video", "target_path"]

logger = logging.getLogger("videogen_nb")

#: URLs tried (the task's, then fresh ones from new polls) before the content route
MAX_URL_REFRESHES = 3


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
        directory = output_dir
    directory.mkdir(parents=True, exist_ok=True)
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
    when its URL has expired; ``content_path`` is the gateway's proxy route of last resort."""
    tried: set[str] = set()
    url = task.video_url
    for _ in range(MAX_URL_REFRESHES):
        source = transport.url_for(url) if url else transport.url_for(content_path)
        if source in tried:
            break
        tried.add(source)
        try:
            return await stream_to_file(transport, source, target, max_bytes=max_bytes)
        except DownloadError as exc:
            if not exc.expired:
                raise
            logger.info("video URL of task %s expired; asking the gateway again", task.id)
        fresh = await refresh(task.id)
        url = fresh.video_url if fresh.video_url and fresh.video_url != url else None
    # Every URL the gateway named is gone: its own proxy route is the last resort.
    return await stream_to_file(
        transport, transport.url_for(content_path), target, max_bytes=max_bytes
    )
