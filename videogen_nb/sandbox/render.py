"""Render the sandbox's videos: real H.264 MP4s that show what was asked for.

Text-to-video draws a small animated scene from the prompt's words and the seed (palette,
ground, things that move: ``scene_words``) in the model's own look (``scene_looks``: film,
cinema, dream, poster, pixel; one neutral look for every model in a blind render), with the
prompt, model and seed in a caption band. Image-to-video slowly pans and zooms the
given image and cross-fades to ``last_image`` when there is one. ``-audio`` models get an
AAC tone. Renders are cached by content key, so many identical tasks cost one render.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import concurrent.futures
import functools
import hashlib
import io
import os
import tempfile
import textwrap
import urllib.parse
import urllib.request
from collections import OrderedDict

import attrs

from .scene import Scene
from .scene_looks import look_for
from .scene_words import recipe_for

__all__ = [
    "RenderCache",
    "RenderSpec",
    "decode_image_bytes",
    "render_mp4",
]

_MAX_FETCH_BYTES = 20 * 1024 * 1024
_AUDIO_RATE = 24000


def _even(value: int) -> int:
    return max(16, int(value) // 2 * 2)


@attrs.define(frozen=True, kw_only=True)
class RenderSpec:
    """What one video shows. ``image``/``last_image`` are encoded image bytes or a URL string."""

    prompt: str
    model: str
    seed: int | None = None
    width: int = attrs.field(default=640, converter=_even)
    height: int = attrs.field(default=360, converter=_even)
    duration: float = 5.0
    fps: int = 12
    audio: bool = False
    image: bytes | str | None = attrs.field(default=None, repr=False)
    last_image: bytes | str | None = attrs.field(default=None, repr=False)
    #: False for a blind comparison: no model name, and colour and tone from the seed only
    marks: bool = True

    @property
    def mark(self) -> str:
        """What tells the model apart in the picture and sound ("" when blind)."""
        return self.model if self.marks else ""

    @property
    def frame_count(self) -> int:
        """How many video frames the render holds (at least one)."""
        return max(1, round(self.duration * self.fps))

    def key(self) -> str:
        """A content key: equal for specs that render the same bytes."""
        h = hashlib.sha256()
        for part in (
            self.prompt,
            self.model,
            repr(self.seed),
            f"{self.width}x{self.height}",
            repr(self.duration),
            str(self.fps),
            str(self.audio),
            str(self.marks),
        ):
            h.update(part.encode("utf-8", "surrogatepass") + b"\0")
        for media in (self.image, self.last_image):
            if media is None:
                h.update(b"-\0")
            elif isinstance(media, str):
                h.update(b"u" + media.encode() + b"\0")
            else:
                h.update(b"b" + hashlib.sha256(media).digest() + b"\0")
        return h.hexdigest()


def decode_image_bytes(value: str) -> bytes | None:
    """Bytes of a data URI or raw base64 string; ``None`` when ``value`` is a URL."""
    if value.startswith(("http://", "https://")):
        return None
    payload = value
    if value.startswith("data:"):
        header, sep, payload = value.partition(",")
        if not sep or ";base64" not in header:
            raise ValueError("data URI is not base64-encoded")
    try:
        return base64.b64decode(payload.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"not valid base64 ({exc})") from None


@functools.lru_cache(maxsize=16)
def _font(size: int):  # -> ImageFont
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError):  # Pillow without FreeType: fixed bitmap font
        return ImageFont.load_default()


def _placeholder(url: str, size: tuple[int, int]):  # -> PIL.Image
    from PIL import Image, ImageDraw

    w, h = size
    img = Image.new("RGB", size, (90, 90, 90))
    draw = ImageDraw.Draw(img)
    step = max(8, w // 16)
    for x in range(-h, w, step * 2):
        draw.polygon([(x, 0), (x + step, 0), (x + step + h, h), (x + h, h)], fill=(110, 110, 110))
    host = urllib.parse.urlsplit(url).netloc or url[:40]
    draw.text((8, h // 2), f"image: {host}", fill=(235, 235, 235), font=_font(max(10, h // 16)))
    return img


def _fetch_local(url: str) -> bytes | None:
    # Only loopback URLs are fetched: the sandbox must never reach out to the internet.
    host = urllib.parse.urlsplit(url).hostname
    if host not in ("127.0.0.1", "localhost", "::1"):
        return None
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.read(_MAX_FETCH_BYTES + 1)[:_MAX_FETCH_BYTES]
    except OSError:
        return None


def _load_image(media: bytes | str, size: tuple[int, int]):  # -> PIL.Image (RGB)
    from PIL import Image

    data = media if isinstance(media, bytes) else _fetch_local(media)
    if data is None:
        return _placeholder(str(media), size)
    try:
        with Image.open(io.BytesIO(data)) as img:
            return img.convert("RGB")
    except OSError:
        return _placeholder("undecodable image", size)


def _cover(img, size: tuple[int, int]):  # -> PIL.Image of exactly `size`
    from PIL import Image

    w, h = size
    scale = max(w / img.width, h / img.height)
    resized = img.resize(
        (max(w, round(img.width * scale)), max(h, round(img.height * scale))),
        Image.Resampling.BILINEAR,
    )
    left = (resized.width - w) // 2
    top = (resized.height - h) // 2
    return resized.crop((left, top, left + w, top + h))


def _caption_lines(spec: RenderSpec, width: int, font_px: int) -> list[str]:
    chars = max(12, int(width / (font_px * 0.56)))
    lines = textwrap.wrap(spec.prompt or "(no prompt)", chars)[:3]
    seed = "-" if spec.seed is None else str(spec.seed)
    if not spec.marks:
        return [*lines, f"seed: {seed}"]
    return [*lines, f"model: {spec.model}   seed: {seed}"]


def _text_layer(spec: RenderSpec, band_only: bool):  # -> (RGB base, mask) as numpy arrays
    """The static text; for image-to-video only a small band at the bottom is covered."""
    import numpy as np
    from PIL import Image, ImageDraw

    w, h = spec.width, spec.height
    font_px = max(9, min(w, h) // (17 if band_only else 18))
    font = _font(font_px)
    lines = _caption_lines(spec, w, font_px)
    if band_only:
        lines = lines[-1:] if h < 200 else [lines[0], lines[-1]]
    layer = Image.new("RGB", (w, h), (0, 0, 0))
    mask = Image.new("L", (w, h), 0)
    line_h = int(font_px * 1.3)
    if band_only:
        top = h - line_h * len(lines) - 6
        ImageDraw.Draw(mask).rectangle((0, top - 4, w, h), fill=140)
    else:
        top = max(4, (h - line_h * len(lines)) // 2)
    draw, mdraw = ImageDraw.Draw(layer), ImageDraw.Draw(mask)
    for i, line in enumerate(lines):
        y = top + i * line_h
        draw.text((8, y), line, fill=(255, 255, 255), font=font)
        mdraw.text((8, y), line, fill=255, font=font)
    return np.asarray(layer, dtype=np.float32), np.asarray(mask, dtype=np.float32)[
        ..., None
    ] / 255.0


def _scene_frames(spec: RenderSpec):  # -> Iterator[numpy uint8 HxWx3]
    """The text-to-video frames: the prompt's scene in the model's look, captioned."""
    import numpy as np

    look = look_for(spec.model, marks=spec.marks)
    scene = Scene(
        recipe_for(spec.prompt, spec.seed),
        look,
        spec.width,
        spec.height,
        spec.fps,
        spec.frame_count,
    )
    text_rgb, text_mask = _text_layer(spec, band_only=True)
    # Only the caption band is blended: the rows above it carry no text.
    rows = np.flatnonzero(text_mask.reshape(spec.height, -1).max(axis=1))
    top = int(rows[0]) if rows.size else spec.height
    text_rgb, text_mask = text_rgb[top:], text_mask[top:]
    for i in range(spec.frame_count):
        frame = scene.frame(i)
        band = frame[top:].astype(np.float32)
        frame[top:] = (band * (1.0 - text_mask) + text_rgb * text_mask).astype(np.uint8)
        yield frame


def _frames(spec: RenderSpec):  # -> Iterator[numpy uint8 HxWx3]
    if spec.image is None:
        return _scene_frames(spec)
    return _image_frames(spec, spec.image)


def _image_frames(spec: RenderSpec, image: bytes | str):  # -> Iterator[numpy uint8 HxWx3]
    """Image-to-video: pan and zoom the image, cross-fade to ``last_image`` if any."""
    import numpy as np
    from PIL import Image

    w, h, n = spec.width, spec.height, spec.frame_count
    text_rgb, text_mask = _text_layer(spec, band_only=True)
    # Crop to the output ratio with a margin, then pan and zoom inside it.
    first = _cover(_load_image(image, (w, h)), (int(w * 1.2), int(h * 1.2)))
    last = None
    if spec.last_image is not None:
        last = np.asarray(_cover(_load_image(spec.last_image, (w, h)), (w, h)), dtype=np.float32)
    for i in range(n):
        t = i / max(1, n - 1)
        zoom = 1.0 + 0.12 * t
        cw, ch = first.width / 1.2 / zoom, first.height / 1.2 / zoom
        cx = (first.width - cw) * (0.3 + 0.4 * t)
        cy = (first.height - ch) / 2
        frame = np.asarray(
            first.resize((w, h), Image.Resampling.BILINEAR, box=(cx, cy, cx + cw, cy + ch)),
            dtype=np.float32,
        )
        if last is not None:
            alpha = min(1.0, max(0.0, (t - 0.3) / 0.7))
            frame = frame * (1.0 - alpha) + last * alpha
        frame = frame * (1.0 - text_mask) + text_rgb * text_mask
        # A progress line along the top: unmistakably a moving picture.
        frame[: max(2, h // 40), : max(1, int(w * t))] = (255, 255, 255)
        yield np.clip(frame, 0, 255).astype(np.uint8)


def _tone(spec: RenderSpec):  # -> numpy float32 (1, samples)
    import numpy as np

    digest = hashlib.sha256(f"{spec.mark}|{spec.seed}".encode()).digest()
    freq = 220.0 + digest[3] * 2.0
    samples = int(spec.frame_count / spec.fps * _AUDIO_RATE)
    t = np.arange(samples, dtype=np.float32) / _AUDIO_RATE
    return (0.2 * np.sin(2 * np.pi * freq * t)).astype(np.float32).reshape(1, -1)


def render_mp4(spec: RenderSpec) -> bytes:
    """Encode ``spec`` as an H.264 (yuv420p) MP4 with the moov atom first; blocking."""
    import av

    fd, path = tempfile.mkstemp(prefix="videogen-sandbox-", suffix=".mp4")
    os.close(fd)
    try:
        # faststart re-reads the file for its second pass, so it needs a real path.
        with av.open(path, "w", format="mp4", options={"movflags": "+faststart"}) as out:
            video = out.add_stream(
                "libx264", rate=spec.fps, options={"crf": "30", "preset": "ultrafast"}
            )
            video.width, video.height, video.pix_fmt = spec.width, spec.height, "yuv420p"
            audio = out.add_stream("aac", rate=_AUDIO_RATE, layout="mono") if spec.audio else None
            for array in _frames(spec):
                vframe = av.VideoFrame.from_ndarray(array, format="rgb24")
                out.mux(video.encode(vframe))
            out.mux(video.encode(None))
            if audio is not None:
                tone, pts, chunk = _tone(spec), 0, 1024
                for start in range(0, tone.shape[1], chunk):
                    piece = tone[:, start : start + chunk]
                    aframe = av.AudioFrame.from_ndarray(piece, format="fltp", layout="mono")
                    aframe.sample_rate, aframe.pts = _AUDIO_RATE, pts
                    pts += piece.shape[1]
                    out.mux(audio.encode(aframe))
                out.mux(audio.encode(None))
        with open(path, "rb") as fh:
            return fh.read()
    finally:
        os.unlink(path)


class RenderCache:
    """Renders on an executor, once per content key, keeping recent results in memory.

    Lives on one event loop; ``get`` is awaited from that loop only.
    """

    def __init__(self, *, max_bytes: int = 256 * 1024 * 1024, workers: int = 2) -> None:
        self._done: OrderedDict[str, bytes] = OrderedDict()
        self._pending: dict[str, asyncio.Future[bytes]] = {}
        self._max_bytes = max_bytes
        self._bytes = 0
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=workers, thread_name_prefix="sandbox-render"
        )
        self.renders = 0
        self.hits = 0

    def cached(self, spec: RenderSpec) -> bool:
        """Whether ``spec`` is rendered already."""
        return spec.key() in self._done

    def prefetch(self, spec: RenderSpec) -> None:
        """Start rendering ``spec`` in the background if it is not rendered or rendering."""
        key = spec.key()
        if key not in self._done and key not in self._pending:
            self._start(key, spec)

    async def get(self, spec: RenderSpec) -> bytes:
        """The MP4 bytes of ``spec``, rendering them at most once."""
        key = spec.key()
        data = self._done.get(key)
        if data is not None:
            self.hits += 1
            self._done.move_to_end(key)
            return data
        fut = self._pending.get(key) or self._start(key, spec)
        return await asyncio.shield(fut)

    def _start(self, key: str, spec: RenderSpec) -> asyncio.Future[bytes]:
        loop = asyncio.get_running_loop()
        fut = loop.run_in_executor(self._executor, render_mp4, spec)
        self._pending[key] = fut
        self.renders += 1

        def finished(f: asyncio.Future[bytes]) -> None:
            self._pending.pop(key, None)
            if f.cancelled() or f.exception() is not None:
                return
            self._store(key, f.result())

        fut.add_done_callback(finished)
        return fut

    def _store(self, key: str, data: bytes) -> None:
        self._done[key] = data
        self._bytes += len(data)
        while self._bytes > self._max_bytes and len(self._done) > 1:
            _, old = self._done.popitem(last=False)
            self._bytes -= len(old)

    def close(self) -> None:
        """Stop the render threads (renders under way finish first)."""
        self._executor.shutdown(wait=True, cancel_futures=True)
