"""Compare a video with what its request asked for: ``check_video(path, request) -> SpecReport``.

What is compared, and how loosely:

- length: ``seconds`` (when set, as gateways let it win) or ``duration``, within 0.5 s or
  10 %, whichever is larger;
- frame size: ``size="WxH"`` or ``width``/``height``, each side within 2 % or 8 px (codecs pad
  to multiples of 8/16 px); a ratio (``size="16:9"`` or ``aspect_ratio``) within 2 %, so
  1280x720 and 854x480 are both 16:9 while 720x1280 is not;
- frame rate: ``fps`` within 1 % or 0.1 fps (29.97 is 30);
- sound: a model named ``...-audio`` must deliver an audio track, a ``...-silent`` one must
  not;
- integrity: the file must open and decode to its last frame.

Each mismatch becomes one plain-language finding (``"asked 10 s, got 5.0 s"``, ``"asked 16:9,
got 1:1 (720x720)"``); a report with no findings is ``ok``.

>>> report = check_video("clip.mp4", VideoRequest(model="kling-v1", prompt="x", duration=10))  # doctest: +SKIP
>>> report.findings                                   # doctest: +SKIP
('asked 10 s, got 5.0 s',)
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from ..core import geometry
from ..core.request import VideoRequest
from .probe import MEASURED_KEYS, probe_video

__all__ = [
    "DeliveryCheck",
    "SpecReport",
    "check_delivery",
    "check_video",
    "compare_spec",
    "expected_spec",
    "requested_seconds",
]

_DURATION_TOLERANCE_S = 0.5
_DURATION_TOLERANCE_REL = 0.10
_SIDE_TOLERANCE_PX = 8
_SIDE_TOLERANCE_REL = 0.02
_RATIO_TOLERANCE_REL = 0.02
_FPS_TOLERANCE = 0.1
_FPS_TOLERANCE_REL = 0.01


def _findings(value: Iterable[Any]) -> tuple[str, ...]:
    return tuple(str(f) for f in value)


def _measured(value: Any) -> dict[str, Any]:
    out: dict[str, Any] = dict.fromkeys(MEASURED_KEYS)
    out.update(dict(value or {}))
    return out


@attrs.define(frozen=True, kw_only=True)
class SpecReport:
    """The measured properties of one video and how they differ from the request.

    ``measured`` has the keys of ``probe.MEASURED_KEYS`` (duration, width, height, fps,
    frames, codec, has_audio, size_bytes, decodes_fully, error); ``expected`` what the
    request asked (only what it asked: duration, width/height, aspect, fps, audio);
    ``findings`` one sentence per mismatch. ``to_dict()`` is what the journal stores and
    ``from_dict()`` reads it back.
    """

    measured: dict[str, Any] = attrs.field(factory=dict, converter=_measured)
    expected: dict[str, Any] = attrs.field(factory=dict, converter=dict)
    findings: tuple[str, ...] = attrs.field(default=(), converter=_findings)

    @property
    def ok(self) -> bool:
        """True when the video matches the request and decodes to the end."""
        return not self.findings

    @property
    def summary(self) -> str:
        """One line for captions and tables: ``"spec ok"`` or the findings joined by ``"; "``."""
        return "spec ok" if self.ok else "; ".join(self.findings)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``{"measured", "expected", "findings", "ok"}``."""
        return {
            "measured": dict(self.measured),
            "expected": dict(self.expected),
            "findings": list(self.findings),
            "ok": self.ok,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SpecReport:
        """Rebuild a report from ``to_dict()`` output (missing parts read as empty)."""
        return cls(
            measured=data.get("measured") or {},
            expected=data.get("expected") or {},
            findings=data.get("findings") or (),
        )

    def __repr__(self) -> str:
        m = self.measured
        bits = []
        if m.get("width") and m.get("height"):
            bits.append(f"{m['width']}x{m['height']}")
        if m.get("duration") is not None:
            bits.append(f"{m['duration']:.2f}s")
        if m.get("fps") is not None:
            bits.append(f"{_num(m['fps'])}fps")
        state = "ok" if self.ok else f"findings={list(self.findings)!r}"
        return f"SpecReport({', '.join([*bits, state])})"


def _field(request: VideoRequest | Mapping[str, Any], name: str) -> Any:
    if isinstance(request, Mapping):
        return request.get(name)
    return getattr(request, name, None)


def _int_or_none(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return int(number) if math.isfinite(number) and number > 0 else None


def _model_sound(model: str) -> bool | None:
    """True for ``...-audio`` model names, False for ``...-silent``, else None (unknown)."""
    parts = set(re.split(r"[-_.\s]+", model.lower()))
    if "audio" in parts:
        return True
    if "silent" in parts:
        return False
    return None


def expected_spec(request: VideoRequest | Mapping[str, Any]) -> dict[str, Any]:
    """What ``request`` (a ``VideoRequest`` or its ``to_dict()``) asked of the video.

    Keys appear only when asked: ``duration`` (seconds), ``width``/``height`` (pixels),
    ``aspect`` (``"16:9"``), ``fps``, ``audio`` (from an ``-audio``/``-silent`` model name).
    """
    out: dict[str, Any] = {}
    seconds = _int_or_none(_field(request, "seconds"))
    duration = seconds if seconds is not None else _int_or_none(_field(request, "duration"))
    if duration is not None:
        out["duration"] = duration
    size = _field(request, "size")
    width = _int_or_none(_field(request, "width"))
    height = _int_or_none(_field(request, "height"))
    if isinstance(size, str):
        pixels = geometry.split_size(size)
        ratio = geometry.ratio_text(size)
        if pixels:
            width = width or pixels[0]
            height = height or pixels[1]
        elif ratio:
            out["aspect"] = ratio
    if width is not None:
        out["width"] = width
    if height is not None:
        out["height"] = height
    aspect = _field(request, "aspect_ratio")
    ratio = geometry.ratio_text(aspect)
    if ratio:
        # an explicit aspect_ratio wins over a ratio given as size: it is the gateway's field
        out["aspect"] = ratio
    fps = _int_or_none(_field(request, "fps"))
    if fps is not None:
        out["fps"] = fps
    model = _field(request, "model")
    sound = _model_sound(model) if isinstance(model, str) else None
    if sound is not None:
        out["audio"] = sound
    return out


def _num(value: float) -> str:
    """``12`` for 12.0, ``23.976`` for 23.976: no trailing zeros."""
    return f"{value:.3f}".rstrip("0").rstrip(".")


def _orientation(w: float, h: float) -> str:
    if abs(w / h - 1) <= _RATIO_TOLERANCE_REL:
        return "square"
    return "landscape" if w > h else "portrait"


def _side_differs(asked: int, got: int) -> bool:
    return abs(got - asked) > max(_SIDE_TOLERANCE_PX, _SIDE_TOLERANCE_REL * asked)


def _decode_findings(measured: Mapping[str, Any]) -> list[str]:
    if measured.get("decodes_fully") is not False:
        return []
    why = str(measured.get("error") or "unknown error")
    if why.startswith("cannot open"):
        return [f"unreadable video: {why}"]
    return [f"does not decode to the end: {why}"]


def _duration_findings(measured: Mapping[str, Any], asked: Mapping[str, Any]) -> list[str]:
    duration = measured.get("duration")
    if "duration" not in asked or duration is None:
        return []
    want = asked["duration"]
    if abs(duration - want) > max(_DURATION_TOLERANCE_S, _DURATION_TOLERANCE_REL * want):
        return [f"asked {want} s, got {duration:.1f} s"]
    return []


def _frame_size_findings(w: int, h: int, asked: Mapping[str, Any]) -> list[str]:
    want_w, want_h = asked.get("width"), asked.get("height")
    if want_w and want_h:
        if not (_side_differs(want_w, w) or _side_differs(want_h, h)):
            return []
        text = f"asked {want_w}x{want_h}, got {w}x{h}"
        if _orientation(want_w, want_h) != _orientation(w, h):
            text += f" ({_orientation(w, h)} instead of {_orientation(want_w, want_h)})"
        return [text]
    if want_w and _side_differs(want_w, w):
        return [f"asked width {want_w}, got {w} ({w}x{h})"]
    if want_h and _side_differs(want_h, h):
        return [f"asked height {want_h}, got {h} ({w}x{h})"]
    return []


def _aspect_findings(w: int, h: int, asked: Mapping[str, Any]) -> list[str]:
    if "aspect" not in asked:
        return []
    a, _, b = asked["aspect"].partition(":")
    want_shape = int(a) / int(b)
    if abs((w / h) / want_shape - 1) > _RATIO_TOLERANCE_REL:
        return [f"asked {asked['aspect']}, got {geometry.ratio_name(w, h)} ({w}x{h})"]
    return []


def _fps_findings(measured: Mapping[str, Any], asked: Mapping[str, Any]) -> list[str]:
    fps = measured.get("fps")
    if "fps" not in asked or fps is None:
        return []
    want = asked["fps"]
    if abs(fps - want) > max(_FPS_TOLERANCE, _FPS_TOLERANCE_REL * want):
        return [f"asked {want} fps, got {_num(fps)} fps"]
    return []


def _audio_findings(measured: Mapping[str, Any], asked: Mapping[str, Any]) -> list[str]:
    has_audio = measured.get("has_audio")
    if "audio" not in asked or has_audio is None or has_audio == asked["audio"]:
        return []
    if asked["audio"]:
        return ["asked sound (an -audio model), got no audio track"]
    return ["asked no sound (a -silent model), got an audio track"]


def compare_spec(
    measured: Mapping[str, Any], request: VideoRequest | Mapping[str, Any]
) -> list[str]:
    """The findings for ``measured`` (``probe_video`` output) against ``request``.

    Pure: no file access, so it also re-checks stored measurements. A property that could
    not be measured is not compared (the decode finding already says why).
    """
    asked = expected_spec(request)
    findings = [*_decode_findings(measured), *_duration_findings(measured, asked)]
    w, h = measured.get("width"), measured.get("height")
    if w and h:
        findings += _frame_size_findings(w, h, asked)
        findings += _aspect_findings(w, h, asked)
    findings += _fps_findings(measured, asked)
    findings += _audio_findings(measured, asked)
    return findings


def check_video(
    path: str | os.PathLike[str],
    request: VideoRequest | Mapping[str, Any],
    *,
    decode: bool = True,
) -> SpecReport:
    """Measure the video at ``path`` and compare it with ``request``; blocking (PyAV decodes
    the whole file), so run it in an executor from async code.

    Raises ``ImportError`` with the install command when PyAV is missing (check
    ``spec_check_available()`` first to skip quietly). A file that cannot be opened or is
    cut short gives a report with ``decodes_fully=False`` and a finding, not an exception.
    ``decode=False`` reads every packet without decoding (``probe_video``): what a run does.
    """
    measured = probe_video(path, decode=decode)
    return SpecReport(
        measured=measured,
        expected=expected_spec(request),
        findings=compare_spec(measured, request),
    )


@attrs.define(frozen=True, kw_only=True)
class DeliveryCheck:
    """Seconds of video delivered against the seconds paid for.

    ``billed`` is what the gateway billed when it says (``Cost.billed_seconds``), else the
    seconds the request asked for (``basis`` says which: ``"billed"`` or ``"requested"``).
    ``finding`` is one sentence when they differ by more than the spec check's duration
    tolerance (0.5 s or 10 %), else None.
    """

    delivered: float
    billed: float
    basis: str
    finding: str | None = None

    @property
    def ok(self) -> bool:
        """True when the video is as long as what was paid for (within the tolerance)."""
        return self.finding is None


def check_delivery(
    measured_duration: float | None,
    *,
    billed_seconds: float | None = None,
    requested_seconds: float | None = None,
) -> DeliveryCheck | None:
    """Compare the measured length of a video with the seconds billed (or, when the gateway
    does not say, requested); None when either side is unknown.

    >>> check_delivery(5.0, billed_seconds=10).finding
    'delivered 5.0 s, billed 10 s'
    >>> check_delivery(5.0, requested_seconds=10).finding
    'delivered 5.0 s, asked and paid for 10 s'
    """
    if billed_seconds is not None and billed_seconds > 0:
        billed, basis = float(billed_seconds), "billed"
    elif requested_seconds is not None and requested_seconds > 0:
        billed, basis = float(requested_seconds), "requested"
    else:
        return None
    if measured_duration is None or not math.isfinite(measured_duration):
        return None
    delivered = float(measured_duration)
    finding = None
    if abs(delivered - billed) > max(_DURATION_TOLERANCE_S, _DURATION_TOLERANCE_REL * billed):
        paid = "billed" if basis == "billed" else "asked and paid for"
        finding = f"delivered {delivered:.1f} s, {paid} {_num(billed)} s"
    return DeliveryCheck(delivered=delivered, billed=billed, basis=basis, finding=finding)


def requested_seconds(request: VideoRequest | Mapping[str, Any]) -> float | None:
    """The seconds a request asked for (``seconds`` wins over ``duration``, as gateways let
    it), None when it asked for no length."""
    duration = expected_spec(request).get("duration")
    return float(duration) if duration is not None else None
