"""Each sandbox model's look: the same scene, graded and framed its own way.

A grid of sandbox videos should feel like comparing models: the same prompt, five takes
that differ in character. The model family picks the look (kling: warm film with a
vignette and gate weave; veo: letterboxed teal-and-orange cinema; sora: soft pastel dream;
runway: flat poster colours; the others: chunky pixels), unknown names get one by hash;
within a family each model adds a faint tint of its own (turbo/fast ones move livelier,
pro/master ones look crisper).
A blind render uses ``NEUTRAL`` for every model, so its frames tell no model apart.
"""

from __future__ import annotations

import hashlib
from typing import Any

import attrs

__all__ = ["LOOKS", "NEUTRAL", "Look", "look_for"]


@attrs.define(frozen=True)
class Look:
    """How a model grades and frames a scene."""

    name: str
    #: per-channel gain and lift applied to every colour (a simple grade)
    gain: tuple[float, float, float] = (1.0, 1.0, 1.0)
    lift: tuple[float, float, float] = (0.0, 0.0, 0.0)
    contrast: float = 1.0
    saturation: float = 1.0
    vignette: float = 0.0  # 0 none .. 1 strong darkening at the corners
    letterbox: float = 0.0  # fraction of the height covered by each black bar
    weave: int = 0  # pixels of vertical gate weave
    blur: float = 0.0  # background softness (Gaussian radius, in % of height)
    posterize: int = 0  # colour levels per channel (0: off)
    pixel: int = 0  # block size in % of height (0: off)
    speed: float = 1.0  # how fast the model animates the same scene


NEUTRAL = Look("neutral")

LOOKS: dict[str, Look] = {
    "film": Look(
        "film",
        gain=(1.08, 0.98, 0.82),
        lift=(14, 8, 0),
        contrast=0.95,
        saturation=0.8,
        vignette=0.7,
        weave=1,
        speed=0.9,
    ),
    "cinema": Look(
        "cinema",
        gain=(1.06, 0.98, 0.92),
        lift=(0, 6, 14),
        contrast=1.25,
        saturation=1.15,
        letterbox=0.11,
        speed=1.0,
    ),
    "dream": Look(
        "dream",
        gain=(0.9, 0.92, 0.95),
        lift=(40, 34, 46),
        contrast=0.8,
        saturation=0.7,
        blur=1.2,
        speed=0.75,
    ),
    "poster": Look("poster", contrast=1.1, saturation=1.35, posterize=4, speed=1.15),
    "pixel": Look("pixel", saturation=1.2, pixel=3, speed=1.2),
}

_FAMILIES = {
    "kling": "film",
    "veo": "cinema",
    "sora": "dream",
    "runway": "poster",
    "gen": "poster",
    "wan": "pixel",
    "hailuo": "pixel",
    "minimax": "pixel",
}


def look_for(model: str, *, marks: bool = True) -> Look:
    """The look of ``model``; ``NEUTRAL`` for a blind render (``marks=False``)."""
    if not marks:
        return NEUTRAL
    name = model.lower()
    family = next((look for prefix, look in _FAMILIES.items() if name.startswith(prefix)), None)
    digest = hashlib.sha256(name.encode()).digest()
    if family is None:
        family = sorted(LOOKS)[digest[0] % len(LOOKS)]
    return _variant(LOOKS[family], name, digest)


def _variant(look: Look, name: str, digest: bytes) -> Look:
    """``look`` as one model of the family renders it: a faint tint of its own, livelier
    for turbo/fast models, crisper for pro/master ones."""
    tint = tuple(g * (0.95 + 0.1 * b / 255) for g, b in zip(look.gain, digest[1:4], strict=True))
    speed, contrast, saturation = look.speed, look.contrast, look.saturation
    if "turbo" in name or "fast" in name:
        speed *= 1.35
    if "pro" in name or "master" in name:
        contrast, saturation = contrast * 1.1, saturation * 1.12
    return attrs.evolve(
        look,
        gain=(tint[0], tint[1], tint[2]),
        speed=speed,
        contrast=contrast,
        saturation=saturation,
    )


def grade(array: Any, look: Look) -> Any:
    """``array`` (uint8 RGB, any shape ending in 3) graded by ``look``; a new uint8 array."""
    import numpy as np

    if look == NEUTRAL:
        return array.copy()
    rgb = array.astype(np.float32)
    grey = rgb.mean(axis=-1, keepdims=True)
    rgb = grey + (rgb - grey) * look.saturation
    rgb = (rgb - 128.0) * look.contrast + 128.0
    rgb = rgb * np.asarray(look.gain, np.float32) + np.asarray(look.lift, np.float32)
    if look.posterize:
        step = 255.0 / (look.posterize - 1)
        rgb = np.round(rgb / step) * step
    return np.clip(rgb, 0, 255).astype(np.uint8)


def vignette_gain(height: int, width: int, strength: float) -> Any:
    """A (height, width, 1) float32 factor: 1 in the middle, darker towards the corners."""
    import numpy as np

    y = np.linspace(-1.0, 1.0, height, dtype=np.float32)[:, None]
    x = np.linspace(-1.0, 1.0, width, dtype=np.float32)[None, :]
    r2 = (x * x + y * y) / 2.0
    return (1.0 - strength * r2**1.5)[..., None]
