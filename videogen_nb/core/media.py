"""Turn whatever a user holds into an image string a gateway accepts.

Gateways take an image as an http(s) URL or as base64 (a ``data:`` URI is the form every
one of them understands). Users hold URLs, data URIs, raw base64, local files, bytes or PIL
images. :func:`normalize_media` maps all of those onto a URL (passed through untouched,
never fetched) or a ``data:<mime>;base64,...`` URI whose MIME type comes from the bytes
themselves, so a PNG saved as ``photo.jpg`` is still sent as ``image/png``.

>>> normalize_media("https://example.com/cat.png", "image")
'https://example.com/cat.png'
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import io
import os
import pathlib
import re
import stat
import sys
import urllib.parse
from typing import Any

from .checks import require_utf8
from .errors import ValidationError
from .text import shorten

__all__ = [
    "DEFAULT_MAX_IMAGE_BYTES",
    "decode_data_uri",
    "describe_media",
    "is_url",
    "max_image_bytes",
    "normalize_media",
    "set_max_image_bytes",
    "sniff_image_mime",
]

#: The default limit on one image's decoded size: 10 MB (10 * 1024 * 1024 bytes).
DEFAULT_MAX_IMAGE_BYTES = 10 * 1024 * 1024

_max_image_bytes = DEFAULT_MAX_IMAGE_BYTES

_ACCEPTED = (
    "give an http(s) URL, a data URI, base64 image data, a pathlib.Path or path of a local "
    "image file, bytes, or a PIL image"
)

# Strings with a "." or "\\" (never in base64) or a leading "~" or "/" look like paths: when
# they are not an existing file they get "no such file", the likelier mistake.
_PATHISH = re.compile(r"[.\\]|^[~/]")
_BASE64_CHARS = re.compile(r"[A-Za-z0-9+/=_\-\s]+")


def set_max_image_bytes(n: int) -> None:
    """Set the largest image (decoded bytes) that media fields accept, for this process.

    >>> set_max_image_bytes(20 * 1024 * 1024); max_image_bytes()
    20971520
    >>> set_max_image_bytes(DEFAULT_MAX_IMAGE_BYTES)
    """
    global _max_image_bytes
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValidationError(
            "max_image_bytes", f"must be a positive whole number of bytes, got {n!r}"
        )
    _max_image_bytes = n


def max_image_bytes() -> int:
    """The current limit on one image's decoded size, in bytes (default 10 MB)."""
    return _max_image_bytes


def is_url(value: str) -> bool:
    """True when ``value`` is an ``http://`` or ``https://`` URL with a host."""
    if not isinstance(value, str) or not value[:8].lower().startswith(("http://", "https://")):
        return False
    try:
        return bool(urllib.parse.urlsplit(value).netloc)
    except ValueError:
        return False


def sniff_image_mime(data: bytes) -> str | None:
    """The image MIME type that the leading bytes of ``data`` announce, or None.

    Knows PNG, JPEG, GIF, WEBP, BMP, TIFF, AVIF and HEIC.

    >>> sniff_image_mime(b"\\x89PNG\\r\\n\\x1a\\n" + bytes(8))
    'image/png'
    >>> sniff_image_mime(b"hello") is None
    True
    """
    head = bytes(data[:32])
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "image/webp"
    # "BM" alone would match ordinary text, so the DIB header size must be a real one too.
    if (
        head.startswith(b"BM")
        and len(head) >= 18
        and int.from_bytes(head[14:18], "little") in (12, 16, 40, 52, 56, 64, 108, 124)
    ):
        return "image/bmp"
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return "image/tiff"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"avif", b"avis"):
            return "image/avif"
        if brand in (b"heic", b"heix", b"heim", b"heis", b"mif1"):
            return "image/heic"
    return None


def decode_data_uri(uri: str) -> tuple[str, bytes]:
    """Split a ``data:`` URI into its declared MIME type and decoded bytes.

    Raises ``ValueError`` when ``uri`` is not a well-formed data URI.

    >>> decode_data_uri("data:text/plain;base64,aGk=")
    ('text/plain', b'hi')
    """
    if not uri[:5].lower() == "data:":
        raise ValueError("does not start with 'data:'")
    header, sep, payload = uri[5:].partition(",")
    if not sep:
        raise ValueError("has no ',' between the header and the data")
    params = header.split(";")
    mime = params[0].strip().lower() or "text/plain"
    if any(p.strip().lower() == "base64" for p in params[1:]):
        return mime, _b64decode(payload)
    return mime, urllib.parse.unquote_to_bytes(payload)


def describe_media(value: str, *, limit: int = 48) -> str:
    """A short form of a media string for reprs and logs: data URIs lose their payload.

    >>> describe_media("data:image/png;base64," + "A" * 5000)
    'data:image/png;base64,AAAAAAAAAAAA… (3.7 kB)'
    """
    if isinstance(value, str) and value[:5].lower() == "data:" and len(value) > limit:
        header, _, payload = value.partition(",")
        size = len(payload) * 3 // 4 if "base64" in header.lower() else len(payload)
        return f"{header},{payload[:12]}… ({_human(size)})"
    if isinstance(value, str) and len(value) > 4 * limit:
        return shorten(value, 2 * limit)
    return value


def normalize_media(value: Any, field: str, *, max_bytes: int | None = None) -> str:
    """Return ``value`` as an http(s) URL (untouched) or a ``data:<mime>;base64,...`` URI.

    ``value`` may be a URL, a data URI, raw base64, a ``pathlib.Path`` or path string of a
    local file, ``bytes``/``bytearray``/``memoryview``, or a PIL image. The MIME type is
    sniffed from the content, not the file name. Raises :class:`ValidationError` naming
    ``field`` when the value is not an image, the file is missing, or the image is larger
    than ``max_bytes`` (default :func:`max_image_bytes`).

    >>> normalize_media(b"GIF89a" + bytes(20), "image")[:30]
    'data:image/gif;base64,R0lGODlh'
    """
    limit = max_image_bytes() if max_bytes is None else max_bytes
    if isinstance(value, str):
        return _from_string(value, field, limit)
    if isinstance(value, os.PathLike):
        return _from_path(pathlib.Path(os.fspath(value)), field, limit)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return _to_data_uri(bytes(value), field, limit, what="the bytes")
    if _is_pil_image(value):
        return _from_pil(value, field, limit)
    raise ValidationError(field, f"cannot use a {type(value).__name__} as an image; {_ACCEPTED}")


def _from_string(value: str, field: str, limit: int) -> str:
    text = require_utf8(value.strip(), field)
    if not text:
        raise ValidationError(field, f"is empty; {_ACCEPTED}")
    if is_url(text):
        return text
    lowered = text[:12].lower()
    if lowered.startswith("data:"):
        return _from_data_uri(text, field, limit)
    _refuse_unusable_url(text, lowered, field)
    path = _existing_file(text)
    if path is not None:
        return _from_path(path, field, limit)
    return _from_base64(text, field, limit)


def _refuse_unusable_url(text: str, lowered: str, field: str) -> None:
    """Raise for an http(s) URL without a host and for any other ``scheme://`` URL."""
    if lowered.startswith(("http:", "https:")):
        raise ValidationError(field, f"{describe_media(text)!r} is not a usable URL (no host)")
    scheme = re.match(r"^([a-z][a-z0-9+.\-]*)://", lowered)
    if scheme:
        raise ValidationError(
            field,
            f"{scheme.group(1)}:// URLs are not sent to gateways; use an http(s) URL, or "
            "pass a local file as pathlib.Path",
        )


def _from_data_uri(text: str, field: str, limit: int) -> str:
    try:
        declared, data = decode_data_uri(text)
    except ValueError as exc:
        raise ValidationError(
            field, f"is not a valid data URI ({exc}); expected 'data:image/png;base64,...'"
        ) from None
    return _to_data_uri(data, field, limit, what=f"the data URI (declared {declared})")


def _from_base64(text: str, field: str, limit: int) -> str:
    """Raw base64 of an image; anything else is reported as a missing file or unusable text."""
    looks_like_base64 = len(text) >= 16 and _BASE64_CHARS.fullmatch(text) is not None
    data: bytes | None = None
    if looks_like_base64:
        with contextlib.suppress(ValueError):
            data = _b64decode(text)
    # Real image base64 wins even when it starts like a path ("/9j/" is JPEG); otherwise a
    # path-looking string is reported as a missing file, the likelier mistake.
    if data is not None and sniff_image_mime(data):
        return _to_data_uri(data, field, limit, what="the base64 data")
    if _PATHISH.search(text) or not looks_like_base64:
        raise ValidationError(
            field, f"no such file: {describe_media(text)!r}; check the path, or {_ACCEPTED}"
        )
    if data is not None and len(text) >= 256:
        return _to_data_uri(data, field, limit, what="the base64 data")
    raise ValidationError(
        field,
        f"{describe_media(text)!r} is neither a URL, a data URI, an existing file nor base64 "
        f"of an image; {_ACCEPTED}",
    )


def _existing_file(text: str) -> pathlib.Path | None:
    """The path ``text`` names when something exists there (a file, or a directory, device
    or pipe that ``_from_path`` then refuses by name), else None."""
    if len(text) > 4096 or "\n" in text:
        return None
    try:
        path = pathlib.Path(text).expanduser()
        return path if path.exists() else None
    except (OSError, ValueError, RuntimeError):
        # Long base64 strings make stat() fail with ENAMETOOLONG; NUL bytes raise ValueError;
        # an unknown ~user raises RuntimeError.
        return None


def _from_path(path: pathlib.Path, field: str, limit: int) -> str:
    path = path.expanduser()
    try:
        data = _read_regular_file(path, field, limit)
    except FileNotFoundError:
        raise ValidationError(
            field, f"no such file: {str(path)!r}; check the path, or {_ACCEPTED}"
        ) from None
    except OSError as exc:
        raise ValidationError(field, f"cannot read {str(path)!r}: {exc.strerror or exc}") from None
    return _to_data_uri(data, field, limit, what=f"the file {str(path)!r}")


def _read_regular_file(path: pathlib.Path, field: str, limit: int) -> bytes:
    """At most ``limit`` bytes of the regular file at ``path``, else ``ValidationError``.

    Only a regular file is read: ``/dev/zero`` never ends and a named pipe with no writer
    never answers. The kind is checked before opening (``stat`` neither reads nor blocks),
    the file is opened non-blocking and checked again on the open descriptor (it may have
    been swapped in between), and the read stops one byte past the limit, so a file that
    grows after the check is never loaded whole.
    """
    _require_regular(os.stat(path).st_mode, path, field)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    fd = os.open(path, flags)
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        _require_regular(info.st_mode, path, field)
        # Check the size before reading so that a huge file is never loaded into memory.
        if info.st_size > limit:
            raise ValidationError(field, _too_big(f"the file {str(path)!r}", info.st_size, limit))
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise ValidationError(field, _too_big(f"the file {str(path)!r}", len(data), limit))
    return data


_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a named pipe"),
    (stat.S_ISCHR, "a device"),
    (stat.S_ISBLK, "a device"),
    (stat.S_ISSOCK, "a socket"),
)


def _require_regular(mode: int, path: pathlib.Path, field: str) -> None:
    if stat.S_ISREG(mode):
        return
    kind = next((name for test, name in _KINDS if test(mode)), "not a regular file")
    raise ValidationError(
        field, f"{str(path)!r} is {kind}, not an image file; give the path of a regular file"
    )


def _to_data_uri(data: bytes, field: str, limit: int, *, what: str) -> str:
    if len(data) > limit:
        raise ValidationError(field, _too_big(what, len(data), limit))
    mime = sniff_image_mime(data)
    if mime is None:
        hint = " (it is empty)" if not data else ""
        raise ValidationError(
            field,
            f"{what} is not an image{hint}: expected PNG, JPEG, GIF, WEBP, BMP, TIFF, AVIF or "
            "HEIC content (the type is read from the bytes, not the name)",
        )
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def _b64decode(text: str) -> bytes:
    cleaned = re.sub(r"\s+", "", text)
    if "-" in cleaned or "_" in cleaned:
        cleaned = cleaned.replace("-", "+").replace("_", "/")
    cleaned += "=" * (-len(cleaned) % 4)
    try:
        return base64.b64decode(cleaned, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"invalid base64: {exc}") from None


def _is_pil_image(value: Any) -> bool:
    # Importing PIL just to check would make Pillow a hard dependency; if PIL.Image was never
    # imported, the value cannot be a PIL image.
    pil = sys.modules.get("PIL.Image")
    return pil is not None and isinstance(value, pil.Image)


def _from_pil(image: Any, field: str, limit: int) -> str:
    fmt = (image.format or "").upper()
    # Keep JPEG/WEBP as they are (re-encoding a photo as PNG can multiply its size);
    # anything else is written as lossless PNG.
    if fmt not in ("JPEG", "WEBP", "PNG") or (
        fmt == "JPEG" and image.mode not in ("RGB", "L", "CMYK")
    ):
        fmt = "PNG"
    if fmt == "PNG" and image.mode not in ("1", "L", "LA", "I", "P", "RGB", "RGBA", "I;16"):
        image = image.convert("RGBA")
    buffer = io.BytesIO()
    try:
        image.save(buffer, format=fmt)
    except (OSError, ValueError) as exc:
        raise ValidationError(field, f"could not encode the PIL image as {fmt}: {exc}") from None
    return _to_data_uri(buffer.getvalue(), field, limit, what="the PIL image")


def _too_big(what: str, size: int, limit: int) -> str:
    return (
        f"{what} is {_human(size)}, over the {_human(limit)} limit; send a smaller or more "
        "compressed image, give a URL instead, or raise the limit with "
        "videogen_nb.media.set_max_image_bytes(n)"
    )


def _human(n: int) -> str:
    if n >= 1024 * 1024:
        return f"{n / (1024 * 1024):.1f} MB"
    if n >= 1024:
        return f"{n / 1024:.1f} kB"
    return f"{n} bytes"
