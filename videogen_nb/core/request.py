"""``VideoRequest``: one video generation request, validated before anything is sent.

Every field is checked and normalised at construction, so a bad value raises
:class:`~videogen_nb.core.errors.ValidationError` naming the field, with what to change, before
any HTTP request. Media fields become URL or ``data:`` URI strings (see :mod:`.media`);
``metadata``/``extra_body`` become deep read-only :class:`FrozenMapping` values, so a
request is a true value: hashable, comparable, and with a stable :meth:`fingerprint`.

>>> req = VideoRequest(model="kling-v2-5-turbo", prompt="a paper boat in the rain", duration=5.0)
>>> req.duration
5
>>> req.replace(seed=7).seed
7
"""

from __future__ import annotations

import difflib
import hashlib
import inspect
import json
import math
from collections.abc import Mapping
from typing import Any

import attrs

from . import geometry, media
from .checks import require_utf8
from .errors import ValidationError
from .frozen import FrozenMapping, shorten_media, thaw

__all__ = ["FrozenMapping", "VideoRequest"]

_MEDIA_FIELDS = ("image", "images", "input_reference", "last_image")
_MAX_SECONDS = 3600
_MAX_FPS = 240
_MAX_N = 100
_MAX_SEED = 2**32 - 1
#: keys Kling documents for one shot of ``extra_body["multi_prompt"]``
_MULTI_PROMPT_KEYS = ("prompt", "duration", "index")


def _closest(name: str, choices: list[str] | tuple[str, ...]) -> str:
    match = difflib.get_close_matches(name, choices, n=1, cutoff=0.6)
    if match:
        return f"; did you mean {match[0]!r}?"
    return f"; known fields: {', '.join(choices)}"


# ---- converters: each validates one field and returns its stored form --------------------


def _whole_number(value: Any, field: str, *, low: int, high: int, what: str) -> int:
    """An int from an int, an integral float or a digit string; ``low <= n <= high``."""
    number: int | None = None
    if isinstance(value, bool):
        number = None
    elif isinstance(value, int):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    elif isinstance(value, str) and value.strip().isdigit():
        number = int(value.strip())
    if number is None:
        raise ValidationError(field, f"must be {what}, got {value!r}")
    if not low <= number <= high:
        raise ValidationError(field, f"must be {what} from {low} to {high}, got {value!r}")
    return number


def _text(value: Any, field: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValidationError(field, f"must be a string, got {type(value).__name__}")
    if not value.strip():
        raise ValidationError(field, "is empty; give some text or leave it out")
    return require_utf8(value, field)


def _model(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(
            "model", f"must be a non-empty model name such as 'kling-v2-5-turbo', got {value!r}"
        )
    return require_utf8(value.strip(), "model")


def _media_one(value: Any, field: str) -> str | None:
    return None if value is None else media.normalize_media(value, field)


def _media_many(value: Any) -> tuple[str, ...] | None:
    if value is None:
        return None
    if not isinstance(value, (list, tuple)):
        raise ValidationError(
            "images",
            f"must be a list of images, got a {type(value).__name__}; for one image use "
            "image=... or images=[...]",
        )
    if not value:
        return None
    return tuple(media.normalize_media(item, f"images[{i}]") for i, item in enumerate(value))


def _size(value: Any) -> str | None:
    if value is None:
        return None
    hint = "use pixels 'WIDTHxHEIGHT' such as '1280x720', or a ratio 'W:H' such as '16:9'"
    if not isinstance(value, str):
        raise ValidationError("size", f"must be a string; {hint}, got {value!r}")
    pixels = geometry.split_size(value)
    if pixels is not None:
        if not geometry.size_in_bounds(*pixels):
            raise ValidationError(
                "size",
                f"{value!r}: each side must be {geometry.MIN_SIDE} to {geometry.MAX_SIDE} pixels",
            )
        return geometry.format_size(*pixels)
    if geometry.split_ratio(value) is not None:
        return _ratio_text("size", value)
    raise ValidationError("size", f"{value!r} is not a size; {hint}")


def _aspect_ratio(value: Any) -> str | None:
    if value is None:
        return None
    hint = "use 'W:H' such as '16:9', '9:16' or '1:1'"
    if geometry.split_ratio(value) is None:
        extra = " (for pixels use size='1280x720')" if geometry.split_size(value) else ""
        raise ValidationError("aspect_ratio", f"{value!r} is not a ratio; {hint}{extra}")
    return _ratio_text("aspect_ratio", value)


def _ratio_text(field: str, value: str) -> str:
    terms = geometry.parse_ratio(value)
    if terms is None:
        raise ValidationError(
            field, f"{value!r}: both sides of a ratio must be 1 to {geometry.MAX_RATIO_TERM}"
        )
    return geometry.format_ratio(*terms)


def _duration(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, float) and math.isfinite(value) and not value.is_integer():
        raise ValidationError(
            "duration",
            f"must be a whole number of seconds, got {value!r}; gateways drop fractions "
            f"(new-api turns a float into 0), so use {max(1, round(value))}",
        )
    return _whole_number(
        value, "duration", low=1, high=_MAX_SECONDS, what="a positive whole number of seconds"
    )


def _seconds(value: Any) -> int | str | None:
    if value is None:
        return None
    what = "a positive whole number of seconds (an int or a digit string such as '8')"
    number = _whole_number(value, "seconds", low=1, high=_MAX_SECONDS, what=what)
    # Stored as given: OpenAI-style gateways want the string "8", others a number; the
    # dialect picks the wire form, so only a float is normalised (to the int it equals).
    if isinstance(value, str):
        if value != value.strip():
            raise ValidationError("seconds", f"{value!r} has spaces; use {value.strip()!r}")
        return value
    return number


def _int_field(value: Any, field: str, *, low: int, high: int, what: str) -> int | None:
    if value is None:
        return None
    return _whole_number(value, field, low=low, high=high, what=what)


def _json_object(value: Any, field: str) -> FrozenMapping | None:
    return None if value is None else FrozenMapping.freeze(value, field)


def _check_multi_prompt(shots: Any) -> None:
    path = "extra_body['multi_prompt']"
    if not isinstance(shots, tuple) or not shots:
        raise ValidationError(
            path, "must be a non-empty list of shots such as [{'prompt': 'a boat sails'}, ...]"
        )
    for i, shot in enumerate(shots):
        where = f"{path}[{i}]"
        if not isinstance(shot, Mapping):
            raise ValidationError(
                where, f"each shot must be a dict like {{'prompt': '...'}}, got {shot!r}"
            )
        for key in shot:
            if key not in _MULTI_PROMPT_KEYS:
                raise ValidationError(
                    f"{where}[{key!r}]",
                    f"unknown key in a multi_prompt shot{_closest(key, _MULTI_PROMPT_KEYS)}",
                )
        prompt = shot.get("prompt")
        if not isinstance(prompt, str) or not prompt.strip():
            raise ValidationError(f"{where}['prompt']", "each shot needs a non-empty prompt string")
        if "duration" in shot:
            _whole_number(
                shot["duration"],
                f"{where}['duration']",
                low=1,
                high=_MAX_SECONDS,
                what="a positive whole number of seconds",
            )
        if "index" in shot:
            _whole_number(
                shot["index"], f"{where}['index']", low=0, high=1000, what="a shot number"
            )


# one named converter per field: attrs and mypy read named functions, not closures


def _prompt(value: Any) -> str | None:
    return _text(value, "prompt")


def _image(value: Any) -> str | None:
    return _media_one(value, "image")


def _input_reference(value: Any) -> str | None:
    return _media_one(value, "input_reference")


def _last_image(value: Any) -> str | None:
    return _media_one(value, "last_image")


def _quality(value: Any) -> str | None:
    return _text(value, "quality")


def _width(value: Any) -> int | None:
    return _int_field(
        value, "width", low=geometry.MIN_SIDE, high=geometry.MAX_SIDE, what="a width in pixels"
    )


def _height(value: Any) -> int | None:
    return _int_field(
        value, "height", low=geometry.MIN_SIDE, high=geometry.MAX_SIDE, what="a height in pixels"
    )


def _fps(value: Any) -> int | None:
    return _int_field(value, "fps", low=1, high=_MAX_FPS, what="a whole frame rate")


def _seed(value: Any) -> int | None:
    return _int_field(value, "seed", low=0, high=_MAX_SEED, what="a whole-number seed")


def _n_field(value: Any) -> int | None:
    return _int_field(value, "n", low=1, high=_MAX_N, what="a whole number of videos")


def _response_format(value: Any) -> str | None:
    return _text(value, "response_format")


def _user(value: Any) -> str | None:
    return _text(value, "user")


def _metadata(value: Any) -> FrozenMapping | None:
    return _json_object(value, "metadata")


def _extra_body(value: Any) -> FrozenMapping | None:
    return _json_object(value, "extra_body")


def _remix_of(value: Any) -> str | None:
    return _text(value, "remix_of")


# ---- the request -----------------------------------------------------------------------


@attrs.define(frozen=True, kw_only=True, init=False, repr=False)
class VideoRequest:
    """One text-to-video or image-to-video request, validated at construction.

    Only ``model`` is required, and ``prompt`` unless an image is given or
    ``extra_body["multi_prompt"]`` carries the prompts. Media fields (``image``,
    ``images``, ``input_reference``, ``last_image``) take an http(s) URL, a data URI, raw
    base64, a ``pathlib.Path`` or path string of a local file, bytes, or a PIL image, and
    are stored as a URL or ``data:`` URI string. Whole-number fields accept ints, integral
    floats (``5.0``) and digit strings (``"5"``); ``seconds`` keeps the type it was given.
    Any bad value, or a misspelt field name, raises :class:`ValidationError` naming it.

    Requests are immutable and hashable; ``metadata``/``extra_body`` are read-only
    :class:`FrozenMapping` values.

    >>> VideoRequest(model="kling-v1", prompt="a paper boat in the rain", duration=5).duration
    5
    >>> VideoRequest(modle="kling-v1", prompt="x")
    Traceback (most recent call last):
    ...
    videogen_nb.core.errors.ValidationError: modle: unknown field; did you mean 'model'?
    """

    model: str = attrs.field(converter=_model)
    prompt: str | None = attrs.field(default=None, converter=_prompt)
    image: str | None = attrs.field(default=None, converter=_image)
    images: tuple[str, ...] | None = attrs.field(default=None, converter=_media_many)
    input_reference: str | None = attrs.field(default=None, converter=_input_reference)
    last_image: str | None = attrs.field(default=None, converter=_last_image)
    size: str | None = attrs.field(default=None, converter=_size)
    aspect_ratio: str | None = attrs.field(default=None, converter=_aspect_ratio)
    quality: str | None = attrs.field(default=None, converter=_quality)
    duration: int | None = attrs.field(default=None, converter=_duration)
    seconds: int | str | None = attrs.field(default=None, converter=_seconds)
    width: int | None = attrs.field(
        default=None,
        converter=_width,
    )
    height: int | None = attrs.field(
        default=None,
        converter=_height,
    )
    fps: int | None = attrs.field(
        default=None,
        converter=_fps,
    )
    seed: int | None = attrs.field(
        default=None,
        converter=_seed,
    )
    n: int | None = attrs.field(
        default=None,
        converter=_n_field,
    )
    response_format: str | None = attrs.field(default=None, converter=_response_format)
    user: str | None = attrs.field(default=None, converter=_user)
    metadata: FrozenMapping | None = attrs.field(default=None, converter=_metadata)
    extra_body: FrozenMapping | None = attrs.field(default=None, converter=_extra_body)
    #: the id of the finished task this request remixes (set by ``client.remix``; the
    #: journal's record of the request keeps the origin)
    remix_of: str | None = attrs.field(default=None, converter=_remix_of)

    def __init__(self, **fields: Any) -> None:
        # A hand-written __init__ so that a misspelt keyword becomes a ValidationError that
        # suggests the right name, not a bare TypeError.
        names = _FIELD_NAMES
        for name in fields:
            if name not in names:
                raise ValidationError(name, f"unknown field{_closest(name, names)}")
        if fields.get("model") is None:
            raise ValidationError("model", "is required, e.g. model='kling-v2-5-turbo'")
        self.__attrs_init__(**fields)

    def __attrs_post_init__(self) -> None:
        shots = self.extra_body.get("multi_prompt") if self.extra_body else None
        if shots is not None:
            _check_multi_prompt(shots)
        if self.prompt is None and shots is None and not self.has_image:
            raise ValidationError(
                "prompt",
                "is required: describe the video, e.g. prompt='a paper boat in the rain' "
                "(it may be left out only with an image or extra_body={'multi_prompt': [...]})",
            )

    @property
    def has_image(self) -> bool:
        """True when the request carries a start image (``image``, ``images`` or ``input_reference``)."""
        return bool(self.image or self.images or self.input_reference)

    def __repr__(self) -> str:
        parts = []
        for field in attrs.fields(type(self)):
            value = getattr(self, field.name)
            if value is None:
                continue
            parts.append(f"{field.name}={shorten_media(thaw(value))!r}")
        return f"{type(self).__name__}({', '.join(parts)})"

    def to_dict(self) -> dict[str, Any]:
        """The set fields as plain JSON-ready values (media as URL or data-URI strings).

        This is the journal's record of the request; ``from_dict`` rebuilds an equal one.
        """
        out: dict[str, Any] = {}
        for field in attrs.fields(type(self)):
            value = getattr(self, field.name)
            if value is None:
                continue
            out[field.name] = thaw(value)
        return out

    def fingerprint(self) -> str:
        """A stable sha256 hex digest of the request (for the cache and idempotency keys).

        Equal requests give the same digest in every process, whatever the order their
        ``metadata`` keys were written in; any change (``seed``, ``n``, ...) changes it.
        """
        canonical = json.dumps(
            self.to_dict(), sort_keys=True, separators=(",", ":"), ensure_ascii=True
        )
        return hashlib.sha256(canonical.encode()).hexdigest()

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> VideoRequest:
        """Rebuild a request from ``to_dict()`` output (the journal's record)."""
        return cls(**dict(data))

    def replace(self, **changes: Any) -> VideoRequest:
        """A copy with some fields changed (validated again).

        >>> VideoRequest(model="sora-2", prompt="x").replace(model="veo-3").model
        'veo-3'
        """
        return attrs.evolve(self, **changes)


_FIELD_NAMES: tuple[str, ...] = tuple(f.name for f in attrs.fields(VideoRequest))

_MEDIA_INPUT = "str | os.PathLike | bytes | PIL.Image.Image | None"
_WHOLE_INPUT = "int | float | str | None"
_INPUT_TYPES: dict[str, Any] = {
    "image": _MEDIA_INPUT,
    "images": "list[str | os.PathLike | bytes | PIL.Image.Image] | None",
    "input_reference": _MEDIA_INPUT,
    "last_image": _MEDIA_INPUT,
    "duration": _WHOLE_INPUT,
    "seconds": _WHOLE_INPUT,
    "width": _WHOLE_INPUT,
    "height": _WHOLE_INPUT,
    "fps": _WHOLE_INPUT,
    "seed": _WHOLE_INPUT,
    "n": _WHOLE_INPUT,
    "metadata": "Mapping[str, Any] | None",
    "extra_body": "Mapping[str, Any] | None",
}

# Shift-Tab in Jupyter shows inspect.signature(VideoRequest); give it the real fields
# rather than the catch-all ``**fields`` of the hand-written __init__.
VideoRequest.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
    [
        inspect.Parameter(
            f.name,
            inspect.Parameter.KEYWORD_ONLY,
            default=inspect.Parameter.empty if f.default is attrs.NOTHING else f.default,
            annotation=_INPUT_TYPES.get(f.name, f.type),
        )
        for f in attrs.fields(VideoRequest)
    ]
)
