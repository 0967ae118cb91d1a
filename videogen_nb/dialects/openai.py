"""The OpenAI dialect: ``POST /v1/videos`` as OpenAI, LiteLLM proxy and new-api serve it.

Body: ``model``, ``prompt``, ``seconds`` (a string; from ``seconds`` or ``duration``),
``size`` as ``WxH`` (``size`` when it is ``WxH``; else ``width``x``height``; else a ratio
from ``size`` or ``aspect_ratio`` mapped through ``RATIO_SIZES``, e.g. 16:9 -> 1280x720)
and ``input_reference`` (``image``, or a single entry of ``images``, maps to it).

When the reference is a data URI the call is ``multipart/form-data``, as OpenAI requires:
the bytes go as a file part with their MIME type and a name such as
``input_reference.png``; a URL reference goes in a JSON body: as ``{"image_url": url}``
for OpenAI's own API (its spec), as a plain string for gateways (new-api decodes the field
into a string and refuses an object). ``url_reference="object"|"string"`` forces one; by
default the client chooses from the base URL (``bind_base``), and a dialect used on its own
sends the string.

Fields the OpenAI object has no place for (``fps seed n quality response_format user``
and unused ``width``/``height``/``aspect_ratio``) are folded into ``metadata`` (which
new-api reads on this route too) rather than dropped; a caller's own ``metadata`` keys win,
and ``top_level=(...)`` keeps chosen fields top-level. OpenAI itself may refuse a
``metadata`` it does not know: its message is then shown as sent. ``extra_body`` is
merged into the top level, as the OpenAI SDK does with its ``extra_body``. In multipart,
non-string values (``metadata``) are sent as JSON text. ``last_image`` and several
reference images have no OpenAI equivalent and raise ``ValidationError``.

For a model the catalog knows as OpenAI's (``sora-2``, ``sora-2-pro``), a size outside
OpenAI's published ``VideoSize`` (``OPENAI_SIZES``) raises ``ValidationError`` naming the
field and the allowed sizes before anything is sent: ``aspect_ratio="1:1"`` would otherwise
go out as ``1024x1024``, which OpenAI refuses. Other models' sizes go as asked (gateways
serve models whose sizes no table here knows).

Remix is ``POST /v1/videos/{id}/remix`` with the new ``prompt`` (OpenAI's remix body;
new-api and LiteLLM serve it too): a request whose ``remix_of`` names the finished origin
task goes there instead of ``/v1/videos``. ``metadata`` and ``extra_body`` ride along as
they do on a submit; any other field has no place in a remix and raises ``ValidationError``.

Cancel is ``DELETE /v1/videos/{id}``: OpenAI-style servers offer no separate cancel, and
deleting the video job is what stops it (a server may refuse it for a running job; the
client reports that answer). Only send it for tasks that are not terminal: on a finished
task it deletes the video.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ..core import geometry, wire
from ..core.errors import ValidationError
from ..store.catalog import get_model
from .base import (
    Dialect,
    FormPart,
    WireRequest,
    check_names,
    compact,
    filename_for,
    fold_into,
    is_data_uri,
    quote_id,
    split_data_uri,
    whole_number,
)

if TYPE_CHECKING:
    from ..core.request import VideoRequest

__all__ = ["OPENAI_SIZES", "RATIO_SIZES", "OpenAIDialect"]

#: the ``VideoSize`` enum of OpenAI's published OpenAPI document (openai/openai-openapi),
#: the sizes OpenAI's own video models accept
#: how a URL reference may go in a JSON body: a plain string (what gateways read) or
#: OpenAI's ``{"image_url": ...}`` object
URL_REFERENCE_FORMS = ("string", "object")
#: the host of OpenAI's own API, whose spec wants the object form
OPENAI_API_HOST = "api.openai.com"
OPENAI_SIZES = ("720x1280", "1280x720", "1024x1792", "1792x1024")

#: how an aspect ratio becomes an OpenAI ``size``
RATIO_SIZES: Mapping[str, str] = {
    "16:9": "1280x720",
    "9:16": "720x1280",
    "1:1": "1024x1024",
    "4:7": "1024x1792",
    "7:4": "1792x1024",
}

_FOLDABLE = (
    "width",
    "height",
    "aspect_ratio",
    "fps",
    "seed",
    "n",
    "quality",
    "response_format",
    "user",
)


class OpenAIDialect(Dialect):
    """``POST /v1/videos`` (JSON, or multipart for a local reference image).

    >>> from videogen_nb.core.request import VideoRequest
    >>> OpenAIDialect().build_submit(
    ...     VideoRequest(model="sora-2", prompt="a boat", duration=8, aspect_ratio="9:16")).json
    {'model': 'sora-2', 'prompt': 'a boat', 'seconds': '8', 'size': '720x1280'}
    """

    name = "openai"
    supports_remix = True

    def __init__(
        self,
        *,
        top_level: Iterable[str] = (),
        ratio_sizes: Mapping[str, str] | None = None,
        url_reference: str | None = None,
    ) -> None:
        self.top_level = check_names(top_level, _FOLDABLE, "top_level")
        self.ratio_sizes = dict(RATIO_SIZES if ratio_sizes is None else ratio_sizes)
        if url_reference not in (None, *URL_REFERENCE_FORMS):
            raise ValidationError(
                "url_reference",
                f"expected one of {', '.join(URL_REFERENCE_FORMS)}, not {url_reference!r}",
            )
        #: how a URL reference goes in a JSON body; None until chosen (see ``bind_base``)
        self.url_reference = url_reference

    def bind_base(self, base_url: str) -> None:
        """Choose the URL-reference form for ``base_url`` unless the caller chose one:
        OpenAI's own API (``api.openai.com``) takes ``{"image_url": ...}``, as its spec says;
        gateways (new-api, LiteLLM, the sandbox) read a plain string and refuse an object."""
        if self.url_reference is None:
            host = (urlsplit(base_url).hostname or "").lower()
            self.url_reference = "object" if host == OPENAI_API_HOST else "string"

    def _url_reference_value(self, reference: str) -> str | dict[str, str]:
        if self.url_reference == "object":
            return {"image_url": reference}
        return reference

    def _size(self, fields: dict[str, Any]) -> tuple[str | None, set[str]]:
        """The ``WxH`` size and the names of the fields it was made from."""
        size = fields.get("size")
        dims = geometry.parse_size(size)
        if dims is not None:
            return f"{dims[0]}x{dims[1]}", {"size"}
        width, height = fields.get("width"), fields.get("height")
        if width is not None and height is not None:
            return f"{int(width)}x{int(height)}", {"width", "height", "size"}
        source = "size" if size else "aspect_ratio"
        ratio = geometry.ratio_text(fields.get(source))
        if fields.get(source) is None:
            return None, set()
        if ratio is None or ratio not in self.ratio_sizes:
            raise ValidationError(
                source,
                f"{fields[source]!r} has no OpenAI video size; use WxH such as 1280x720 or one "
                f"of the ratios {', '.join(self.ratio_sizes)}",
            )
        return self.ratio_sizes[ratio], {source, "aspect_ratio"}

    @staticmethod
    def _check_openai_size(
        model: Any, size: str | None, used: set[str], fields: dict[str, Any]
    ) -> None:
        """Refuse, before sending, a size that OpenAI's spec forbids for its own models."""
        info = get_model(str(model)) if model else None
        if size is None or info is None or info.vendor != "openai" or size in OPENAI_SIZES:
            return
        # Name the field the caller set, not the one this dialect derived.
        field = next(
            name
            for name in ("size", "width", "aspect_ratio")
            if fields.get(name) is not None and name in used
        )
        asked = fields[field] if field != "width" else f"{fields['width']}x{fields['height']}"
        origin = "" if asked == size else f" ({field}={asked!r} becomes {size})"
        raise ValidationError(
            field,
            f"{info.name} takes size {', '.join(OPENAI_SIZES)} on OpenAI's video API, "
            f"not {size}{origin}",
        )

    @staticmethod
    def _reference(fields: dict[str, Any]) -> str | None:
        if fields.get("last_image") is not None:
            raise ValidationError(
                "last_image",
                "the openai dialect (/v1/videos) has no last frame; use dialect='kling' or 'unified'",
            )
        candidates = [
            value
            for value in (
                fields.get("input_reference"),
                fields.get("image"),
                *fields.get("images", ()),
            )
            if value is not None
        ]
        if len(set(candidates)) > 1:
            raise ValidationError(
                "images",
                "the openai dialect (/v1/videos) takes one reference image; "
                "set only one of input_reference, image, images",
            )
        return candidates[0] if candidates else None

    def build_submit(self, req: VideoRequest) -> WireRequest:
        """JSON, or multipart when the reference image is a data URI (see module docstring);
        a remix (``req.remix_of``) goes to ``POST /v1/videos/{origin}/remix``."""
        if req.remix_of is not None:
            return self.build_remix(req)
        fields = req.to_dict()
        size, used = self._size(fields)
        self._check_openai_size(fields.get("model"), size, used, fields)
        seconds = fields.get("seconds", fields.get("duration"))
        body: dict[str, Any] = compact(
            {
                "model": fields.get("model"),
                "prompt": fields.get("prompt"),
                "seconds": None if seconds is None else str(whole_number(seconds, "seconds")),
                "size": size,
            }
        )
        leftovers = {name: fields.get(name) for name in _FOLDABLE if name not in used}
        for name in self.top_level:
            if leftovers.pop(name, None) is not None:
                body[name] = fields[name]
        metadata = fold_into(fields.get("metadata"), leftovers)
        if metadata is not None:
            body["metadata"] = metadata
        body.update(compact(fields.get("extra_body") or {}))
        reference = self._reference(fields)

        if reference is None or not is_data_uri(reference):
            if reference is not None:
                body["input_reference"] = self._url_reference_value(reference)
            return WireRequest(method="POST", path=wire.ROUTE_VIDEOS, json=body)

        mime, data = split_data_uri(reference, "input_reference")
        parts = [
            FormPart(name=key, value=value if isinstance(value, str) else json.dumps(value))
            for key, value in body.items()
        ]
        parts.append(
            FormPart(
                name="input_reference",
                value=data,
                filename=filename_for("input_reference", mime),
                content_type=mime,
            )
        )
        return WireRequest(method="POST", path=wire.ROUTE_VIDEOS, form=parts)

    def build_remix(self, req: VideoRequest) -> WireRequest:
        """``POST /v1/videos/{req.remix_of}/remix`` with ``{"prompt": ...}`` (see module docstring).

        >>> from videogen_nb.core.request import VideoRequest
        >>> OpenAIDialect().build_remix(
        ...     VideoRequest(model="sora-2", prompt="now at night", remix_of="video_1"))
        WireRequest(method='POST', path='/v1/videos/video_1/remix', json={'prompt': 'now at night'}, form=None)
        """
        fields = req.to_dict()
        origin = fields.pop("remix_of", None)
        if origin is None:
            raise ValidationError("remix_of", "name the finished task to remix")
        extra = sorted(set(fields) - {"model", "prompt", "metadata", "extra_body"})
        if extra:
            raise ValidationError(
                extra[0],
                f"a remix takes only prompt (plus metadata/extra_body); {', '.join(extra)} "
                "cannot change in a remix: generate a new video instead",
            )
        body: dict[str, Any] = compact({"prompt": fields.get("prompt")})
        if fields.get("metadata"):
            body["metadata"] = fields["metadata"]
        body.update(compact(fields.get("extra_body") or {}))
        path = f"{wire.ROUTE_VIDEOS}/{quote_id(origin)}{wire.REMIX_SUFFIX}"
        return WireRequest(method="POST", path=path, json=body)

    def poll_paths(self, task_id: str) -> list[str]:
        """``/v1/videos/{id}``."""
        return [f"{wire.ROUTE_VIDEOS}/{quote_id(task_id)}"]

    def content_path(self, task_id: str) -> str:
        """``/v1/videos/{id}/content``."""
        return f"{wire.ROUTE_VIDEOS}/{quote_id(task_id)}{wire.CONTENT_SUFFIX}"

    def build_cancel(self, task_id: str) -> WireRequest | None:
        """``DELETE /v1/videos/{id}`` (deletes the job; only for tasks not yet terminal)."""
        return WireRequest(method="DELETE", path=f"{wire.ROUTE_VIDEOS}/{quote_id(task_id)}")
