"""Fetch a finished video to disk: streamed, resumable, size- and type-checked, atomic.

``stream_to_file`` writes to ``.{name}.part`` beside the destination (or to the ``part``
file its caller names, in the same folder), fsyncs it, renames it into place and fsyncs the
folder, so a file under the final name is always complete, and on disk once the call
returns; on any failure the part file is removed. The body is never held in memory (one chunk at a time). A transfer that
breaks is resumed with ``Range: bytes=N-`` when the server supports ranges (``If-Range``
guards against the file changing in between); a server that answers a range request with
200 sends the whole file, and the download starts over.

A server that trickles cannot hold a download for good (each chunk would restart the read
timeout): ``DownloadPace`` sets a minimum throughput over a window and an overall deadline
scaled to the announced size, and ``DownloadTooSlowError`` says which was hit.

``safe_output_path`` builds the destination from a toolkit-made stem: nothing a server
says ever becomes a file name.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import pathlib
import re
from collections.abc import Callable, Mapping

import aiohttp
import attrs

from ..core.errors import (
    APIConnectionError,
    DownloadError,
    DownloadExpiredError,
    DownloadTooSlowError,
    ValidationError,
)
from ..core.text import shorten
from ..core.urls import redact_url
from .failures import is_transient
from .pace import DownloadPace, PaceMeter, download_pace, read_within, set_download_pace
from .retry import parse_retry_after
from .scrub import scrub_sent_key
from .transport import Transport

__all__ = [
    "ACCEPTED_CONTENT_TYPES",
    "DownloadExpiredError",
    "DownloadInfo",
    "DownloadPace",
    "DownloadTooSlowError",
    "download_pace",
    "safe_output_path",
    "set_download_pace",
    "stream_to_file",
]

logger = logging.getLogger("videogen_nb.download")

#: Media types accepted besides ``video/*`` (and a missing Content-Type).
ACCEPTED_CONTENT_TYPES = frozenset(
    {
        "application/octet-stream",
        "binary/octet-stream",
        "application/mp4",
        "application/binary",
        "application/force-download",
    }
)

_EXPIRED_STATUSES = frozenset({403, 404, 410})
_MAX_STEM = 120
_SUFFIX_RE = re.compile(r"^\.[A-Za-z0-9]{1,10}$")
_CONTENT_RANGE_RE = re.compile(r"^\s*bytes\s+(\d+)-(\d+)/(\d+|\*)\s*$", re.IGNORECASE)


@attrs.define(frozen=True, kw_only=True)
class DownloadInfo:
    """A finished download: where it is, how big, its SHA-256, and what the server called it."""

    path: pathlib.Path
    size: int
    sha256: str
    content_type: str | None
    url: str = attrs.field(repr=redact_url)
    #: how many times a broken transfer was picked up again (by Range or from the start)
    resumes: int = 0


def safe_output_path(
    output_dir: str | os.PathLike[str], stem: str, suffix: str = ".mp4"
) -> pathlib.Path:
    """A path for ``stem + suffix`` that is guaranteed to sit directly inside ``output_dir``.

    The stem is reduced to ``[A-Za-z0-9._-]`` (other characters become ``_``), leading dots
    are dropped (no hidden files, no ``..``) and it is capped at 120 characters. Raises
    ``ValidationError`` for a bad suffix or if the result would resolve outside
    ``output_dir`` (a symlink pointing elsewhere, for instance).

    >>> safe_output_path("/tmp/out", "kling v2/../x:1").name
    'kling_v2_.._x_1.mp4'
    """
    if not _SUFFIX_RE.match(suffix):
        raise ValidationError(
            "suffix", f"must look like '.mp4' (a dot and 1-10 letters or digits), got {suffix!r}"
        )
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", str(stem))
    cleaned = cleaned.lstrip(".")[:_MAX_STEM].rstrip(". ")
    if not cleaned.strip("_-"):
        cleaned = "video"
    base = pathlib.Path(output_dir).expanduser().resolve()
    candidate = base / f"{cleaned}{suffix}"
    # ``base`` is resolved already: only the name itself can still lead elsewhere (a
    # symlink), so one lstat here instead of resolving every component a second time
    if candidate.is_symlink():
        candidate = candidate.resolve()
    if candidate.parent != base:
        raise ValidationError(
            "output_dir", f"the file name {cleaned + suffix!r} resolves outside {str(base)!r}"
        )
    return candidate


def _media_type(value: str | None) -> str | None:
    if value is None:
        return None
    media = value.split(";", 1)[0].strip().lower()
    return media or None


def _is_acceptable_type(media: str | None) -> bool:
    return media is None or media.startswith("video/") or media in ACCEPTED_CONTENT_TYPES


def _parse_content_range(value: str | None) -> tuple[int, int, int | None] | None:
    if not value:
        return None
    match = _CONTENT_RANGE_RE.match(value)
    if not match:
        return None
    start, end, total = match.groups()
    return int(start), int(end), None if total == "*" else int(total)


async def _quote_body(resp: aiohttp.ClientResponse, limit: int = 200) -> str:
    """The first ``limit`` characters the server sent, for an error message."""
    try:
        raw = await resp.content.read(limit * 4)
    except (aiohttp.ClientError, asyncio.TimeoutError, OSError):
        return "(body unreadable)"
    text = raw.decode(resp.charset or "utf-8", errors="replace")
    # a gateway that echoes the key must not put it into an error message
    text = scrub_sent_key(resp.request_info.headers, text)
    return shorten(text, limit) or "(empty body)"


class _Broken(Exception):
    """The transfer stopped early; the loop may pick it up again (from 0 when ``restart``)."""

    def __init__(self, reason: str, *, restart: bool = False) -> None:
        super().__init__(reason)
        self.restart = restart


class _Retryable(Exception):
    """A 429/5xx answer before any body was read; ``retry_after`` is what the server asked."""

    def __init__(self, status: int, retry_after: float | None) -> None:
        super().__init__(status)
        self.status = status
        self.retry_after = retry_after


class _Part:
    """The ``.part`` file, with the running hash of what it holds."""

    def __init__(self, path: pathlib.Path) -> None:
        self.path = path
        self.handle = open(path, "wb")  # noqa: SIM115 - closed by finish()/discard()
        self.hasher = hashlib.sha256()
        self.size = 0
        self.finishing = False

    def restart(self) -> None:
        self.handle.seek(0)
        self.handle.truncate()
        self.hasher = hashlib.sha256()
        self.size = 0

    def write(self, chunk: bytes) -> None:
        self.handle.write(chunk)
        self.hasher.update(chunk)
        self.size += len(chunk)

    async def finish(self, dest: pathlib.Path) -> None:
        # fsync can take a while for a big file: do it off the loop. Once started, the
        # thread owns the handle and completes even if we are cancelled (the file it
        # leaves under the final name is then complete), so discard() must keep out.
        self.finishing = True
        await asyncio.shield(asyncio.to_thread(self._finish_sync, dest))

    def _finish_sync(self, dest: pathlib.Path) -> None:
        try:
            try:
                self.handle.flush()
                os.fsync(self.handle.fileno())
            finally:
                self.handle.close()
            os.replace(self.path, dest)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
            raise
        _fsync_dir(dest.parent)

    def discard(self) -> None:
        if self.finishing:
            return
        with contextlib.suppress(OSError):
            self.handle.close()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


def _fsync_dir(directory: pathlib.Path) -> None:
    # makes the rename itself durable; not possible on every platform, and not vital
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


async def stream_to_file(
    transport: Transport,
    url: str,
    dest: pathlib.Path,
    *,
    max_bytes: int = 2 * 1024**3,
    chunk_size: int = 1 << 20,
    resume_attempts: int = 3,
    auth: bool | None = None,
    progress: Callable[[int, int | None], None] | None = None,
    pace: DownloadPace | None = None,
    part: os.PathLike[str] | str | None = None,
) -> DownloadInfo:
    """Download ``url`` to ``dest`` atomically and return what was written.

    ``url`` may be absolute (a vendor CDN) or a gateway path (``/v1/videos/{id}/content``).
    The bearer key goes only to the gateway's origin unless ``auth`` says otherwise.
    ``progress(done_bytes, total_bytes_or_None)`` is called after every chunk. ``pace``
    (default: ``download_pace()``, set by ``set_download_pace``) bounds how slow the
    transfer may be. ``part`` names the file the bytes go to until they are complete
    (default ``.{dest name}.part``); it must be in ``dest``'s folder, so the one rename
    onto ``dest`` is atomic and the folder's sync covers it.

    Raises ``DownloadExpiredError`` on 403/404/410, ``DownloadTooSlowError`` under the
    minimum throughput or past the deadline, ``DownloadError`` for a body that is too
    big, not a video, or still broken after ``resume_attempts`` resumptions, and for
    answers that stay 429/5xx or unreachable through the transport's retry policy.

    >>> # info = await stream_to_file(transport, task.video_url, safe_output_path("out", "run1_0"))
    """
    download = _Download(
        transport,
        transport.url_for(url),
        pathlib.Path(dest),
        max_bytes=max_bytes,
        chunk_size=chunk_size,
        resume_attempts=resume_attempts,
        auth=auth,
        progress=progress,
        pace=pace or download_pace(),
        part=pathlib.Path(part) if part is not None else None,
    )
    return await download.run()


class _Download:
    """One ``stream_to_file`` call: the passes over the URL and what they have learnt."""

    def __init__(
        self,
        transport: Transport,
        full_url: str,
        dest: pathlib.Path,
        *,
        max_bytes: int,
        chunk_size: int,
        resume_attempts: int,
        auth: bool | None,
        progress: Callable[[int, int | None], None] | None,
        pace: DownloadPace,
        part: pathlib.Path | None = None,
    ) -> None:
        self.transport = transport
        self.full_url = full_url
        self.shown = redact_url(full_url)
        self.dest = dest
        self.part_path = part if part is not None else dest.with_name(f".{dest.name}.part")
        if self.part_path.parent != dest.parent:
            raise ValidationError("part", f"must be a file in {dest.parent}, beside the video")
        self.max_bytes = max_bytes
        self.chunk_size = chunk_size
        self.resume_attempts = resume_attempts
        self.auth = auth
        self.progress = progress
        self.policy = transport.retry
        self.open_failures = 0  # answers of 429/5xx, or no connection at all
        self.breaks = 0  # transfers that stopped part-way
        self.total: int | None = None
        self.validator: str | None = None  # ETag or Last-Modified for If-Range
        self.ranges_ok = False
        self.content_type: str | None = None
        self.meter = PaceMeter(pace, self.shown, full_url)

    async def run(self) -> DownloadInfo:
        """Pass over the URL until the file is complete or a failure is final."""
        if not self.dest.parent.is_dir():  # one stat, not a failed mkdir, per video
            self.dest.parent.mkdir(parents=True, exist_ok=True)
        part = _Part(self.part_path)
        try:
            while True:
                self.meter.check(part.size)  # the deadline covers waits and resumptions
                try:
                    return await self._one_pass(part)
                except _Retryable as wait:
                    await self._wait_after_refusal(wait)
                except APIConnectionError as exc:
                    await self._wait_after_no_connection(exc)
                except (
                    _Broken,
                    aiohttp.ClientPayloadError,
                    aiohttp.ClientConnectionError,
                    asyncio.TimeoutError,
                ) as exc:
                    self._note_break(exc, part)
        except BaseException:
            part.discard()
            raise

    def _request_headers(self, part: _Part) -> dict[str, str]:
        headers = {"Accept-Encoding": "identity"}
        if part.size > 0:
            headers["Range"] = f"bytes={part.size}-"
            if self.validator:
                headers["If-Range"] = self.validator
        return headers

    async def _one_pass(self, part: _Part) -> DownloadInfo:
        """One GET: the whole body, or the rest of it after a break; then the file in place."""
        resuming = part.size > 0
        headers = self._request_headers(part)
        async with self.transport.stream(self.full_url, headers=headers, auth=self.auth) as resp:
            await _check_status(resp, self.shown)
            await self._accept_answer(resp, part, resuming)
            self.meter.expect(self.total)
            await self._copy_body(resp, part)
        if self.total is not None and part.size < self.total:
            raise _Broken(f"the body ended at {part.size} of {self.total} bytes")
        await part.finish(self.dest)
        return DownloadInfo(
            path=self.dest,
            size=part.size,
            sha256=part.hasher.hexdigest(),
            content_type=_media_type(self.content_type),
            url=self.full_url,
            resumes=self.breaks,
        )

    async def _accept_answer(
        self, resp: aiohttp.ClientResponse, part: _Part, resuming: bool
    ) -> None:
        """Check the type and size of a 200/206 answer and learn its total and validator."""
        shown = self.shown
        self.content_type = resp.headers.get("Content-Type") or self.content_type
        media = _media_type(resp.headers.get("Content-Type"))
        if not _is_acceptable_type(media):
            said = await _quote_body(resp)
            raise DownloadError(
                f"{shown} answered with {media}, not a video: {said!r}", url=self.full_url
            )
        if resp.status == 206:
            self.total = _accept_partial(resp, part, self.total, shown)
            self.ranges_ok = True
        else:
            if resuming:
                logger.info("%s ignored the Range request; starting over", shown)
            part.restart()
            self.total = resp.content_length
            self.ranges_ok = (resp.headers.get("Accept-Ranges") or "").lower() == "bytes"
            self.validator = _strong_validator(resp.headers)
        if self.total is not None and self.total > self.max_bytes:
            raise DownloadError(
                f"{shown} is {self.total} bytes, over the {self.max_bytes}-byte limit "
                "(raise max_bytes to allow it)",
                url=self.full_url,
            )

    async def _wait_after_refusal(self, wait: _Retryable) -> None:
        """A 429/5xx answer: wait as the retry policy says, or give up."""
        self.open_failures += 1
        policy = self.policy
        if self.open_failures >= policy.max_attempts or policy.exceeds_limit(wait.retry_after):
            raise DownloadError(
                f"{self.shown} kept answering {wait.status} after {self.open_failures} attempts",
                url=self.full_url,
            ) from None
        await asyncio.sleep(policy.delay(self.open_failures, retry_after=wait.retry_after))

    async def _wait_after_no_connection(self, exc: APIConnectionError) -> None:
        """Could not even connect: the transport's retry policy paces these."""
        self.open_failures += 1
        if not is_transient(exc) or self.open_failures >= self.policy.max_attempts:
            raise DownloadError(f"{exc}", url=self.full_url) from exc
        await asyncio.sleep(self.policy.delay(self.open_failures))

    async def _copy_body(self, resp: aiohttp.ClientResponse, part: _Part) -> None:
        """Stream the body into ``part``, checking size and pace between chunks.

        Each wait for data is bounded by the next pace check, so a server that sends
        nothing, or a byte at a time, is caught at the end of the window, not never.
        """
        meter = self.meter
        meter.start_window(part.size)
        while True:
            chunk = await read_within(resp.content, self.chunk_size, meter.seconds_to_next_check())
            meter.check(part.size)
            if chunk is None:
                continue
            if not chunk:
                return
            if part.size + len(chunk) > self.max_bytes:
                raise DownloadError(
                    f"{self.shown} sent more than the {self.max_bytes}-byte limit "
                    "(raise max_bytes to allow it)",
                    url=self.full_url,
                )
            part.write(chunk)
            if self.progress is not None:
                self.progress(part.size, self.total)

    def _note_break(self, exc: BaseException, part: _Part) -> None:
        """The transfer stopped part-way: resume by range when possible, else start over."""
        self.breaks += 1
        reason = str(exc) or type(exc).__name__
        if self.breaks > self.resume_attempts:
            raise DownloadError(
                f"{self.shown}: the transfer kept breaking ({reason}); gave up after "
                f"{self.resume_attempts} resumptions",
                url=self.full_url,
            ) from None
        if not self.ranges_ok or (isinstance(exc, _Broken) and exc.restart):
            # no byte ranges: the only way to finish is to fetch it all again
            part.restart()
        logger.info(
            "%s broke at %d bytes (%s); %s",
            self.shown,
            part.size,
            reason,
            "resuming" if part.size else "starting over",
        )


def _strong_validator(headers: Mapping[str, str]) -> str | None:
    """The ETag unless it is weak, else Last-Modified: what ``If-Range`` may carry."""
    etag = headers.get("ETag")
    if etag and not etag.startswith("W/"):
        return etag
    return headers.get("Last-Modified")


def _accept_partial(
    resp: aiohttp.ClientResponse, part: _Part, total: int | None, shown: str
) -> int | None:
    parsed = _parse_content_range(resp.headers.get("Content-Range"))
    if parsed is None or parsed[0] != part.size:
        # a range we did not ask for: safer to fetch the whole file again
        raise _Broken(
            f"unexpected Content-Range {resp.headers.get('Content-Range')!r}", restart=True
        )
    _start, _end, full = parsed
    if full is not None:
        return full
    if resp.content_length is not None:
        return part.size + resp.content_length
    return total


async def _check_status(resp: aiohttp.ClientResponse, shown: str) -> None:
    """Return for 200/206; raise a refusal, or ``_Retryable`` for 429/5xx."""
    status = resp.status
    if status in (200, 206):
        return
    if status in _EXPIRED_STATUSES:
        said = await _quote_body(resp)
        raise DownloadExpiredError(
            f"{shown} answered {status}: the link expired or is not valid ({said!r})",
            url=str(resp.url),
            status_code=status,
        )
    if status == 416:
        raise _Broken("the server refused the byte range (416)", restart=True)
    if status == 429 or (status >= 500 and status not in (501, 505)):
        raise _Retryable(status, parse_retry_after(resp.headers.get("Retry-After")))
    said = await _quote_body(resp)
    raise DownloadError(f"{shown} answered {status}: {said!r}", url=str(resp.url))
