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
    model = body.get("model")
    if model is None or model == "":
        raise task_error(400, "missing_model", "model is required")
    if not isinstance(model, str):
        raise _bad("model must be a string")
    if model not in known_models:
        raise middleware_error(
            503,
            f"No available channel for model {model} under group default "
            f"(distributor) (request id: sandbox)",
            "model_not_found",
        )
    metadata = _object("metadata", body["metadata"]) if "metadata" in body else {}
    extra = _object("extra_body", body["extra_body"]) if "extra_body" in body else {}

    prompt = body.get("prompt")
    if prompt is not None and not isinstance(prompt, str):
        raise _bad("prompt must be a string")
    multi = extra.get("multi_prompt")
    multi_prompts: list[str] = []
    if multi is not None:
        if not isinstance(multi, list) or not all(
            isinstance(p, dict) and isinstance(p.get("prompt"), str) and p["prompt"] for p in multi
        ):
            raise _bad('extra_body.multi_prompt must be a list of {"prompt": "..."}')
        multi_prompts = [p["prompt"] for p in multi]
    if not prompt and not multi_prompts:
        raise _bad("prompt is required")
    shown_prompt = prompt or " / ".join(multi_prompts)

    # Duration: `seconds` (a string, OpenAI style) wins over `duration`.
    duration_ignored = False
    duration = DEFAULT_DURATION
    if "seconds" in body and body["seconds"] is not None:
        seconds = body["seconds"]
        if not isinstance(seconds, str):
            # new-api binds into a Go string field; a number fails to unmarshal.
            raise _bad(
                "json: cannot unmarshal number into Go struct field "
                "TaskSubmitReq.seconds of type string"
            )
        duration = _as_int("seconds", seconds, lo=1, hi=_MAX_SECONDS)
    elif "duration" in body and body["duration"] is not None:
        raw = body["duration"]
        if isinstance(raw, float):
            if not math.isfinite(raw) or raw != int(raw):
                raise _bad(
                    "json: cannot unmarshal number "
                    f"{raw} into Go struct field TaskSubmitReq.duration of type int"
                )
            # What new-api does with 5.0: the field ends up 0, so the default is used.
            duration_ignored = True
        else:
            duration = _as_int("duration", raw, lo=1, hi=_MAX_SECONDS)

    def pick(name: str) -> Any:
        value = body.get(name)
        return metadata.get(name) if value is None else value

    width, height = pick("width"), pick("height")
    if width is not None and height is not None:
        size = (
            _even(_as_int("width", width, lo=16, hi=_MAX_SIDE)),
            _even(_as_int("height", height, lo=16, hi=_MAX_SIDE)),
        )
    elif body.get("size") not in (None, ""):
        size = _size_from(body["size"], "size")
    elif body.get("aspect_ratio") not in (None, ""):
        size = _size_from(body["aspect_ratio"], "aspect_ratio")
        if not _RATIO_RE.match(str(body["aspect_ratio"])):
            raise _bad(f"aspect_ratio must look like 16:9, got {body['aspect_ratio']!r}")
    elif metadata.get("aspectRatio") or metadata.get("aspect_ratio"):
        size = _size_from(
            metadata.get("aspectRatio") or metadata.get("aspect_ratio"), "aspectRatio"
        )
    else:
        size = DEFAULT_SIZE
    fps_raw = pick("fps")
    fps = DEFAULT_FPS if fps_raw is None else _as_int("fps", fps_raw, lo=1, hi=60)
    seed_raw = pick("seed")
    seed = None
    if seed_raw is not None:
        if isinstance(seed_raw, bool) or not isinstance(seed_raw, (int, str)):
            raise _bad("seed must be an integer")
        try:
            seed = int(seed_raw)
        except ValueError:
            raise _bad(f"seed must be an integer, got {seed_raw!r}") from None
    if body.get("n") is not None:
        _as_int("n", body["n"], lo=1, hi=4)

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

    task_seconds = None
    if metadata.get("sandbox_task_seconds") is not None:
        try:
            task_seconds = float(metadata["sandbox_task_seconds"])
        except (TypeError, ValueError):
            raise _bad("metadata.sandbox_task_seconds must be a number") from None
        if task_seconds < 0:
            raise _bad("metadata.sandbox_task_seconds must be >= 0")

    digestible = {k: _digest_media(v) for k, v in body.items()}
    digestible["_route"] = "openai" if openai_route else "unified"
    fingerprint = hashlib.sha256(
        json.dumps(digestible, sort_keys=True, default=str).encode()
    ).hexdigest()
    echo = {
        k: body[k]
        for k in ("quality", "aspect_ratio", "size", "user", "response_format", "n")
        if isinstance(body.get(k), (str, int)) and not isinstance(body.get(k), bool)
    }
    return ParsedRequest(
        model=model,
        prompt=shown_prompt,
        size=size,
        duration=duration,
        fps=fps,
        seed=seed,
        image=image,
        last_image=last_image,
        task_seconds=task_seconds,
        fingerprint=fingerprint,
        echo=echo,
        duration_ignored=duration_ignored,
    )
