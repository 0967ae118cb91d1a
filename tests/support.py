"""Helpers shared by the tests that talk to a real sandbox gateway (fixtures: conftest.py).

Imported as ``tests.support``: a plain ``from conftest import ...`` would be ambiguous, since
the end-to-end suite has a conftest.py of its own.
"""

from __future__ import annotations

import asyncio
import pathlib
import time
from collections.abc import Callable
from typing import Any

import videogen_nb as vg
from videogen_nb.http.retry import RetryPolicy

__all__ = [
    "FAST_POLL",
    "FAST_RETRY",
    "decode_video",
    "get_count",
    "make_mp4",
    "post_count",
    "small",
    "wait_for",
    "wait_for_sync",
]

#: polls fast enough for sub-second sandbox tasks, still shaped by the real policy
FAST_POLL = vg.PollPolicy(min_delay=0.05, max_delay=0.5, fine_interval=0.05, fine_window=0.2)
#: retries fast enough for tests (the 429 tests use the server's own Retry-After)
FAST_RETRY = RetryPolicy(base_delay=0.02, max_delay=0.2, jitter=0.0)


def small(
    prompt: str = "a paper boat in the rain", model: str = "kling-v1", **fields: Any
) -> vg.VideoRequest:
    """A request for a tiny, quick video."""
    fields.setdefault("size", "160x90")
    fields.setdefault("duration", 1)
    return vg.VideoRequest(model=model, prompt=prompt, **fields)


def decode_video(path: str | pathlib.Path) -> dict[str, Any]:
    """Decode every frame with PyAV: frame count, width, height."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = 0
        width = height = 0
        for frame in container.decode(stream):
            frames += 1
            width, height = frame.width, frame.height
    return {"frames": frames, "width": width, "height": height}


async def wait_for(
    predicate: Callable[[], bool], timeout: float = 10.0, interval: float = 0.02
) -> None:
    """Wait (bounded) until ``predicate()`` is true."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(interval)


def wait_for_sync(
    predicate: Callable[[], bool], timeout: float = 20.0, interval: float = 0.02, what: str = ""
) -> None:
    """Blocking ``wait_for`` for code outside an event loop; ``what`` names the condition."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what or predicate}")
        time.sleep(interval)


def make_mp4(path: pathlib.Path, *, frames: int = 8, fps: int = 8, shade: int = 0) -> pathlib.Path:
    """A tiny real H.264 file (64x48) whose frames brighten from ``shade``."""
    import av
    import numpy as np

    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for i in range(frames):
            img = np.full((48, 64, 3), (shade + i * 25) % 256, np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def post_count(sb: Any) -> int:
    """Submit POSTs the sandbox received (both routes)."""
    requests = sb.stats(include_tasks=False)["requests"]
    return sum(n for route, n in requests.items() if route.startswith("POST /v1/"))


def get_count(sb: Any, prefix: str = "GET /v1/") -> int:
    """GETs the sandbox received on routes starting with ``prefix``."""
    requests = sb.stats(include_tasks=False)["requests"]
    return sum(n for route, n in requests.items() if route.startswith(prefix))
