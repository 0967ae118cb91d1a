"""Known video models and their documented limits, for warnings and poll pacing.

The catalog never blocks a request: gateways add models and lift limits faster than any
table can follow, so :func:`check_request` only returns warnings (``"sora-2 accepts
seconds 4, 8 or 12; 5 may be rejected"``), and a model that is not listed is sent as is.
A limit left ``None`` means "not documented", never "not allowed".

Sources: the gateway docs in ``seeds/`` (model names, Kling v3 limits from uniall),
``GATEWAYS.md`` (Sora's seconds and sizes), and the vendors' public API references
(Kling v1/v2 durations 5/10 s and ratios, Veo 3.x 4/6/8 s with audio, Runway Gen-3 5/10 s).
``typical_seconds`` is a rough generation time that paces polls until the journal has
measured the real one.

>>> get_model("sora-2").durations
(4, 8, 12)
"""

from __future__ import annotations

import contextvars
import re
import threading
import warnings
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import attrs

from ..core import geometry

if TYPE_CHECKING:
    from ..core.request import VideoRequest

__all__ = [
    "QUIRK_DURATION_AS_STRING",
    "QUIRK_SECONDS_AS_STRING",
    "QUIRK_USES_SECONDS",
    "CatalogWarning",
    "ModelInfo",
    "check_request",
    "get_model",
    "known_models",
    "register_model",
    "warn_request",
]

#: ``seconds`` must go on the wire as a JSON string ("8"): new-api and OpenAI answer 400 to a number.
QUIRK_SECONDS_AS_STRING = "seconds-as-string"
#: The model's own length field is OpenAI-style ``seconds`` rather than ``duration``.
QUIRK_USES_SECONDS = "uses-seconds"
#: The vendor documents ``duration`` as a numeric string ("5") rather than a number.
QUIRK_DURATION_AS_STRING = "duration-as-string"

_KNOWN_QUIRKS = frozenset({QUIRK_DURATION_AS_STRING, QUIRK_SECONDS_AS_STRING, QUIRK_USES_SECONDS})
_DIALECTS = (None, "unified", "openai", "kling")


class CatalogWarning(UserWarning):
    """A request asks a known model for something its documentation does not allow."""


def _durations(value: Any) -> tuple[int, ...] | range | None:
    if value is None or isinstance(value, range):
        return value
    return tuple(sorted(int(v) for v in value))


def _strings(value: Iterable[str] | None) -> tuple[str, ...] | None:
    return None if value is None else tuple(value)


def _quirk_set(value: Iterable[str]) -> frozenset[str]:
    return frozenset(value)


def _check_quirks(instance: Any, attribute: Any, value: frozenset[str]) -> None:
    unknown = value - _KNOWN_QUIRKS
    if unknown:
        raise ValueError(f"unknown quirks {sorted(unknown)}; known: {sorted(_KNOWN_QUIRKS)}")


@attrs.define(frozen=True, kw_only=True)
class ModelInfo:
    """What is documented about one model; ``None`` means "not documented".

    ``durations`` is a tuple of allowed seconds or a ``range`` (``range(3, 16)`` is 3-15 s);
    ``dialect`` is the wire dialect that serves the model best when a gateway offers a
    choice; ``quirks`` holds ``QUIRK_*`` constants for the dialects to honour.

    >>> get_model("kling-v3-pro-audio").allows_duration(15)
    True
    """

    name: str
    vendor: str
    durations: tuple[int, ...] | range | None = attrs.field(default=None, converter=_durations)
    sizes: tuple[str, ...] | None = attrs.field(default=None, converter=_strings)
    aspect_ratios: tuple[str, ...] | None = attrs.field(default=None, converter=_strings)
    image_to_video: bool | None = None
    last_frame: bool | None = None
    multi_prompt: bool | None = None
    audio: bool | None = None
    #: rough seconds a generation takes, for the poll scheduler before real measurements exist
    typical_seconds: float | None = None
    dialect: str | None = attrs.field(default=None, validator=attrs.validators.in_(_DIALECTS))
    quirks: frozenset[str] = attrs.field(
        default=frozenset(), converter=_quirk_set, validator=_check_quirks
    )
    notes: str = ""

    def allows_duration(self, seconds: int) -> bool | None:
        """True/False when the allowed lengths are documented, None when they are not."""
        if self.durations is None:
            return None
        return seconds in self.durations

    def has_quirk(self, quirk: str) -> bool:
        """True when ``quirk`` (a ``QUIRK_*`` constant) applies to this model."""
        return quirk in self.quirks

    def describe_durations(self) -> str | None:
        """The allowed lengths in words: ``"4, 8 or 12"``, ``"3 to 15"``; None if undocumented."""
        if self.durations is None:
            return None
        if (
            isinstance(self.durations, range)
            and self.durations.step == 1
            and len(self.durations) > 2
        ):
            return f"{self.durations.start} to {self.durations.stop - 1}"
        return _or_list([str(d) for d in self.durations])


_KLING_RATIOS = ("16:9", "9:16", "1:1")
_VEO_RATIOS = ("16:9", "9:16")
_SORA_SIZES = ("720x1280", "1280x720")


def _builtin_models() -> list[ModelInfo]:
    models = [
        ModelInfo(
            name="kling-v1",
            vendor="kling",
            durations=(5, 10),
            aspect_ratios=_KLING_RATIOS,
            image_to_video=True,
            audio=False,
            typical_seconds=240,
            dialect="unified",
        ),
        ModelInfo(
            name="kling-v2-1-master",
            vendor="kling",
            durations=(5, 10),
            aspect_ratios=_KLING_RATIOS,
            image_to_video=True,
            audio=False,
            typical_seconds=300,
            dialect="unified",
            notes="Kling flagship Master: highest quality, slowest",
        ),
        ModelInfo(
            name="kling-v2-5-turbo",
            vendor="kling",
            durations=(5, 10),
            aspect_ratios=_KLING_RATIOS,
            image_to_video=True,
            audio=False,
            typical_seconds=120,
            dialect="unified",
            notes="Kling Turbo: balanced speed and quality",
        ),
    ]
    for tier in ("std", "pro"):
        for sound in ("silent", "audio"):
            models.append(
                ModelInfo(
                    name=f"kling-v3-{tier}-{sound}",
                    vendor="kling",
                    durations=range(3, 16),
                    aspect_ratios=_KLING_RATIOS,
                    image_to_video=True,
                    last_frame=True,
                    multi_prompt=True,
                    audio=sound == "audio",
                    typical_seconds=180 if tier == "std" else 300,
                    dialect="kling",
                    # uniall's table types duration as a string but its examples send
                    # numbers, so no duration-as-string quirk: numbers work.
                    notes="uniall style: aspect_ratio, last_image, extra_body (cfg_scale, "
                    "shot_type, negative_prompt, multi_prompt)",
                )
            )
    for name, typical, last_frame in (
        ("veo_3_1", 150, True),
        ("veo_3_1-fast", 75, True),
        ("veo-3", 150, None),
    ):
        models.append(
            ModelInfo(
                name=name,
                vendor="google",
                durations=(4, 6, 8),
                aspect_ratios=_VEO_RATIOS,
                image_to_video=True,
                last_frame=last_frame,
                audio=True,
                typical_seconds=typical,
                dialect="unified",
            )
        )
    for name, sizes, typical in (
        ("sora-2", _SORA_SIZES, 150),
        ("sora-2-pro", (*_SORA_SIZES, "1024x1792", "1792x1024"), 400),
    ):
        models.append(
            ModelInfo(
                name=name,
                vendor="openai",
                durations=(4, 8, 12),
                sizes=sizes,
                image_to_video=True,
                audio=True,
                typical_seconds=typical,
                dialect="openai",
                quirks={QUIRK_SECONDS_AS_STRING, QUIRK_USES_SECONDS},
                notes="image via input_reference; seconds as a string",
            )
        )
    models.append(
        ModelInfo(
            name="gen-3-alpha",
            vendor="runway",
            durations=(5, 10),
            image_to_video=True,
            audio=False,
            typical_seconds=90,
            dialect="unified",
        )
    )
    return models


_lock = threading.Lock()
_catalog: dict[str, ModelInfo] = {info.name: info for info in _builtin_models()}
_warned_unknown: set[str] = set()
#: True where the request's warnings are shown another way (a live table row): then
#: ``warn_request`` stays silent. An asyncio task copies it, so one run's rows set it alone.
WARNINGS_SHOWN_ELSEWHERE: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "videogen_warnings_shown_elsewhere", default=False
)


def get_model(name: str) -> ModelInfo | None:
    """The catalog entry for ``name`` (exact, then case-insensitive), or None if unknown.

    >>> get_model("veo_3_1-fast").audio
    True
    >>> get_model("my-private-model") is None
    True
    """
    if not isinstance(name, str):
        return None
    with _lock:
        info = _catalog.get(name)
        if info is None:
            wanted = name.strip().lower()
            info = next((i for n, i in _catalog.items() if n.lower() == wanted), None)
        if info is None and "/" in name:
            # OpenRouter names models by provider ("google/veo-3.1"): the part after the
            # slash is the catalog's model when it matches but for its separators (veo_3_1).
            loose = _loose_name(name.rpartition("/")[2])
            info = next((i for n, i in _catalog.items() if _loose_name(n) == loose), None)
    return info


def _loose_name(name: str) -> str:
    """``name`` without case or the separators vendors spell differently (``-``, ``_``, ``.``)."""
    return re.sub(r"[\s._-]+", "", name.lower())


def known_models() -> list[str]:
    """The names of every model in the catalog, sorted."""
    with _lock:
        return sorted(_catalog)


def register_model(info: ModelInfo, *, replace: bool = False) -> None:
    """Add a model (or, with ``replace=True``, override a built-in entry) for this process."""
    if not isinstance(info, ModelInfo):
        raise TypeError(f"expected a ModelInfo, got {type(info).__name__}")
    with _lock:
        if info.name in _catalog and not replace:
            raise ValueError(f"{info.name!r} is already in the catalog; pass replace=True")
        _catalog[info.name] = info
        _warned_unknown.discard(info.name)


def check_request(req: VideoRequest) -> list[str]:
    """Human-readable warnings about ``req`` for its model; empty when nothing stands out.

    Never raises for a valid request and never changes it: a model outside the catalog
    gets the single warning that it is sent as is.

    >>> from videogen_nb.core.request import VideoRequest
    >>> check_request(VideoRequest(model="sora-2", prompt="a paper boat", seconds=5))
    ['sora-2 accepts seconds 4, 8 or 12; 5 may be rejected']
    """
    out = _generic_warnings(req)
    info = get_model(req.model)
    if info is None:
        return [_unknown_message(req.model), *out]
    name = info.name

    lengths = [req.seconds, req.duration]
    for value in dict.fromkeys(int(v) for v in lengths if v is not None):
        if info.allows_duration(value) is False:
            out.append(
                f"{name} accepts seconds {info.describe_durations()}; {value} may be rejected"
            )

    sizes = [req.size] if req.size else []
    if req.width is not None and req.height is not None:
        sizes.append(f"{req.width}x{req.height}")
    for size in dict.fromkeys(sizes):
        out.extend(_size_warnings(info, size))

    if req.aspect_ratio and info.aspect_ratios and req.aspect_ratio not in info.aspect_ratios:
        out.append(
            f"{name} accepts aspect_ratio {_or_list(info.aspect_ratios)}; "
            f"{req.aspect_ratio} may be rejected"
        )
    if req.has_image and info.image_to_video is False:
        out.append(f"{name} is text-to-video only; the image may be ignored or rejected")
    if req.last_image and info.last_frame is False:
        out.append(f"{name} does not take a last frame; last_image may be ignored or rejected")
    shots = req.extra_body.get("multi_prompt") if req.extra_body else None
    if shots is not None and info.multi_prompt is False:
        out.append(f"{name} does not take multi_prompt; only one shot may be generated")
    return out


def warn_request(req: VideoRequest, *, stacklevel: int = 2) -> list[str]:
    """Emit :func:`check_request`'s warnings as :class:`CatalogWarning` and return them.

    The "not in the catalog" warning is emitted once per model name per process, since a
    private model used all day should not warn on every request. ``stacklevel`` works as in
    :func:`warnings.warn` counted from the caller: 2 points at the line that called
    ``warn_request``; a library wrapper passes 3 to point at its own caller.
    """
    emitted: list[str] = []
    if WARNINGS_SHOWN_ELSEWHERE.get():
        return emitted
    unknown = _unknown_message(req.model)
    for message in check_request(req):
        if message == unknown:
            with _lock:
                if req.model in _warned_unknown:
                    continue
                _warned_unknown.add(req.model)
        warnings.warn(message, CatalogWarning, stacklevel=stacklevel)
        emitted.append(message)
    return emitted


def _generic_warnings(req: VideoRequest) -> list[str]:
    out = []
    if req.last_image and not req.has_image:
        out.append("last_image is set without a first frame; most models also need image=...")
    if req.seconds is not None and req.duration is not None and int(req.seconds) != req.duration:
        out.append(
            f"both duration={req.duration} and seconds={req.seconds!r} are set; gateways "
            "differ in which one wins, so set only one"
        )
    return out


def _size_warnings(info: ModelInfo, size: str) -> list[str]:
    pixels = geometry.split_size(size)
    if pixels and info.sizes:
        if size not in info.sizes:
            return [f"{info.name} accepts size {_or_list(info.sizes)}; {size} may be rejected"]
        return []
    if info.aspect_ratios:
        shape = _shape(size)
        # Within 2%: 854x480 is a 16:9 frame even though it does not reduce to 16:9 exactly.
        if shape is not None and not any(
            geometry.shapes_match(shape, allowed)
            for allowed in filter(None, map(_shape, info.aspect_ratios))
        ):
            return [
                f"{info.name} accepts aspect ratios {_or_list(info.aspect_ratios)}; "
                f"size {size} may be rejected"
            ]
    return []


def _shape(size: str) -> float | None:
    return geometry.shape_of(size)


def _unknown_message(model: str) -> str:
    return f"{model!r} is not in the catalog; sent as is"


def _or_list(items: Iterable[str]) -> str:
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} or {items[-1]}"
