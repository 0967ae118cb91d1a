"""The Kling dialect, uniall style: ``POST /v1/video/generations`` with Kling's own fields.

Body (seed 003): ``model prompt image last_image aspect_ratio duration extra_body``, plus
``images``/``input_reference`` when set.

- ``duration`` is a STRING (from ``duration`` or ``seconds``).
- ``aspect_ratio`` comes from ``aspect_ratio`` as given; otherwise it is derived from a
  ratio ``size`` (``"16:9"``), a ``WxH`` size or ``width``/``height``, reduced by their gcd
  (1280x720 -> 16:9). A derived ratio must be one of ``aspect_ratios`` (default 16:9,
  9:16, 1:1), else ``ValidationError`` says which to use.
- ``extra_body`` is passed through (``multi_prompt``, ``shot_type``, ...); every
  ``metadata`` entry (vendor fields such as ``negative_prompt``, ``cfg_scale``) is moved
  into it unless ``extra_body`` already has that key. ``metadata`` itself is not sent:
  uniall reads vendor fields from ``extra_body`` only.
- Fields Kling has no use for (``fps seed n quality response_format user``) are sent
  top-level as given; the gateway ignores what it does not read.

Polling and content routes are those of the unified dialect; there is no cancel route.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ..core import geometry, wire
from ..core.errors import ValidationError
from .base import (
    GenerationsRouteDialect,
    WireRequest,
    compact,
    fold_into,
    whole_number,
)

if TYPE_CHECKING:
    from ..core.request import VideoRequest

__all__ = ["KLING_ASPECT_RATIOS", "KlingDialect"]

#: the aspect ratios Kling accepts (seed 003)
KLING_ASPECT_RATIOS: tuple[str, ...] = ("16:9", "9:16", "1:1")

_PASSED_AS_IS = ("fps", "seed", "n", "quality", "response_format", "user")


class KlingDialect(GenerationsRouteDialect):
    """uniall-style Kling: ``aspect_ratio``, string ``duration``, ``last_image``, ``extra_body``.

    >>> from videogen_nb.core.request import VideoRequest
    >>> KlingDialect().build_submit(VideoRequest(
    ...     model="kling-v3-std-silent", prompt="a boat", size="1920x1080", duration=5,
    ...     metadata={"negative_prompt": "blur"})).json
    {'model': 'kling-v3-std-silent', 'prompt': 'a boat', 'aspect_ratio': '16:9', 'duration': '5', 'extra_body': {'negative_prompt': 'blur'}}
    """

    name = "kling"

    def __init__(self, *, aspect_ratios: Iterable[str] = KLING_ASPECT_RATIOS) -> None:
        self.aspect_ratios = tuple(aspect_ratios)

    def _aspect_ratio(self, fields: dict[str, Any]) -> str | None:
        if fields.get("aspect_ratio") is not None:
            return str(fields["aspect_ratio"])  # the caller's explicit choice is sent as is
        size = fields.get("size")
        source = "size"
        dims = geometry.parse_size(size)
        ratio = None if dims is not None else geometry.ratio_text(size)
        if size is not None and dims is None and ratio is None:
            raise ValidationError("size", f"{size!r} is neither WxH (1280x720) nor a ratio (16:9)")
        if size is None and fields.get("width") is not None and fields.get("height") is not None:
            dims, source = (int(fields["width"]), int(fields["height"])), "width"
        if dims is not None:
            ratio = geometry.format_ratio(*geometry.reduce_ratio(*dims))
        if ratio is not None and ratio not in self.aspect_ratios:
            raise ValidationError(
                source,
                f"{fields[source]!r} gives aspect ratio {ratio}, which Kling does not accept; "
                f"use one of {', '.join(self.aspect_ratios)} (or set aspect_ratio explicitly)",
            )
        return ratio

    def build_submit(self, req: VideoRequest) -> WireRequest:
        """The JSON body described in the module docstring."""
        fields = req.to_dict()
        duration = fields.get("duration", fields.get("seconds"))
        body: dict[str, Any] = compact(
            {
                "model": fields.get("model"),
                "prompt": fields.get("prompt"),
                "image": fields.get("image"),
                "images": fields.get("images"),
                "input_reference": fields.get("input_reference"),
                "last_image": fields.get("last_image"),
                "aspect_ratio": self._aspect_ratio(fields),
                "duration": None if duration is None else str(whole_number(duration, "duration")),
                **{name: fields.get(name) for name in _PASSED_AS_IS},
            }
        )
        extra_body = fold_into(fields.get("extra_body"), fields.get("metadata") or {})
        if extra_body is not None:
            body["extra_body"] = extra_body
        return WireRequest(method="POST", path=wire.ROUTE_GENERATIONS, json=body)
