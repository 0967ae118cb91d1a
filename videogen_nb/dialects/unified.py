"""The unified dialect (the default): ``POST /v1/video/generations`` as new-api and its forks read it.

What goes where, and why (see GATEWAYS.md):

- ``model prompt image images input_reference size metadata`` go top-level as given;
  ``duration`` as an int (new-api turns ``5.0`` into 0) and ``seconds`` as a string
  (new-api rejects a JSON number there with 400). Neither is invented from the other.
- new-api reads nothing else top-level, so ``width height fps seed n response_format user
  quality`` are folded into ``metadata``, which new-api lays over the vendor payload. A key
  the caller already put in ``metadata`` wins. ``UnifiedDialect(top_level=("seed",))``
  keeps chosen fields top-level instead (for gateways that read them there).
- ``aspect_ratio`` goes top-level (uniall reads it there) and, when no ``size`` is set,
  is also sent as ``size`` (new-api reads a ratio from ``size``).
- ``last_image`` goes top-level (uniall's first-and-last-frame); new-api has no such field,
  put the vendor's own name in ``metadata`` there (Kling's is ``image_tail``).
- ``extra_body`` goes top-level as given (uniall) and, unless ``mirror_extra_body=False``,
  its entries are also laid under ``metadata`` (new-api), where vendor names such as
  Kling's ``negative_prompt``/``cfg_scale`` reach the vendor. ``metadata`` keys win.

Poll ``GET /v1/video/generations/{id}`` first, then ``GET /v1/videos/{id}``; bytes come from
``GET /v1/videos/{id}/content``. No gateway of GATEWAYS.md offers a cancel route here.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ..core import wire
from .base import (
    GenerationsRouteDialect,
    WireRequest,
    check_names,
    compact,
    fold_into,
    whole_number,
)

if TYPE_CHECKING:
    from ..core.request import VideoRequest

__all__ = ["FOLDED_FIELDS", "UnifiedDialect"]

#: request fields new-api ignores top-level; sent inside ``metadata`` unless pinned top-level
FOLDED_FIELDS: tuple[str, ...] = (
    "width",
    "height",
    "fps",
    "seed",
    "n",
    "response_format",
    "user",
    "quality",
)


class UnifiedDialect(GenerationsRouteDialect):
    """``POST /v1/video/generations`` JSON, new-api style (the default dialect).

    >>> from videogen_nb.core.request import VideoRequest
    >>> wire = UnifiedDialect().build_submit(VideoRequest(model="kling-v1", prompt="a boat", seed=7))
    >>> wire.json
    {'model': 'kling-v1', 'prompt': 'a boat', 'metadata': {'seed': 7}}
    >>> UnifiedDialect(top_level=("seed",)).build_submit(
    ...     VideoRequest(model="kling-v1", prompt="a boat", seed=7)).json
    {'model': 'kling-v1', 'prompt': 'a boat', 'seed': 7}
    """

    name = "unified"

    def __init__(self, *, top_level: Iterable[str] = (), mirror_extra_body: bool = True) -> None:
        self.top_level = check_names(top_level, FOLDED_FIELDS, "top_level")
        self.mirror_extra_body = mirror_extra_body

    def build_submit(self, req: VideoRequest) -> WireRequest:
        """The JSON body described in the module docstring."""
        fields = req.to_dict()  # a deep, JSON-ready copy: the request stays untouched
        size = fields.get("size") or fields.get("aspect_ratio")
        seconds = fields.get("seconds")
        body: dict[str, Any] = compact(
            {
                "model": fields.get("model"),
                "prompt": fields.get("prompt"),
                "image": fields.get("image"),
                "images": fields.get("images"),
                "input_reference": fields.get("input_reference"),
                "last_image": fields.get("last_image"),
                "size": size,
                "aspect_ratio": fields.get("aspect_ratio"),
                "duration": whole_number(fields.get("duration"), "duration"),
                "seconds": None if seconds is None else str(whole_number(seconds, "seconds")),
            }
        )
        folded = {name: fields.get(name) for name in FOLDED_FIELDS if name not in self.top_level}
        for name in self.top_level:
            if fields.get(name) is not None:
                body[name] = fields[name]
        extra_body = fields.get("extra_body")
        if extra_body and self.mirror_extra_body:
            # extra_body entries lie under the folded fields, and both under user metadata.
            folded = {**extra_body, **compact(folded)}
        metadata = fold_into(fields.get("metadata"), folded)
        if metadata is not None:
            body["metadata"] = metadata
        if extra_body:
            body["extra_body"] = extra_body
        return WireRequest(method="POST", path=wire.ROUTE_GENERATIONS, json=body)
