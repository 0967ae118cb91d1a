"""The OpenRouter dialect: ``POST {origin}/api/v1/videos``, poll its ``polling_url``, ``/content``.

OpenRouter serves one video API over Veo, Sora, Seedance and others (GATEWAYS.md,
"OpenRouter"). Its routes live under the origin's ``/api/v1``, not under ``/v1``:

- submit ``POST /api/v1/videos`` answers ``{"id", "polling_url", "status": "pending"}``;
- the task is read at its ``polling_url`` (``/api/v1/videos/{id}``); the finished job
  carries ``unsigned_urls`` and ``usage.cost`` (US dollars, kept on ``Task.raw``);
- the bytes come from ``/api/v1/videos/{id}/content?index=0`` with the same bearer;
- its models are listed at ``/api/v1/videos/models``; model ids are provider-prefixed
  (``google/veo-3.1``, ``openai/sora-2``).

Body: ``model``, ``prompt``, ``duration`` (an integer, from ``duration`` or ``seconds``),
``size`` (``WxH``, from ``size`` or ``width``/``height``), ``aspect_ratio`` (given, or a
ratio ``size``), ``seed``; a start image (``image`` or ``input_reference``) becomes
``frame_images[{frame_type: "first_frame"}]``, ``last_image`` the ``last_frame``, and
``images`` become ``input_references``. ``extra_body`` is merged top-level (OpenRouter's
own fields: ``resolution``, ``generate_audio``, ``provider``...). Fields OpenRouter has no
place for (``fps n quality response_format user metadata``) raise ``ValidationError``
rather than vanish. OpenRouter documents no cancel and no remix.

The base URL may be the origin (``https://openrouter.ai``) or OpenRouter's usual API base
(``https://openrouter.ai/api/v1``, which the client normalises to ``.../api``):
``bind_base`` drops the ``/api`` prefix from the routes in the second case.

A ``polling_url`` is followed only on the gateway's own origin, where the bearer may go; one
on another origin is not used (the key would leak there): the task is polled at the
gateway's own ``/api/v1/videos/{id}`` instead, and a warning says so.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from yarl import URL

from ..core import geometry, wire
from ..core.errors import ValidationError
from ..core.urls import is_same_origin, redact_url
from .base import Dialect, WireRequest, compact, quote_id, whole_number

if TYPE_CHECKING:
    from ..core.request import VideoRequest
    from ..core.task import Task

__all__ = ["OpenRouterDialect"]

logger = logging.getLogger("videogen_nb")

#: the prefix OpenRouter's routes carry under its origin
_API_PREFIX = wire.OPENROUTER_VIDEOS.removesuffix("/v1/videos")
#: request fields OpenRouter's video API has no place for
_UNSUPPORTED = ("fps", "n", "quality", "response_format", "user", "metadata")


def _image_part(url: str, frame_type: str | None = None) -> dict[str, Any]:
    part: dict[str, Any] = {"type": "image_url", "image_url": {"url": url}}
    if frame_type is not None:
        part["frame_type"] = frame_type
    return part


class OpenRouterDialect(Dialect):
    """OpenRouter's video API (see the module docstring).

    >>> from videogen_nb.core.request import VideoRequest
    >>> OpenRouterDialect().build_submit(VideoRequest(
    ...     model="google/veo-3.1", prompt="a boat", duration=8, aspect_ratio="16:9")).json
    {'model': 'google/veo-3.1', 'prompt': 'a boat', 'duration': 8, 'aspect_ratio': '16:9'}
    """

    name = "openrouter"

    def __init__(self, *, prefix: str = _API_PREFIX) -> None:
        if prefix and (not prefix.startswith("/") or prefix.endswith("/")):
            raise ValidationError("prefix", f"must be '' or like '/api', got {prefix!r}")
        self.prefix = prefix
        # task id -> the polling_url its submit named (absolute, on the gateway's origin)
        self._polling: dict[str, str] = {}

    # -- routes ---------------------------------------------------------------------------

    def bind_base(self, base_url: str) -> None:
        """Fit the routes to ``base_url``: a base that already ends in ``/api`` (from
        ``https://openrouter.ai/api/v1``) must not get a second ``/api``."""
        path = URL(base_url).path.rstrip("/")
        self.prefix = "" if path.endswith(_API_PREFIX) else _API_PREFIX

    def _videos(self) -> str:
        return self.prefix + wire.OPENROUTER_VIDEOS.removeprefix(_API_PREFIX)

    def poll_paths(self, task_id: str) -> list[str]:
        """The submit's ``polling_url`` when it was on the gateway's origin, else
        ``/api/v1/videos/{id}`` (what OpenRouter's polling_url names)."""
        default = f"{self._videos()}/{quote_id(task_id)}"
        return [self._polling.get(task_id, default)]

    def content_path(self, task_id: str) -> str:
        """``/api/v1/videos/{id}/content?index=0`` (the first video, with the bearer)."""
        return f"{self._videos()}/{quote_id(task_id)}{wire.CONTENT_SUFFIX}?index=0"

    def build_cancel(self, task_id: str) -> WireRequest | None:
        """None: OpenRouter documents no cancel for video jobs."""
        quote_id(task_id)
        return None

    def models_path(self) -> str:
        """``/api/v1/videos/models``: OpenRouter's list of video models."""
        return self.prefix + wire.OPENROUTER_MODELS.removeprefix(_API_PREFIX)

    def accepted(self, task: Task, base_url: str) -> None:
        """Poll ``task`` at the ``polling_url`` its submit answer named, if it is on the
        gateway's origin (``base_url``); warn and keep the default route otherwise."""
        raw = task.raw if isinstance(task.raw, dict) else {}
        url = raw.get("polling_url")
        if not isinstance(url, str) or not url.strip():
            return
        url = url.strip()
        origin = str(URL(base_url).origin())
        absolute = origin + url if url.startswith("/") else url
        if is_same_origin(absolute, base_url):
            self._polling[task.id] = absolute
            return
        logger.warning(
            "OpenRouter named a polling_url on another origin (%s) for task %s; it is not "
            "followed, so the API key is not sent there: polling %s on the gateway instead",
            redact_url(absolute),
            task.id,
            self.poll_paths(task.id)[0],
        )

    # -- submit ---------------------------------------------------------------------------

    def build_submit(self, req: VideoRequest) -> WireRequest:
        """The JSON body described in the module docstring."""
        if req.remix_of is not None:
            self.check_remix()
        fields = req.to_dict()
        for name in _UNSUPPORTED:
            if fields.get(name) is not None:
                raise ValidationError(
                    name,
                    "OpenRouter's video API has no such field; put OpenRouter's own fields "
                    "(resolution, generate_audio, provider, ...) in extra_body",
                )
        seconds = fields.get("duration", fields.get("seconds"))
        size, ratio = self._size(fields)
        body: dict[str, Any] = compact(
            {
                "model": fields.get("model"),
                "prompt": fields.get("prompt"),
                "duration": whole_number(seconds, "duration"),
                "size": size,
                "aspect_ratio": fields.get("aspect_ratio") or ratio,
                "seed": fields.get("seed"),
            }
        )
        frames = self._frames(fields)
        if frames:
            body["frame_images"] = frames
        if fields.get("images"):
            body["input_references"] = [_image_part(url) for url in fields["images"]]
        body.update(compact(fields.get("extra_body") or {}))
        return WireRequest(method="POST", path=self._videos(), json=body)

    @staticmethod
    def _size(fields: dict[str, Any]) -> tuple[str | None, str | None]:
        """``(WxH size, ratio)`` from ``size`` (pixels or a ratio) or ``width``/``height``."""
        size = fields.get("size")
        dims = geometry.parse_size(size)
        if dims is not None:
            return f"{dims[0]}x{dims[1]}", None
        if size is not None:
            return None, geometry.ratio_text(size)
        width, height = fields.get("width"), fields.get("height")
        if width is not None and height is not None:
            return f"{int(width)}x{int(height)}", None
        if width is not None or height is not None:
            raise ValidationError(
                "width" if width is not None else "height",
                "OpenRouter takes a whole size: give both width and height, or size='WxH'",
            )
        return None, None

    @staticmethod
    def _frames(fields: dict[str, Any]) -> list[dict[str, Any]]:
        starts = {v for v in (fields.get("image"), fields.get("input_reference")) if v}
        if len(starts) > 1:
            raise ValidationError(
                "input_reference",
                "OpenRouter takes one first frame; set image or input_reference, not both",
            )
        frames = [_image_part(url, "first_frame") for url in starts]
        if fields.get("last_image"):
            frames.append(_image_part(fields["last_image"], "last_frame"))
        return frames
