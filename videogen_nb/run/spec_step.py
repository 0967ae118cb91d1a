"""The spec check a run makes after each download: the video measured against its request.

The check reads every packet of the video but decodes none (``check_video(...,
decode=False)``): a cut download is still caught, at a fifth of a full decode's CPU on a
tiny clip and a twentieth on 720p, which matters with 10,000 videos in one run. The full
decode is one ``vg.check_video(path, request)`` away.

A spec check never fails a row (the video is there): an unavailable check (no PyAV) or
one that breaks gives None, and its findings are stored in the journal when it worked.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import pathlib
from typing import Any

from ..core.request import VideoRequest
from ..tasks.recorder import Recorder

__all__ = ["check_spec"]

logger = logging.getLogger("videogen_nb")


async def check_spec(
    recorder: Recorder, entry_id: int | None, request: VideoRequest, path: pathlib.Path
) -> dict[str, Any] | None:
    """Measure the video at ``path`` against ``request`` (PyAV packets, off the loop) and
    record the findings; None when the check is unavailable or breaks."""
    try:
        from ..insight import check_video, spec_check_available

        if not spec_check_available():
            return None
        loop = asyncio.get_running_loop()
        report = await loop.run_in_executor(
            None, functools.partial(check_video, path, request, decode=False)
        )
        spec: dict[str, Any] = report.to_dict()
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        logger.info("spec check of %s failed: %s", path.name, exc)
        return None
    try:
        recorder.spec(entry_id, spec)
    except Exception as exc:
        logger.info("could not store the spec check of %s: %s", path.name, exc)
    return spec
