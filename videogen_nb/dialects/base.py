"""What every dialect shares: the ``WireRequest`` it builds and the ``Dialect`` interface.

A dialect turns a ``VideoRequest`` into the HTTP call one family of gateways understands
and names the routes to poll, download and cancel a task. It never sends anything itself:
the client does, so a dialect can be tested by looking at the request it returns.
"""

from __future__ import annotations

import abc
import base64
import binascii
import math
import re
import urllib.parse
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import attrs

from ..core import wire
from ..core.errors import NotSupportedError, ValidationError

if TYPE_CHECKING:
    from ..core.request import VideoRequest
    from ..core.task import Task

__all__ = [
    "Dialect",
    "FormPart",
    "GenerationsRouteDialect",
    "WireRequest",
    "is_dot_segment",
    "quote_id",
]


def _check_path(instance: Any, attribute: attrs.Attribute[Any], value: str) -> None:
    if not value.startswith("/"):
        raise ValueError(f"{attribute.name} must start with '/', got {value!r}")


@attrs.define(frozen=True, kw_only=True)
class FormPart:
    """One part of a ``multipart/form-data`` body.

    A plain field has a ``str`` value; a file has ``bytes``, a ``filename`` and a
    ``content_type``.

    >>> FormPart(name="input_reference", value=b"...", filename="input_reference.png",
    ...          content_type="image/png").is_file
    True
    """

    name: str = attrs.field(validator=attrs.validators.instance_of(str))
    value: str | bytes = attrs.field(validator=attrs.validators.instance_of((str, bytes)))
    filename: str | None = None
    content_type: str | None = None

    @property
    def is_file(self) -> bool:
        """True for a file part (bytes with a filename)."""
        return isinstance(self.value, bytes)

    def __repr__(self) -> str:
        # A file part can be megabytes of image; show its size, not its bytes.
        shown = f"<{len(self.value)} bytes>" if isinstance(self.value, bytes) else repr(self.value)
        extra = ""
        if self.filename is not None:
            extra += f", filename={self.filename!r}"
        if self.content_type is not None:
            extra += f", content_type={self.content_type!r}"
        return f"FormPart(name={self.name!r}, value={shown}{extra})"


def _upper(method: str) -> str:
    return method.upper()


def _check_body(instance: WireRequest, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None and instance.json is not None:
        raise ValueError("a WireRequest carries either json or form, not both")


@attrs.define(frozen=True, kw_only=True)
class WireRequest:
    """One HTTP call as a dialect wants it sent: ``method``, ``path`` and at most one body.

    ``json`` is sent as ``application/json``; ``form`` as ``multipart/form-data`` (the
    client builds the parts in order). Neither holds ``None`` values.

    >>> WireRequest(method="GET", path="/v1/videos/video_1")
    WireRequest(method='GET', path='/v1/videos/video_1', json=None, form=None)
    """

    method: str = attrs.field(converter=_upper)
    path: str = attrs.field(validator=_check_path)
    json: dict[str, Any] | None = None
    form: list[FormPart] | None = attrs.field(default=None, validator=_check_body)


class Dialect(abc.ABC):
    """The wire format of one family of gateways.

    Subclasses set ``name`` and implement the four methods. ``poll_paths`` lists routes in
    preference order: the client tries the next on 404/405 and remembers what worked.
    """

    #: the name ``get_dialect`` knows this dialect by
    name: str = ""

    @abc.abstractmethod
    def build_submit(self, req: VideoRequest) -> WireRequest:
        """The call that creates a task for ``req`` (the request is never modified)."""

    @abc.abstractmethod
    def poll_paths(self, task_id: str) -> list[str]:
        """GET routes that describe the task, best first."""

    @abc.abstractmethod
    def content_path(self, task_id: str) -> str:
        """The GET route that streams the video bytes when the task names no URL."""

    @abc.abstractmethod
    def build_cancel(self, task_id: str) -> WireRequest | None:
        """The call that cancels a running task, or None when the gateways offer none."""

    #: whether ``build_submit`` can send a remix (``VideoRequest.remix_of``)
    supports_remix: bool = False

    def check_remix(self) -> None:
        """Raise ``NotSupportedError`` when this dialect has no remix call."""
        if not self.supports_remix:
            raise NotSupportedError(
                "dialect",
                f"the {self.name} dialect has no remix call; remix needs an OpenAI-style "
                "gateway (dialect='openai': POST /v1/videos/{id}/remix, which new-api, "
                "LiteLLM and OpenAI serve)",
            )

    def models_path(self) -> str:
        """The GET route that lists the gateway's models."""
        return wire.ROUTE_MODELS

    def accepted(self, task: Task, base_url: str) -> None:
        """Learn what a submit answer says about polling ``task`` (OpenRouter names a
        ``polling_url``); most dialects route by the id alone and ignore it."""
        return None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"


# --- helpers shared by the concrete dialects -------------------------------------------------


class GenerationsRouteDialect(Dialect):
    """A dialect that submits to ``/v1/video/generations`` (new-api, its forks, uniall).

    These gateways serve the task under both ``/v1/video/generations/{id}`` and
    ``/v1/videos/{id}``, proxy the file at ``/v1/videos/{id}/content``, and document no
    cancel route for video tasks.
    """

    def poll_paths(self, task_id: str) -> list[str]:
        """``/v1/video/generations/{id}`` then ``/v1/videos/{id}``."""
        segment = quote_id(task_id)
        return [f"{wire.ROUTE_GENERATIONS}/{segment}", f"{wire.ROUTE_VIDEOS}/{segment}"]

    def content_path(self, task_id: str) -> str:
        """``/v1/videos/{id}/content`` (the gateway proxies the vendor's file there)."""
        return f"{wire.ROUTE_VIDEOS}/{quote_id(task_id)}{wire.CONTENT_SUFFIX}"

    def build_cancel(self, task_id: str) -> WireRequest | None:
        """None: no cancel route for video tasks on these gateways."""
        quote_id(task_id)
        return None


def quote_id(task_id: str) -> str:
    """``task_id`` as one URL path segment.

    IDs are opaque (LiteLLM packs base64 with ``/`` and ``=`` into them), so everything but
    unreserved characters is escaped (``/``, ``?``, ``#`` and ``%`` included). ``.`` and
    ``..`` are refused: URL normalisation resolves them away whatever their encoding, so
    they would poll another route.

    >>> quote_id("abc/def=?#%")
    'abc%2Fdef%3D%3F%23%25'
    """
    if not isinstance(task_id, str) or not task_id.strip():
        raise ValidationError("task_id", f"must be a non-empty string, got {task_id!r}")
    if is_dot_segment(task_id):
        raise ValidationError(
            "task_id",
            f"{task_id!r} cannot be one URL path segment (it names the route above it); "
            "no route can poll, download or cancel such a task",
        )
    return urllib.parse.quote(task_id, safe="")


def is_dot_segment(task_id: str) -> bool:
    """True for ``.`` and ``..``: ids that URL normalisation would resolve away."""
    return task_id in (".", "..")


def compact(mapping: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``mapping`` without the keys whose value is None."""
    return {key: value for key, value in mapping.items() if value is not None}


def whole_number(value: Any, field: str) -> int | None:
    """``value`` as an int (from an int, an integral float or a digit string), or None.

    new-api turns a float ``duration`` such as ``5.0`` into 0, so floats never reach the wire.
    """
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValidationError(field, f"must be a whole number of seconds, got {value!r}")
    if isinstance(value, int):
        number = value
    elif isinstance(value, float) and math.isfinite(value) and value.is_integer():
        number = int(value)
    elif isinstance(value, str) and re.fullmatch(r"\s*\d+(\.0+)?\s*", value):
        number = int(float(value))
    else:
        raise ValidationError(field, f"must be a whole number of seconds, got {value!r}")
    if number <= 0:
        raise ValidationError(field, f"must be a positive whole number of seconds, got {value!r}")
    return number


def fold_into(target: dict[str, Any] | None, extra: Mapping[str, Any]) -> dict[str, Any] | None:
    """``target`` with ``extra`` laid *under* it: keys already in ``target`` win.

    Returns a new dict (None when both are empty); ``target`` is not modified.
    """
    merged = dict(target or {})
    for key, value in extra.items():
        if value is not None and key not in merged:
            merged[key] = value
    return merged or None


def check_names(names: Iterable[str], allowed: Iterable[str], option: str) -> tuple[str, ...]:
    """``names`` as a tuple, each checked against ``allowed`` (for constructor options)."""
    if isinstance(names, str):
        names = (names,)
    result = tuple(names)
    allowed = tuple(allowed)
    unknown = [name for name in result if name not in allowed]
    if unknown:
        raise ValidationError(
            option, f"unknown field(s) {unknown}; choose from {', '.join(allowed)}"
        )
    return result


_DATA_URI = re.compile(r"data:(?P<mime>[\w.+-]+/[\w.+-]+)?(?P<params>(;[^;,]*)*?);base64,", re.I)


def is_data_uri(value: Any) -> bool:
    """True when ``value`` is a ``data:...;base64,`` string."""
    return isinstance(value, str) and value[:5].lower() == "data:"


def split_data_uri(uri: str, field: str) -> tuple[str, bytes]:
    """The MIME type and bytes of a ``data:<mime>;base64,...`` URI."""
    match = _DATA_URI.match(uri)
    if match is None:
        raise ValidationError(field, "is a data URI but not a base64 one (data:<mime>;base64,...)")
    try:
        data = base64.b64decode(uri[match.end() :], validate=False)
    except (binascii.Error, ValueError) as exc:
        raise ValidationError(field, f"holds invalid base64 data: {exc}") from None
    return (match.group("mime") or "application/octet-stream").lower(), data


_EXTENSIONS = {
    "image/png": "png",
    "image/jpeg": "jpg",
    "image/jpg": "jpg",
    "image/webp": "webp",
    "image/gif": "gif",
    "image/bmp": "bmp",
    "image/heic": "heic",
    "video/mp4": "mp4",
}


def filename_for(stem: str, mime: str) -> str:
    """A file name for an upload, e.g. ``input_reference.png`` for ``image/png``."""
    ext = _EXTENSIONS.get(mime) or mime.rpartition("/")[2].split("+")[0] or "bin"
    if not re.fullmatch(r"[a-z0-9]{1,8}", ext):
        ext = "bin"
    return f"{stem}.{ext}"
