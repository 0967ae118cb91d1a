"""What a sandbox scene shows, read from the prompt's words and the seed.

A few word families pick the palette (night, warm, cold, water, green), the ground (hills,
mountains, a skyline, the sea) and the things that move (a balloon, a boat, birds, a car,
rain, snow, stars). Words it does not know still shape the scene: their hash picks a hue
and a glowing orb, so every prompt gets its own picture. The seed moves things around
(positions, phases, how many), never the kind of scene: two seeds of one prompt look like
two takes of the same shot.
"""

from __future__ import annotations

import colorsys
import hashlib
import re

import attrs

__all__ = ["Recipe", "recipe_for"]

RGB = tuple[int, int, int]

# word family -> (sky top, sky bottom, ground) colours
_PALETTES: dict[str, tuple[RGB, RGB, RGB]] = {
    "night": ((8, 12, 40), (52, 40, 96), (18, 22, 38)),
    "warm": ((250, 120, 70), (255, 208, 120), (92, 52, 44)),
    "cold": ((120, 170, 220), (226, 238, 250), (236, 242, 250)),
    "water": ((70, 140, 210), (178, 220, 242), (28, 92, 150)),
    "green": ((110, 180, 230), (206, 236, 220), (56, 128, 62)),
}
_PALETTE_WORDS: dict[str, tuple[str, ...]] = {
    "night": ("night", "moon", "space", "star", "galaxy", "neon", "dark", "midnight"),
    "warm": ("sunset", "golden", "dusk", "dawn", "fire", "autumn", "desert", "sun"),
    "cold": ("snow", "snowy", "winter", "ice", "frozen", "arctic", "glacier"),
    "water": ("sea", "ocean", "boat", "water", "river", "lake", "rain", "rainy", "beach"),
    "green": ("forest", "tree", "garden", "grass", "jungle", "meadow", "field", "park"),
}
_GROUND_WORDS: dict[str, tuple[str, ...]] = {
    "mountains": ("mountain", "mountains", "peak", "snowy", "alps", "cliff", "volcano"),
    "skyline": ("city", "street", "town", "building", "skyline", "neon", "road"),
    "sea": ("sea", "ocean", "boat", "ship", "lake", "river", "beach", "wave", "waves"),
}
_THING_WORDS: dict[str, tuple[str, ...]] = {
    "balloon": ("balloon", "balloons", "kite", "airship"),
    "boat": ("boat", "ship", "sail", "sailboat", "canoe", "raft"),
    "birds": ("bird", "birds", "gull", "seagull", "crow", "flock", "dragon", "eagle"),
    "car": ("car", "cars", "bus", "truck", "train", "taxi", "bike", "bicycle"),
}
_PARTICLE_WORDS: dict[str, tuple[str, ...]] = {
    "rain": ("rain", "rainy", "storm", "drizzle"),
    "snow": ("snow", "snowy", "snowfall", "blizzard", "winter"),
    "stars": ("night", "star", "stars", "space", "galaxy", "midnight"),
    "fireflies": ("firefly", "fireflies", "sparks", "magic", "glowing", "lantern"),
}
_FAST_WORDS = ("fast", "racing", "running", "rushing", "speeding", "storm", "chase", "flying")
_SLOW_WORDS = ("slow", "slowly", "calm", "drifting", "gentle", "floating", "still", "quiet")


@attrs.define(frozen=True)
class Recipe:
    """The scene one prompt and seed make: colours, ground, things and their motion."""

    sky_top: RGB
    sky_bottom: RGB
    ground_rgb: RGB
    accent: RGB
    ground: str  # "hills", "mountains", "skyline" or "sea"
    things: tuple[str, ...]  # "balloon", "boat", "birds", "car", "orb"
    particles: tuple[str, ...]  # "rain", "snow", "stars", "fireflies"
    celestial: str  # "sun", "moon" or ""
    speed: float  # 0.5 (calm) .. 1.8 (fast)
    seed: int  # drives positions and phases


def _words(prompt: str) -> list[str]:
    return re.findall(r"[a-z]+", prompt.lower())


def _first_family(words: list[str], families: dict[str, tuple[str, ...]]) -> str | None:
    for word in words:
        for family, members in families.items():
            if word in members:
                return family
    return None


def _strongest_family(words: list[str], families: dict[str, tuple[str, ...]]) -> str | None:
    """The first family (in the dict's order of precedence) that any word belongs to."""
    present = set(words)
    return next((f for f, members in families.items() if present.intersection(members)), None)


def _hashed_palette(digest: bytes) -> tuple[RGB, RGB, RGB]:
    hue = digest[0] / 255.0

    def rgb(h: float, s: float, v: float) -> RGB:
        r, g, b = colorsys.hsv_to_rgb(h % 1.0, s, v)
        return int(r * 255), int(g * 255), int(b * 255)

    return rgb(hue, 0.55, 0.75), rgb(hue + 0.08, 0.25, 0.97), rgb(hue + 0.45, 0.5, 0.45)


def _accent(digest: bytes) -> RGB:
    r, g, b = colorsys.hsv_to_rgb(digest[5] / 255.0, 0.8, 0.98)
    return int(r * 255), int(g * 255), int(b * 255)


def _speed(words: list[str]) -> float:
    fast = sum(w in _FAST_WORDS for w in words)
    slow = sum(w in _SLOW_WORDS for w in words)
    return max(0.5, min(1.8, 1.0 + 0.5 * fast - 0.3 * slow))


def recipe_for(prompt: str, seed: int | None) -> Recipe:
    """The scene for ``prompt`` and ``seed`` (None counts as 0); depends on nothing else."""
    words = _words(prompt)
    digest = hashlib.sha256(prompt.strip().lower().encode("utf-8", "surrogatepass")).digest()
    # the light (night, sunset, winter) outranks the place (sea, forest)
    family = _strongest_family(words, _PALETTE_WORDS)
    sky_top, sky_bottom, ground_rgb = _PALETTES[family] if family else _hashed_palette(digest)
    ground = _first_family(words, _GROUND_WORDS) or ("hills", "hills", "mountains")[digest[1] % 3]
    if ground == "sea" and family != "water":  # water under any light: blue, tinted by the sky
        water = _PALETTES["water"][2]
        r, g, b = (int(w * 0.7 + s * 0.3) for w, s in zip(water, sky_bottom, strict=True))
        ground_rgb = (r, g, b)
    things = tuple(dict.fromkeys(t for w in words for t, m in _THING_WORDS.items() if w in m))
    if not things:  # an unknown subject: a glowing orb in the prompt's own colour
        things = ("orb",)
    particles = tuple(dict.fromkeys(p for w in words for p, m in _PARTICLE_WORDS.items() if w in m))
    celestial = "moon" if family == "night" else ("sun" if family != "cold" else "")
    seed_value = (seed or 0) * 1_000_003 + int.from_bytes(digest[8:12], "big")
    return Recipe(
        sky_top=sky_top,
        sky_bottom=sky_bottom,
        ground_rgb=ground_rgb,
        accent=_accent(digest),
        ground=ground,
        things=things[:3],
        particles=particles[:2],
        celestial=celestial,
        speed=_speed(words),
        seed=seed_value % (2**32),
    )
