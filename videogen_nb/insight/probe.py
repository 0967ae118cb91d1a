"""Measure a video file with PyAV: length, frame size, frame rate, frames, codec, audio.

This is the package's only PyAV reader: the display layer's frame stepping
(``video_fps``) and poster frames (``poster_jpeg``) come from here too.

PyAV is an optional dependency (the ``sandbox`` extra). ``spec_check_available()`` tells
callers whether it is installed, so they can skip the check quietly; ``probe_video`` raises
``ImportError`` with the install command when it is not.

A file that cannot be opened, or that stops before its container says it ends (a truncated
download whose index came first still opens and plays its first half), is measured as far
as possible and reported with ``decodes_fully=False`` and an ``error`` that says which.

``probe_video(path, decode=False)`` is the cheap form a run uses after every download: it
reads every packet of the video stream (so a cut file is caught the same way) but decodes
none, about 5x cheaper on a tiny clip and 20x on 720p. It cannot see damage inside a packet;
the full decode (the default) stays one ``probe_video``/``check_video`` call away.

>>> probe_video("clip.mp4")["duration"]          # doctest: +SKIP
5.0
"""

from __future__ import annotations

import importlib.util
import logging
import os
import pathlib
from fractions import Fraction
from typing import Any

log = logging.getLogger(__name__)

__all__ = [
    "INSTALL_HINT",
    "MEASURED_KEYS",
    "poster_jpeg",
    "probe_video",
    "rgb_frames",
    "spec_check_available",
    "video_fps",
]

#: what to run when PyAV is missing
INSTALL_HINT = "pip install 'videogen-nb[sandbox]'  (or: pip install av)"

#: the keys of the dict ``probe_video`` returns, in display order
MEASURED_KEYS: tuple[str, ...] = (
    "duration",
    "width",
    "height",
    "fps",
    "frames",
    "codec",
    "has_audio",
    "size_bytes",
    "decodes_fully",
    "error",
)


def spec_check_available() -> bool:
    """True when PyAV is installed, so ``probe_video``/``check_video`` can run."""
    return importlib.util.find_spec("av") is not None


def _import_av() -> Any:
    try:
        import av
    except ImportError as exc:
        raise ImportError(
            f"the video spec check needs PyAV, which is not installed: {INSTALL_HINT}"
        ) from exc
    return av


def _seconds(value: Any, time_base: Any) -> float | None:
    if value is None or time_base is None:
        return None
    return float(value * time_base)


def _empty(size_bytes: int | None, error: str) -> dict[str, Any]:
    measured: dict[str, Any] = dict.fromkeys(MEASURED_KEYS)
    measured.update(size_bytes=size_bytes, has_audio=None, decodes_fully=False, error=error)
    return measured


def probe_video(path: str | os.PathLike[str], *, decode: bool = True) -> dict[str, Any]:
    """Measure the video at ``path``; blocking (run it in an executor from async code).

    Returns a dict with ``MEASURED_KEYS``: ``duration`` (seconds, float), ``width``,
    ``height``, ``fps`` (float), ``frames`` (frames actually decoded), ``codec`` (e.g.
    ``"h264"``), ``has_audio``, ``size_bytes``, ``decodes_fully`` and ``error`` (None, or
    why the file could not be opened or stopped early). Values that could not be measured
    are None. Raises ``ImportError`` (with the install command) when PyAV is missing.
    With ``decode=False`` every packet is read but none decoded: ``frames`` counts the
    video packets (one per frame in MP4/H.264) and ``decodes_fully`` means "reads to the
    end".
    """
    av = _import_av()
    file = pathlib.Path(path)
    try:
        size_bytes = file.stat().st_size
    except OSError as exc:
        return _empty(None, f"cannot open: {exc.strerror or exc}")
    if size_bytes == 0:
        return _empty(0, "cannot open: the file is empty")
    try:
        container = av.open(str(file), mode="r")
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        # strerror alone: the full text repeats the errno and the path
        return _empty(size_bytes, f"cannot open: {getattr(exc, 'strerror', None) or exc}")
    with container:
        return _measure(av, container, size_bytes, decode=decode)


def _count_frames(
    av: Any, container: Any, stream: Any, *, decode: bool
) -> tuple[int, float | None, str | None]:
    """Frames decoded (or video packets read, without ``decode``), the last one's time and
    the reason reading broke off (None when it reached the end)."""
    count = 0
    last_time: float | None = None
    try:
        if decode:
            for frame in container.decode(stream):
                count += 1
                if frame.time is not None:
                    last_time = float(frame.time)
        else:
            for packet in container.demux(stream):
                if packet.size == 0:
                    continue  # the demuxer's end-of-stream marker, not a frame
                count += 1
                if packet.pts is not None and packet.time_base is not None:
                    seen = float(packet.pts * packet.time_base)
                    last_time = seen if last_time is None else max(last_time, seen)
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        return count, last_time, str(getattr(exc, "strerror", None) or exc)
    return count, last_time, None


def _measure(av: Any, container: Any, size_bytes: int, *, decode: bool) -> dict[str, Any]:
    measured: dict[str, Any] = dict.fromkeys(MEASURED_KEYS)
    measured["size_bytes"] = size_bytes
    measured["has_audio"] = len(container.streams.audio) > 0
    if not container.streams.video:
        measured.update(decodes_fully=False, error="cannot open: not a video (no video stream)")
        return measured
    stream = container.streams.video[0]
    if decode:
        # frame-level threads: a 1080p clip decodes several times faster, same frames
        stream.thread_type = "AUTO"
    ctx = stream.codec_context
    measured["codec"] = ctx.name
    measured["width"] = ctx.width or None
    measured["height"] = ctx.height or None
    rate = stream.average_rate or stream.guessed_rate
    # the video stream's own length: an AAC track's priming samples make the container longer
    duration = _seconds(stream.duration, stream.time_base)
    if duration is None and container.duration is not None:
        duration = container.duration / av.time_base
    declared_frames = int(stream.frames or 0)

    decoded, last_time, reason = _count_frames(av, container, stream, decode=decode)
    error: str | None = None
    if reason is not None:
        of = f" of {declared_frames}" if declared_frames else ""
        verb = "decoding" if decode else "reading"
        error = f"{verb} failed after {decoded}{of} frames: {reason}"

    if rate:
        fps: float | None = float(Fraction(rate))
    elif duration and decoded:
        fps = decoded / duration
    else:
        fps = None
    if duration is None and last_time is not None and fps:
        duration = last_time + 1 / fps
    measured["duration"] = round(duration, 3) if duration is not None else None
    measured["fps"] = round(fps, 3) if fps is not None else None
    measured["frames"] = decoded

    if error is None:
        error = _stopped_early(
            decoded, declared_frames, last_time, duration, fps, verb="decoded" if decode else "read"
        )
    measured["decodes_fully"] = error is None
    measured["error"] = error
    return measured


def _stopped_early(
    decoded: int,
    declared_frames: int,
    last_time: float | None,
    duration: float | None,
    fps: float | None,
    *,
    verb: str = "decoded",
) -> str | None:
    """Why the decode counts as stopping early, or None. The demuxer reads a cut file to its
    physical end without raising, so the only sign is falling short of what the index says."""
    if declared_frames and decoded < declared_frames:
        reached = f" ({last_time:.2f} s of {duration:.2f} s)" if last_time and duration else ""
        return (
            f"stops early: {verb} {decoded} of {declared_frames} frames{reached}; "
            "the file is probably truncated"
        )
    if decoded == 0:
        return f"no frame could be {verb}"
    # no frame count in the index: the last frame must reach within ~2 frames of the end
    if (
        not declared_frames
        and last_time is not None
        and duration
        and fps
        and last_time + 1 / fps < duration - 2 / fps
    ):
        return (
            f"stops early: the last frame is at {last_time:.2f} s of {duration:.2f} s; "
            "the file is probably truncated"
        )
    return None


def video_fps(path: str | os.PathLike[str]) -> float | None:
    """The average frame rate of the first video stream at ``path``, read from the
    container (nothing is decoded); None when PyAV is missing, the file cannot be read or
    it names no rate."""
    try:
        import av
    except ImportError:
        return None
    try:
        with av.open(str(path)) as container:
            rate = container.streams.video[0].average_rate
            return float(rate) if rate else None
    except Exception:  # an unreadable file just means no known rate
        return None


def poster_jpeg(path: str | os.PathLike[str], *, max_width: int = 320) -> bytes | None:
    """The first frame of ``path`` as JPEG bytes, at most ``max_width`` pixels wide; None
    when PyAV is missing or the file cannot be decoded (a missing poster is never an
    error)."""
    try:
        import av
    except ImportError:
        return None
    try:
        with av.open(str(path)) as container:
            frame = next(container.decode(video=0), None)
            if frame is None:
                return None
            return _encode_jpeg(av, frame, max_width) or None
    except Exception as exc:  # a broken or odd file must not break a display
        log.debug("no poster for %s: %s", path, exc)
        return None


def _encode_jpeg(av: Any, frame: Any, max_width: int) -> bytes:
    width, height = frame.width, frame.height
    if width > max_width:
        height = max(2, round(height * max_width / width))
        width = max_width
    # MJPEG wants even dimensions with 4:2:0 chroma.
    width, height = width - width % 2 or 2, height - height % 2 or 2
    codec = av.CodecContext.create("mjpeg", "w")
    codec.width, codec.height = width, height
    codec.pix_fmt = "yuvj420p"
    codec.time_base = Fraction(1, 25)
    small = frame.reformat(width=width, height=height, format="yuvj420p")
    packets = list(codec.encode(small)) + list(codec.encode(None))
    return b"".join(bytes(packet) for packet in packets)


def rgb_frames(path: str | os.PathLike[str], *, fit: tuple[int, int]) -> Any:
    """Decode the first video stream of ``path`` frame by frame: an iterator of ``(seconds,
    uint8 array of shape (h, w, 3))``, each frame scaled to fit inside ``fit`` (width,
    height) keeping its aspect ratio, with even sides. The grid export reads cells through
    it. Raises ``ImportError`` when PyAV is missing and PyAV's errors when the file cannot
    be read (the caller decides what a broken cell shows)."""
    av = _import_av()
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        ctx = stream.codec_context
        scale = min(fit[0] / max(1, ctx.width), fit[1] / max(1, ctx.height))
        width = max(2, int(ctx.width * scale) // 2 * 2)
        height = max(2, int(ctx.height * scale) // 2 * 2)
        for index, frame in enumerate(container.decode(stream)):
            seconds = float(frame.time) if frame.time is not None else index / 24.0
            yield seconds, frame.to_ndarray(width=width, height=height, format="rgb24")
