"""Read a submit body the way new-api does, and refuse what it refuses.

The sandbox is the strict side of the wire: a field a real gateway rejects is rejected here
with the same status and error shape, so an encoder bug in the client shows up in tests
instead of against a paid gateway.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import re
from collections.abc import Mapping
from typing import Any

import attrs

from .render import decode_image_bytes

__all__ = [
    "DEFAULT_DURATION",
    "DEFAULT_FPS",
    "DEFAULT_SIZE",
    "ParsedRequest",
    "SandboxHTTPError",
    "middleware_error",
    "parse_submit",
    "task_error",
]

DEFAULT_SIZE = (640, 360)
DEFAULT_DURATION = 5
DEFAULT_FPS = 12
_MAX_SIDE = 3840
_MAX_SECONDS = 60

_SIZE_RE = re.compile(r"^\s*(\d{1,5})\s*[xX]\s*(\d{1,5})\s*$")
_RATIO_RE = re.compile(r"^\s*(\d{1,3})\s*:\s*(\d{1,3})\s*$")


class SandboxHTTPError(Exception):
    """An error answer: HTTP ``status`` with JSON ``body``."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(status, body)
        self.status = status
        self.body = body


def task_error(status: int, code: str, message: str) -> SandboxHTTPError:
    """new-api's task-route error: ``{"code", "message", "data": null}``."""
    return SandboxHTTPError(status, {"code": code, "message": message, "data": None})


def middleware_error(status: int, message: str, code: str = "") -> SandboxHTTPError:
    """new-api's middleware error: ``{"error": {"message", "type", "code"}}``."""
    return SandboxHTTPError(
        status, {"error": {"message": message, "type": "new_api_error", "code": code}}
    )


@attrs.define(frozen=True, kw_only=True)
class ParsedRequest:
    """A submit body after validation, with everything a task and its render need."""

    model: str
    prompt: str
    size: tuple[int, int]
    duration: int
    fps: int
    seed: int | None
    image: bytes | str | None = attrs.field(repr=False)
    last_image: bytes | str | None = attrs.field(repr=False)
    task_seconds: float | None
    fingerprint: str
    echo: Mapping[str, Any]  # small request fields, echoed in the vendor-like JSON
    duration_ignored: bool = False
    #: the sandbox-only ``metadata.sandbox_blind``: render without model marks
    blind: bool = False


def _bad(message: str) -> SandboxHTTPError:
    return task_error(400, "invalid_request", message)


def _as_int(name: str, value: Any, *, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise _bad(f"{name} must be an integer")
    if isinstance(value, str):
        if not value.strip().isdigit():
            raise _bad(f"{name} must be an integer, got {value!r}")
        value = int(value)
    if not lo <= value <= hi:
        raise _bad(f"{name} must be between {lo} and {hi}, got {value}")
    return value


def _even(v: int) -> int:
    return max(16, v // 2 * 2)


def _ratio_dims(a: int, b: int) -> tuple[int, int]:
    if a <= 0 or b <= 0:
        raise task_error(400, "invalid_size", f"invalid aspect ratio {a}:{b}")
    if a >= b:
        return _even(round(360 * a / b)), 360
    return 360, _even(round(360 * b / a))


def _size_from(value: Any, field: str) -> tuple[int, int]:
    if not isinstance(value, str):
        raise task_error(400, "invalid_size", f"{field} must be a string like 1280x720 or 16:9")
    if m := _SIZE_RE.match(value):
        w, h = int(m[1]), int(m[2])
        if not (16 <= w <= _MAX_SIDE and 16 <= h <= _MAX_SIDE):
            raise task_error(400, "invalid_size", f"{field} {value!r} is out of range")
        return _even(w), _even(h)
    if m := _RATIO_RE.match(value):
        return _ratio_dims(int(m[1]), int(m[2]))
    raise task_error(400, "invalid_size", f"invalid {field} {value!r}: use WxH or W:H")


def _check_media(name: str, value: Any) -> bytes | str:
    """A URL (kept as is) or the decoded bytes of a data URI / base64 / file part."""
    if isinstance(value, bytes):
        data = value
    elif isinstance(value, str) and value:
        try:
            decoded = decode_image_bytes(value)
        except ValueError as exc:
            raise _bad(f"{name} is neither a URL nor base64 image data: {exc}") from None
        if decoded is None:
            return value
        data = decoded
    else:
        raise _bad(f"{name} must be a URL or base64 image string")
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as img:
            img.verify()
    except Exception as exc:
        raise _bad(f"{name} is not a decodable image ({type(exc).__name__})") from None
    return data


def _digest_media(value: Any) -> Any:
    if isinstance(value, bytes):
        return "sha256:" + hashlib.sha256(value).hexdigest()
    if isinstance(value, str) and len(value) > 256:
        return "sha256:" + hashlib.sha256(value.encode()).hexdigest()
    if isinstance(value, list):
        return [_digest_media(v) for v in value]
    return value


def _object(name: str, value: Any) -> dict[str, Any]:
    if isinstance(value, str):  # multipart/form bodies carry objects as JSON text
        try:
            value = json.loads(value)
        except ValueError:
            raise _bad(f"{name} must be a JSON object") from None
    if not isinstance(value, dict):
        raise _bad(f"{name} must be an object")
    return value


def parse_submit(
    body: Mapping[str, Any], *, known_models: frozenset[str], openai_route: bool
) -> ParsedRequest:
    """Validate a submit ``body`` (JSON object, or form fields with file parts as bytes).

    Raises ``SandboxHTTPError`` with the status and shape a new-api gateway would send.
    """
    # The steps keep the order the fields have always been checked in, so a body with
    # several faults is still refused for the same (first) one.
    model = _read_model(body, known_models)
    metadata = _object("metadata", body["metadata"]) if "metadata" in body else {}
    extra = _object("extra_body", body["extra_body"]) if "extra_body" in body else {}
    prompt = _read_prompt(body, extra)
    duration, duration_ignored = _read_duration(body)
    size = _read_size(body, metadata)
    fps_raw = _pick(body, metadata, "fps")
    fps = DEFAULT_FPS if fps_raw is None else _as_int("fps", fps_raw, lo=1, hi=60)
    seed = _read_seed(_pick(body, metadata, "seed"))
    if body.get("n") is not None:
        _as_int("n", body["n"], lo=1, hi=4)  # only validated; the sandbox renders one video
    image, last_image = _read_images(body)
    return ParsedRequest(
        model=model,
        prompt=prompt,
        size=size,
        duration=duration,
        fps=fps,
        seed=seed,
        image=image,
        last_image=last_image,
        task_seconds=_read_task_seconds(metadata),
        fingerprint=_fingerprint(body, openai_route=openai_route),
        echo=_echo_fields(body),
        duration_ignored=duration_ignored,
        blind=bool(metadata.get("sandbox_blind")),
    )


def _read_model(body: Mapping[str, Any], known_models: frozenset[str]) -> str:
    model = body.get("model")
    if model is None or model == "":
        raise task_error(400, "missing_model", "model is required")
    if not isinstance(model, str):
        raise _bad("model must be a string")
    if model not in known_models:
        # An unknown model is refused by new-api's distributor middleware, before the task
        # route runs, hence the middleware error shape and 503 rather than a 400.
        raise middleware_error(
            503,
            f"No available channel for model {model} under group default "
            f"(distributor) (request id: sandbox)",
            "model_not_found",
        )
    return model


def _read_prompt(body: Mapping[str, Any], extra: Mapping[str, Any]) -> str:
    """The prompt to show: ``prompt``, else the ``extra_body.multi_prompt`` parts joined."""
    prompt = body.get("prompt")
    if prompt is not None and not isinstance(prompt, str):
        raise _bad("prompt must be a string")
    multi_prompts = _read_multi_prompt(extra.get("multi_prompt"))
    if not prompt and not multi_prompts:
        raise _bad("prompt is required")
    return prompt or " / ".join(multi_prompts)


def _read_multi_prompt(multi: Any) -> list[str]:
    if multi is None:
        return []
    if not isinstance(multi, list) or not all(
        isinstance(p, dict) and isinstance(p.get("prompt"), str) and p["prompt"] for p in multi
    ):
        raise _bad('extra_body.multi_prompt must be a list of {"prompt": "..."}')
    return [p["prompt"] for p in multi]


def _read_duration(body: Mapping[str, Any]) -> tuple[int, bool]:
    """``(seconds, ignored)``: `seconds` (a string, OpenAI style) wins over `duration`.

    ``ignored`` is true when new-api would silently drop the given duration.
    """
    if body.get("seconds") is not None:
        return _seconds_field(body["seconds"]), False
    if body.get("duration") is not None:
        return _duration_field(body["duration"])
    return DEFAULT_DURATION, False


def _seconds_field(seconds: Any) -> int:
    if not isinstance(seconds, str):
        # new-api binds into a Go string field; a number fails to unmarshal.
        raise _bad(
            "json: cannot unmarshal number into Go struct field "
            "TaskSubmitReq.seconds of type string"
        )
    return _as_int("seconds", seconds, lo=1, hi=_MAX_SECONDS)


def _duration_field(raw: Any) -> tuple[int, bool]:
    if not isinstance(raw, float):
        return _as_int("duration", raw, lo=1, hi=_MAX_SECONDS), False
    if not math.isfinite(raw) or raw != int(raw):
        # Go's int field refuses a fractional number outright.
        raise _bad(
            "json: cannot unmarshal number "
            f"{raw} into Go struct field TaskSubmitReq.duration of type int"
        )
    # What new-api does with 5.0: the field ends up 0, so the default is used.
    return DEFAULT_DURATION, True


def _pick(body: Mapping[str, Any], metadata: Mapping[str, Any], name: str) -> Any:
    """A top-level field, falling back to the same name in ``metadata``."""
    value = body.get(name)
    return metadata.get(name) if value is None else value


def _read_size(body: Mapping[str, Any], metadata: Mapping[str, Any]) -> tuple[int, int]:
    """The frame size, from the first of: width+height, size, aspect_ratio, metadata ratio."""
    width, height = _pick(body, metadata, "width"), _pick(body, metadata, "height")
    if width is not None and height is not None:
        return (
            _even(_as_int("width", width, lo=16, hi=_MAX_SIDE)),
            _even(_as_int("height", height, lo=16, hi=_MAX_SIDE)),
        )
    if body.get("size") not in (None, ""):
        return _size_from(body["size"], "size")
    if body.get("aspect_ratio") not in (None, ""):
        return _aspect_ratio_field(body["aspect_ratio"])
    meta_ratio = metadata.get("aspectRatio") or metadata.get("aspect_ratio")
    if meta_ratio:
        return _size_from(meta_ratio, "aspectRatio")
    return DEFAULT_SIZE


def _aspect_ratio_field(value: Any) -> tuple[int, int]:
    size = _size_from(value, "aspect_ratio")
    # `_size_from` also takes WxH, but aspect_ratio must be a ratio; it runs first so a
    # malformed value still gets its invalid_size error.
    if not _RATIO_RE.match(str(value)):
        raise _bad(f"aspect_ratio must look like 16:9, got {value!r}")
    return size


def _read_seed(seed_raw: Any) -> int | None:
    if seed_raw is None:
        return None
    if isinstance(seed_raw, bool) or not isinstance(seed_raw, (int, str)):
        raise _bad("seed must be an integer")
    try:
        return int(seed_raw)
    except ValueError:
        raise _bad(f"seed must be an integer, got {seed_raw!r}") from None


def _read_images(body: Mapping[str, Any]) -> tuple[bytes | str | None, bytes | str | None]:
    """``(first image, last_image)``; every image given is checked, the first one is used."""
    image: bytes | str | None = None
    for name in ("image", "input_reference"):
        if body.get(name) not in (None, ""):
            checked = _check_media(name, body[name])
            image = image if image is not None else checked
    images = body.get("images")
    if images is not None:
        if not isinstance(images, list):
            raise _bad("images must be a list of URL or base64 strings")
        for i, item in enumerate(images):
            checked = _check_media(f"images[{i}]", item)
            image = image if image is not None else checked
    last_image = None
    if body.get("last_image") not in (None, ""):
        last_image = _check_media("last_image", body["last_image"])
    return image, last_image


def _read_task_seconds(metadata: Mapping[str, Any]) -> float | None:
    """The sandbox-only ``metadata.sandbox_task_seconds``: how long the task takes to finish."""
    raw = metadata.get("sandbox_task_seconds")
    if raw is None:
        return None
    try:
        task_seconds = float(raw)
    except (TypeError, ValueError):
        raise _bad("metadata.sandbox_task_seconds must be a number") from None
    if task_seconds < 0:
        raise _bad("metadata.sandbox_task_seconds must be >= 0")
    return task_seconds


def _fingerprint(body: Mapping[str, Any], *, openai_route: bool) -> str:
    # Identifies "the same submit again" (the state counts repeats per fingerprint). Media
    # is reduced to its hash so large uploads stay cheap to serialise; the route is mixed in
    # so one body sent to both routes counts as two different requests.
    digestible = {k: _digest_media(v) for k, v in body.items()}
    digestible["_route"] = "openai" if openai_route else "unified"
    return hashlib.sha256(json.dumps(digestible, sort_keys=True, default=str).encode()).hexdigest()


def _echo_fields(body: Mapping[str, Any]) -> dict[str, Any]:
    """Small scalar request fields a vendor echoes back in its task JSON."""
    return {
        k: body[k]
        for k in ("quality", "aspect_ratio", "size", "user", "response_format", "n")
        if isinstance(body.get(k), (str, int)) and not isinstance(body.get(k), bool)
    }
